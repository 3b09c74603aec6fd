/**
 * A small declarative validator: each `Spec<T>` checks one node of the parsed
 * YAML, fills in its default when the key is absent and records every problem
 * with its key path. Hand-written rather than a schema library because the
 * messages (key path, value, expectation; env var origin) are the product here
 * and the schema is small.
 */
import { accessSync, constants, statSync } from 'node:fs';
import path from 'node:path';
import type { ConfigIssue } from './errors.js';

/** Returned by a spec whose value was invalid (the issue is already recorded). */
export const INVALID: unique symbol = Symbol('invalid');
export type Invalid = typeof INVALID;

/** What a spec needs besides the value: where to record issues and how to resolve paths. */
export interface ReadContext {
  readonly issues: ConfigIssue[];
  /** Relative filesystem paths are resolved against this directory. */
  readonly cwd: string;
  /** Key path prefix → environment variable that supplied the value there. */
  readonly envOrigins: ReadonlyMap<string, string>;
}

export interface Spec<T> {
  /** `value` is `undefined` when the key is absent: the spec returns its default then. */
  read(value: unknown, at: string, ctx: ReadContext): T | Invalid;
}

type SpecType<S> = S extends Spec<infer T> ? T : never;
type Fields = Readonly<Record<string, Spec<unknown>>>;
type FieldsType<F extends Fields> = { [K in keyof F]: SpecType<F[K]> };

export function report(
  ctx: ReadContext,
  at: string,
  expected: string,
  received: unknown,
  kind: ConfigIssue['kind'] = 'invalid_value',
): Invalid {
  const envVar = originOf(ctx.envOrigins, at);
  const path = at === '' ? '(document root)' : at;
  ctx.issues.push(envVar === undefined ? { path, expected, received, kind } : { path, expected, received, kind, envVar });
  return INVALID;
}

/** The env var that set `at` or one of its parents (a generic override may replace a whole mapping or list). */
function originOf(origins: ReadonlyMap<string, string>, at: string): string | undefined {
  for (let p = at; p !== ''; p = parentOf(p)) {
    const envVar = origins.get(p);
    if (envVar !== undefined) return envVar;
  }
  return undefined;
}

/** `a.b[2]` → `a.b` → `a` → ``. */
function parentOf(at: string): string {
  const cut = Math.max(at.lastIndexOf('.'), at.endsWith(']') ? at.lastIndexOf('[') : -1);
  return cut < 0 ? '' : at.slice(0, cut);
}

/** `a list`, `a string`… for messages that must not show the value itself. */
function kindOf(value: unknown): string {
  if (Array.isArray(value)) return 'a list';
  if (value instanceof Date) return 'a date';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

export function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

interface IntegerOptions {
  readonly min: number;
  readonly max?: number;
  /** Absent: the key is required. */
  readonly default?: number;
}

export function integer(opts: IntegerOptions): Spec<number> {
  const expected =
    opts.max === undefined ? `an integer ≥ ${opts.min}` : `an integer from ${opts.min} to ${opts.max}`;
  return {
    read(value, at, ctx) {
      if (value === undefined) return opts.default ?? report(ctx, at, `${expected} (required)`, value);
      if (typeof value !== 'number' || !Number.isInteger(value)) return report(ctx, at, expected, value);
      if (value < opts.min || (opts.max !== undefined && value > opts.max)) return report(ctx, at, expected, value);
      return value;
    },
  };
}

export function boolean(defaultValue: boolean): Spec<boolean> {
  return {
    read(value, at, ctx) {
      if (value === undefined) return defaultValue;
      return typeof value === 'boolean' ? value : report(ctx, at, 'true or false', value);
    },
  };
}

/**
 * `inner`, with every issue it records stripped of the value it received: for secrets
 * (passwords), which must reach no terminal or log, whatever key they were misspelt under.
 * Issues at the paths in `shown` (e.g. a SASL mechanism) keep their value.
 */
export function secret<T>(inner: Spec<T>, shown: readonly string[] = []): Spec<T> {
  return {
    read(value, at, ctx) {
      const before = ctx.issues.length;
      const read = inner.read(value, at, ctx);
      for (let i = before; i < ctx.issues.length; i++) {
        const issue = ctx.issues[i] as ConfigIssue;
        if (issue.received === undefined || shown.some((key) => issue.path === join(at, key))) continue;
        ctx.issues[i] = { ...issue, expected: `${issue.expected} (value not shown)`, received: undefined };
      }
      return read;
    },
  };
}

interface StringOptions {
  /** Absent for list items, which are never missing. */
  readonly default?: string;
  /** When set, the string must match; `description` then says what the pattern means. */
  readonly pattern?: RegExp;
  readonly description?: string;
}

export function string(opts: StringOptions): Spec<string> {
  const expected = opts.description ?? 'a non-empty string';
  return {
    read(value, at, ctx) {
      if (value === undefined && opts.default !== undefined) return opts.default;
      if (typeof value !== 'string' || value.trim() === '') return report(ctx, at, expected, value);
      if (opts.pattern !== undefined && !opts.pattern.test(value)) return report(ctx, at, expected, value);
      return value;
    },
  };
}

/** A filesystem path; relative paths are resolved against the working directory, not the config file. */
export function filePath(defaultPath: string): Spec<string> {
  const inner = string({ default: defaultPath, description: 'a non-empty file path' });
  return {
    read(value, at, ctx) {
      const raw = inner.read(value, at, ctx);
      return raw === INVALID ? raw : path.resolve(ctx.cwd, raw);
    },
  };
}

export function oneOf<const V extends string>(values: readonly V[], defaultValue: V): Spec<V> {
  const expected = `one of ${values.join(', ')}`;
  return {
    read(value, at, ctx) {
      if (value === undefined) return defaultValue;
      return (values as readonly unknown[]).includes(value) ? (value as V) : report(ctx, at, expected, value);
    },
  };
}

interface ListOptions<T> {
  readonly default: readonly T[];
  readonly minItems: number;
  /** How the items are called in messages, e.g. `topic names`. */
  readonly itemsName: string;
}

/** A list of distinct items; duplicates are reported because they always indicate a mistake here. */
export function list<T>(item: Spec<T>, opts: ListOptions<T>): Spec<readonly T[]> {
  const expected =
    opts.minItems > 0 ? `a list of ${opts.minItems} or more ${opts.itemsName}` : `a list of ${opts.itemsName}`;
  return {
    read(value, at, ctx) {
      if (value === undefined) return opts.default;
      if (!Array.isArray(value) || value.length < opts.minItems) return report(ctx, at, expected, value);
      const out: T[] = [];
      let ok = true;
      value.forEach((element: unknown, i) => {
        const itemAt = `${at}[${i}]`;
        const read = item.read(element ?? null, itemAt, ctx);
        if (read === INVALID) {
          ok = false;
        } else if (out.includes(read)) {
          report(ctx, itemAt, `no duplicate ${opts.itemsName}`, element);
          ok = false;
        } else {
          out.push(read);
        }
      });
      return ok ? out : INVALID;
    },
  };
}

/** A file path (resolved like `filePath`) that must be a readable file when the config is loaded. */
export function readableFile(): Spec<string> {
  const inner = string({ description: 'a non-empty file path' });
  return {
    read(value, at, ctx) {
      const raw = inner.read(value, at, ctx);
      if (raw === INVALID) return raw;
      const resolved = path.resolve(ctx.cwd, raw);
      try {
        accessSync(resolved, constants.R_OK);
        if (!statSync(resolved).isFile()) return report(ctx, at, 'a readable file (this is not a file)', value);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
        return report(ctx, at, `a readable file (${code})`, value);
      }
      return resolved;
    },
  };
}

/** An optional key with no default: absent stays absent. */
export function optional<T>(inner: Spec<T>): Spec<T | undefined> {
  return {
    read(value, at, ctx) {
      return value === undefined ? undefined : inner.read(value, at, ctx);
    },
  };
}

/** A check across the fields of one mapping, run once every field is valid. */
export type MappingCheck<T> = (value: T, at: string, ctx: ReadContext) => void;

/**
 * A mapping with a fixed set of keys. An absent mapping, or an empty YAML key
 * (`kafka:` with everything commented out, which YAML reads as null), takes
 * every field's default.
 */
export function mapping<F extends Fields>(fields: F, check?: MappingCheck<FieldsType<F>>): Spec<FieldsType<F>> {
  return {
    read(value, at, ctx) {
      const source = value ?? {};
      if (!isMapping(source)) {
        const expected = `a mapping with keys ${Object.keys(fields).join(', ')}`;
        // A whole document that is not a mapping is likely not a config at all (a secrets file
        // passed by mistake): name its type, never its content.
        return at === '' ? report(ctx, at, `${expected}; the document is ${kindOf(value)} (content not shown)`, undefined) : report(ctx, at, expected, value);
      }
      let ok = true;
      for (const key of Object.keys(source)) {
        if (!Object.hasOwn(fields, key)) ok = unknownKey(ctx, at, key, source[key], Object.keys(fields));
      }
      const out = readFields(fields, source, at, ctx);
      if (out === INVALID || !ok) return INVALID;
      const before = ctx.issues.length;
      check?.(out, at, ctx);
      return ctx.issues.length === before ? out : INVALID;
    },
  };
}

function readFields<F extends Fields>(
  fields: F,
  source: Record<string, unknown>,
  at: string,
  ctx: ReadContext,
): FieldsType<F> | Invalid {
  let ok = true;
  const out: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(fields)) {
    const read = spec.read(source[key], join(at, key), ctx);
    if (read === INVALID) ok = false;
    else if (read !== undefined) out[key] = read;
  }
  return ok ? (out as FieldsType<F>) : INVALID;
}

/** Records an unknown key, suggesting the closest known one; returns false for `ok` bookkeeping. */
function unknownKey(ctx: ReadContext, at: string, key: string, value: unknown, known: readonly string[]): false {
  const hint = closest(key, known);
  const expected = `one of ${known.join(', ')}${hint === undefined ? '' : ` (did you mean ${hint}?)`}`;
  report(ctx, join(at, key), expected, value, 'unknown_key');
  return false;
}

type Variants = Readonly<Record<string, Fields>>;
type VariantType<Tag extends string, V extends Variants> = {
  [K in keyof V & string]: { [P in Tag]: K } & FieldsType<V[K]>;
}[keyof V & string];

/**
 * A mapping whose `tag` key selects which other keys apply, e.g. `path` only
 * for `type: file`. Keys of another variant are errors rather than silently
 * ignored, so `{ type: kafka, path: … }` does not look like it writes a file.
 */
export function variant<const Tag extends string, V extends Variants>(
  tag: Tag,
  variants: V,
  defaultVariant: keyof V & string,
): Spec<VariantType<Tag, V>> {
  const names = Object.keys(variants);
  const tagSpec = oneOf(names, defaultVariant);
  return {
    read(value, at, ctx) {
      const source = value ?? {};
      if (!isMapping(source)) return report(ctx, at, `a mapping with a ${tag} key (${names.join(', ')})`, value);
      const chosen = tagSpec.read(source[tag], join(at, tag), ctx);
      if (chosen === INVALID) return chosen;
      const fields = variants[chosen] as Fields;
      let ok = true;
      for (const key of Object.keys(source)) {
        if (key === tag || Object.hasOwn(fields, key)) continue;
        const owners = names.filter((name) => Object.hasOwn(variants[name] as Fields, key));
        if (owners.length === 0) {
          ok = unknownKey(ctx, at, key, source[key], [tag, ...Object.keys(fields)]);
        } else {
          report(ctx, join(at, key), `no ${key} with ${tag} ${chosen} (${key} applies to ${tag} ${owners.join(', ')} only)`, source[key]);
          ok = false;
        }
      }
      const rest = readFields(fields, source, at, ctx);
      if (rest === INVALID || !ok) return INVALID;
      return { [tag]: chosen, ...rest } as VariantType<Tag, V>;
    },
  };
}

function join(at: string, key: string): string {
  return at === '' ? key : `${at}.${key}`;
}

/**
 * The known key a misspelt one most likely meant: one is a prefix of the other
 * (`size` → `size_secs`) or they differ by a typo or two (longer keys allow two).
 */
function closest(key: string, known: readonly string[]): string | undefined {
  const prefixed = key.length < 3 ? undefined : known.find((c) => c.startsWith(key) || key.startsWith(c));
  if (prefixed !== undefined) return prefixed;
  let best: string | undefined;
  let bestDistance = key.length >= 6 ? 3 : 2;
  for (const candidate of known) {
    const d = editDistance(key, candidate);
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current[j] = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + cost);
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

interface NumberOptions {
  /** Exclusive lower bound. */
  readonly above: number;
  /** Inclusive upper bound. */
  readonly atMost: number;
}

/** A finite number in the half-open range (above, atMost]; no default (used for list items). */
export function numberIn(opts: NumberOptions): Spec<number> {
  const expected = `a number > ${opts.above} and ≤ ${opts.atMost}`;
  return {
    read(value, at, ctx) {
      if (typeof value !== 'number' || !Number.isFinite(value) || value <= opts.above || value > opts.atMost) {
        return report(ctx, at, expected, value);
      }
      return value;
    },
  };
}
