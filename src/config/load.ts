/** Reading a configuration: YAML text → env overrides → validation → frozen `ProcessorConfig`. */
import { readFile } from 'node:fs/promises';
import { loadAll } from 'js-yaml';
import { ConfigError, describeYamlError, type ConfigIssue } from './errors.js';
import { applyEnvOverrides, type Env } from './env.js';
import { rootSpec } from './schema.js';
import { INVALID } from './spec.js';
import type { ProcessorConfig } from './types.js';

export interface ParseOptions {
  /** Directory that relative paths are resolved against; default `process.cwd()`. */
  readonly cwd?: string;
  /** Named in the first line of a `ConfigError` (the file path when loading a file). */
  readonly origin?: string;
}

/**
 * Validates a configuration given as YAML text or as an already-parsed
 * document (`{ processor: { … } }`), with `env` overrides applied.
 * Throws `ConfigError` listing every problem.
 */
export function parseConfig(
  input: string | Readonly<Record<string, unknown>>,
  env: Env = process.env,
  options: ParseOptions = {},
): ProcessorConfig {
  const issues: ConfigIssue[] = [];
  const document = typeof input === 'string' ? parseYaml(input, issues) : input;
  if (issues.length > 0) throw new ConfigError(issues, options.origin);
  const { document: merged, origins } = applyEnvOverrides(document, env, issues);
  const result = rootSpec.read(merged, '', { issues, cwd: options.cwd ?? process.cwd(), envOrigins: origins });
  if (result === INVALID || issues.length > 0) throw new ConfigError(issues, options.origin);
  return deepFreeze(result.processor);
}

/** Reads and validates the YAML file at `path` (relative paths inside it resolve against the working directory). */
export async function loadConfig(path: string, env: Env = process.env): Promise<ProcessorConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new ConfigError([{ path: '(file)', expected: `a readable YAML file (${reason})`, received: path, kind: 'invalid_value' }], path);
  }
  return parseConfig(text, env, { origin: path });
}

/** An empty file (or one with only comments) means "all defaults"; several documents are a mistake. */
function parseYaml(text: string, issues: ConfigIssue[]): unknown {
  let documents: unknown[];
  try {
    documents = loadAll(text);
  } catch (error) {
    issues.push({ path: '(document)', expected: `valid YAML: ${describeYamlError(error)}`, received: undefined, kind: 'invalid_value' });
    return undefined;
  }
  if (documents.length > 1) {
    issues.push({ path: '(document)', expected: `a single YAML document, found ${documents.length}`, received: undefined, kind: 'invalid_value' });
  }
  return documents[0];
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
