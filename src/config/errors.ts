import { YAMLException } from 'js-yaml';

/**
 * Configuration errors. Validation collects every problem before failing, so an
 * operator fixes a config in one pass instead of one restart per mistake.
 */

/** One problem with one key. */
export interface ConfigIssue {
  /** Dotted key path from the document root, e.g. `processor.windows.sliding.slide_secs`. */
  readonly path: string;
  /** What the key accepts, in words, e.g. `an integer ≥ 1`. */
  readonly expected: string;
  /** The value found; `undefined` when the problem is not about a value (a file that cannot be read). */
  readonly received: unknown;
  /** `unknown_key` when the key itself is not part of the schema. */
  readonly kind: 'invalid_value' | 'unknown_key';
  /** The environment variable the value came from, when it did not come from the file. */
  readonly envVar?: string;
}

/** Thrown by `parseConfig` and `loadConfig`; `message` lists every issue, one per line. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';

  constructor(
    readonly issues: readonly ConfigIssue[],
    /** Where the configuration came from (a file path), for the first line of the message. */
    readonly origin?: string,
  ) {
    super(formatIssues(issues, origin));
  }
}

/**
 * Issues listed in a message. A file that is no config at all (a data or secrets
 * file) can have thousands of unknown keys: the message stays short and does not
 * replay the file's keys; `ConfigError.issues` keeps them all.
 */
const MAX_LISTED_ISSUES = 20;

function formatIssues(issues: readonly ConfigIssue[], origin: string | undefined): string {
  const head = `invalid configuration${origin === undefined ? '' : ` in ${origin}`} (${issues.length} ${issues.length === 1 ? 'problem' : 'problems'}):`;
  const listed = issues.slice(0, MAX_LISTED_ISSUES).map((issue) => `  ${formatIssue(issue)}`);
  const rest = issues.length - listed.length;
  return [head, ...listed, ...(rest > 0 ? [`  … and ${rest} more`] : [])].join('\n');
}

/** `path (from env VAR): expected …, got …` — the one line shown for an issue. */
export function formatIssue(issue: ConfigIssue): string {
  // Key paths come from the file too (unknown keys): cut like values.
  const path = truncate(issue.path);
  const where = issue.envVar === undefined ? path : `${path} (from env ${issue.envVar})`;
  if (issue.kind === 'unknown_key') return `${where}: unknown key, expected ${issue.expected}`;
  const got = issue.received === undefined ? '' : `, got ${formatValue(issue.received)}`;
  return `${where}: expected ${issue.expected}${got}`;
}

const MAX_VALUE_CHARS = 80;

/** Renders a received value compactly; strings are quoted so `"300"` and `300` read differently. */
function formatValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value) && value.length === 0) return '[] (an empty list)';
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return truncate(text);
}

const truncate = (text: string): string => (text.length > MAX_VALUE_CHARS ? `${text.slice(0, MAX_VALUE_CHARS - 1)}…` : text);

/**
 * A YAML syntax error as `reason (line L, column C)`. js-yaml's own message
 * quotes the lines around the error, which must never reach a terminal or a log:
 * `--config /proc/self/environ` would print the environment.
 */
export function describeYamlError(error: unknown): string {
  if (!(error instanceof YAMLException)) return 'unreadable YAML';
  const { reason, mark } = error;
  return mark === undefined ? reason : `${reason} (line ${mark.line + 1}, column ${mark.column + 1})`;
}
