/**
 * Environment overrides of single keys, applied to the parsed YAML before
 * validation so that an env value is checked exactly like a file value (and
 * its errors name the variable).
 *
 * Two forms:
 * - the named variables of `ENV_OVERRIDES` (the ones deployments set);
 * - `PROCESSOR__A__B__C` for any key `processor.a.b.c` (segments lower-cased,
 *   `__` separates segments because key names contain `_`). Its value is read
 *   as YAML, so `PROCESSOR__KAFKA__CONSUMER__TOPICS='[a, b]'` sets a list and
 *   `PROCESSOR__WINDOWS__TUMBLING__SIZE_SECS=600` a number.
 *
 * Other `PROCESSOR_*` names are ignored rather than rejected: Windows itself
 * sets PROCESSOR_ARCHITECTURE, PROCESSOR_IDENTIFIER, PROCESSOR_LEVEL and
 * PROCESSOR_REVISION. An empty value counts as unset (compose files often
 * write `VAR: ${VAR:-}`). Two variables naming the same key are an error.
 */
import { load } from 'js-yaml';
import { describeYamlError, type ConfigIssue } from './errors.js';
import { isMapping } from './spec.js';

/** How a named variable's text becomes a value. */
export type EnvValueKind =
  /** Taken verbatim: paths and ids must not turn into numbers or null (`~`). */
  | 'string'
  /** Read as YAML, so `9464` is a number and `abc` stays a string for the validator to reject. */
  | 'yaml';

export interface EnvOverride {
  readonly name: string;
  /** Key path below `processor`. */
  readonly path: readonly string[];
  readonly kind: EnvValueKind;
}

export const ENV_OVERRIDES: readonly EnvOverride[] = [
  { name: 'PROCESSOR_KAFKA_BROKERS', path: ['kafka', 'consumer', 'bootstrap_servers'], kind: 'string' },
  { name: 'PROCESSOR_GROUP_ID', path: ['kafka', 'consumer', 'group_id'], kind: 'string' },
  { name: 'PROCESSOR_KAFKA_CLIENT_ID', path: ['kafka', 'client_id'], kind: 'string' },
  // Credentials belong in the environment (a secret store), not in the config file.
  { name: 'PROCESSOR_KAFKA_SASL_USERNAME', path: ['kafka', 'sasl', 'username'], kind: 'string' },
  { name: 'PROCESSOR_KAFKA_SASL_PASSWORD', path: ['kafka', 'sasl', 'password'], kind: 'string' },
  { name: 'PROCESSOR_LOG_LEVEL', path: ['log', 'level'], kind: 'string' },
  { name: 'PROCESSOR_METRICS_PORT', path: ['metrics', 'port'], kind: 'yaml' },
  { name: 'PROCESSOR_METRICS_HOST', path: ['metrics', 'host'], kind: 'string' },
  { name: 'PROCESSOR_STATE_PATH', path: ['state', 'path'], kind: 'string' },
  { name: 'PROCESSOR_SOURCE_PATH', path: ['source', 'path'], kind: 'string' },
  { name: 'PROCESSOR_SINK_PATH', path: ['sink', 'path'], kind: 'string' },
  { name: 'PROCESSOR_DEAD_LETTER_PATH', path: ['dead_letter', 'path'], kind: 'string' },
  { name: 'PROCESSOR_CHECKPOINT_INTERVAL_SECS', path: ['checkpoint_interval_secs'], kind: 'yaml' },
  { name: 'PROCESSOR_BUFFER_SIZE', path: ['buffer_size'], kind: 'yaml' },
  { name: 'PROCESSOR_PARALLELISM', path: ['parallelism'], kind: 'yaml' },
];

const GENERIC_PREFIX = 'PROCESSOR__';

export type Env = Readonly<Record<string, string | undefined>>;

interface Applied {
  /** The document with overrides applied (the input is not modified). */
  readonly document: unknown;
  /** Full key path (`processor.metrics.port`) → variable name, for error messages. */
  readonly origins: ReadonlyMap<string, string>;
}

/** Applies every override found in `env` to the parsed YAML document. */
export function applyEnvOverrides(document: unknown, env: Env, issues: ConfigIssue[]): Applied {
  const origins = new Map<string, string>();
  const root = structuredClone(document ?? {});
  for (const { name, path, value } of collect(env, issues)) {
    const key = ['processor', ...path].join('.');
    const previous = origins.get(key);
    if (previous !== undefined) {
      issues.push({ path: key, expected: `one variable per key, but ${previous} also sets it`, received: undefined, kind: 'invalid_value', envVar: name });
      continue;
    }
    origins.set(key, name);
    setIn(root, ['processor', ...path], value);
  }
  return { document: root, origins };
}

function* collect(env: Env, issues: ConfigIssue[]): Generator<{ name: string; path: readonly string[]; value: unknown }> {
  for (const { name, path, kind } of ENV_OVERRIDES) {
    const text = env[name];
    if (text === undefined || text === '') continue;
    const value = kind === 'string' ? text : parseYaml(name, path, text, issues);
    if (value !== undefined) yield { name, path, value };
  }
  // Sorted so that messages (and the which-wins check) do not depend on env order.
  for (const name of Object.keys(env).sort()) {
    const text = env[name];
    if (!name.startsWith(GENERIC_PREFIX) || text === undefined || text === '') continue;
    const path = name.slice(GENERIC_PREFIX.length).toLowerCase().split('__');
    if (path.some((segment) => segment === '')) {
      issues.push({ path: '(environment)', expected: 'PROCESSOR__ followed by key names separated by __', received: text, kind: 'invalid_value', envVar: name });
      continue;
    }
    const value = parseYaml(name, path, text, issues);
    if (value !== undefined) yield { name, path, value };
  }
}

function parseYaml(name: string, path: readonly string[], text: string, issues: ConfigIssue[]): unknown {
  try {
    return load(text);
  } catch (error) {
    issues.push({ path: ['processor', ...path].join('.'), expected: `a YAML value (${describeYamlError(error)})`, received: text, kind: 'invalid_value', envVar: name });
    return undefined;
  }
}

/**
 * Sets `path` in `root`, creating missing mappings. Where the file holds a
 * non-mapping on the way, it is left alone: validation reports that value.
 */
function setIn(root: unknown, path: readonly string[], value: unknown): void {
  let node = root;
  for (const segment of path.slice(0, -1)) {
    if (!isMapping(node)) return;
    if (node[segment] === undefined || node[segment] === null) node[segment] = {};
    node = node[segment];
  }
  if (isMapping(node)) node[path[path.length - 1] as string] = value;
}
