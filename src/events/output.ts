/**
 * The output record (DESIGN.md, "Formats"): one NDJSON line per key, window and
 * revision, with keys in exactly this order:
 * `{"key":{...},"window":{"type","start","end"},"revision","event_count","emitted_at","metrics":{...}}`.
 * With named window specs (`windows.specs`) the window also names its spec, right after its
 * type: `"window":{"type","spec","start","end"}`; without them there is no `spec` key.
 * An early result (`emit.early_interval_secs`) has revision −1 and `"early":true` right after
 * `revision`; the results watermarks fire have no `early` key, exactly as before.
 */
import type { TimeWindow, WindowResult, WindowType } from '@llm-feedback/stream-operators';

/** Metric name → statistic name (`count`, `sum`, `avg`, …, `p99`) → value, in output order. */
export type MetricsOutput = Readonly<Record<string, Readonly<Record<string, number>>>>;

/** Everything an output record holds, independent of how the aggregation produced it. */
export interface WindowOutput {
  readonly key: Readonly<Record<string, string | null>>;
  readonly window: TimeWindow & { readonly type: WindowType; readonly spec?: string };
  readonly revision: number;
  /** A speculative result of a window not yet fired (revision −1). */
  readonly early?: true;
  readonly eventCount: number;
  /** Processing time of the emission, epoch ms. */
  readonly emittedAt: number;
  readonly metrics: MetricsOutput;
}

/** What the aggregation's result must carry for `toWindowOutput`. */
export interface AggregateOutput {
  readonly eventCount: number;
  readonly metrics: MetricsOutput;
  /** The key object (see `keyObject`); may instead be passed to `toWindowOutput`. */
  readonly keyFields?: Readonly<Record<string, string | null>>;
  /** The named window spec the window belongs to. */
  readonly spec?: string;
}

/**
 * `JSON.stringify` of an output's key object and of its metrics, written ahead of its
 * window's firing (see `withKeyFields`'s `prepare`): the costly part of a line.
 */
export interface OutputTexts {
  readonly key: string;
  readonly metrics: string;
}

/**
 * The output line (without the newline), in DESIGN.md's key order whatever order the
 * input object has. The same bytes as `JSON.stringify` of the record as one object
 * (test/events/format-bytes.test.ts checks that over randomised records), but only the
 * key object and the metrics go through `JSON.stringify`; the rest is fixed text and a
 * few numbers, the window bounds and emission time remembered from the line before.
 * Building the record object first, its optional keys spread in, cost ~1 µs per result
 * (bench/firing.ts). What remains is mostly `JSON.stringify` writing the metrics' ~36
 * numbers (~100 ns per non-integer double in V8), which JavaScript code here does not beat;
 * `texts`, when given, are those two texts written ahead (they must be of `output`'s key and
 * metrics), and the line then costs little.
 */
export function formatWindowResult(output: WindowOutput, texts?: OutputTexts): string {
  const { window } = output;
  const spec = window.spec === undefined ? '' : `"spec":${JSON.stringify(window.spec)},`;
  const early = output.early === true ? '"early":true,' : '';
  return (
    `{"key":${texts?.key ?? JSON.stringify(output.key)},"window":{"type":${QUOTED_TYPES[window.type] ?? JSON.stringify(window.type)},${spec}"start":${startText(window.start)},"end":${endText(window.end)}},` +
    `"revision":${jsonNumber(output.revision)},${early}"event_count":${jsonNumber(output.eventCount)},"emitted_at":${emittedAtText(output.emittedAt)},` +
    `"metrics":${texts?.metrics ?? JSON.stringify(output.metrics)}}`
  );
}

/** `JSON.stringify` of a number: its `String` form when finite (−0 gives "0"), else null. */
const jsonNumber = (value: number): string => (Number.isFinite(value) ? String(value) : 'null');

/**
 * `jsonNumber` remembering its last answer. V8 takes ~200 ns to write a time in epoch ms
 * (not a small integer) as text, and the results of one window end share their window's
 * bounds and mostly their millisecond of emission.
 */
function lastNumberText(): (value: number) => string {
  let last = NaN;
  let text = 'null';
  return (value) => {
    // NaN never equals itself, so it is never remembered; −0 and 0 both write "0".
    if (value !== last) {
      last = value;
      text = jsonNumber(value);
    }
    return text;
  };
}

const startText = lastNumberText();
const endText = lastNumberText();
const emittedAtText = lastNumberText();

/** The window types, quoted (`JSON.stringify` is a call per result for a known answer). */
const QUOTED_TYPES: Readonly<Record<WindowType, string>> = { tumbling: '"tumbling"', sliding: '"sliding"', session: '"session"' };

/**
 * Adapts a window operator's `WindowResult` to `WindowOutput`. The key object comes
 * from `key` or else from the result's `keyFields`: the joined string key alone
 * cannot be split back safely (values may contain `|`).
 */
export function toWindowOutput(
  result: WindowResult<AggregateOutput>,
  emittedAt: number,
  key: Readonly<Record<string, string | null>> | undefined = result.result.keyFields,
): WindowOutput {
  if (key === undefined) throw new TypeError(`no key fields for window result of key "${result.key}"`);
  const { eventCount, metrics, spec } = result.result;
  const { type, start, end } = result.window;
  const window = spec === undefined ? result.window : { type, start, end, spec };
  const revision = result.revision;
  // Named fields and two literals rather than spreads: V8 (Node 20) builds a spread
  // followed by more properties in the runtime (~1 µs), and this runs for every result.
  return result.early === true
    ? { key, window, revision, early: true, eventCount, emittedAt, metrics }
    : { key, window, revision, eventCount, emittedAt, metrics };
}
