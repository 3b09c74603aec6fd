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

/** The output line (without the newline). */
export function formatWindowResult(output: WindowOutput): string {
  // Built field by field so the key order is DESIGN.md's, whatever order the input object has.
  return JSON.stringify({
    key: output.key,
    window: output.window.spec === undefined
      ? { type: output.window.type, start: output.window.start, end: output.window.end }
      : { type: output.window.type, spec: output.window.spec, start: output.window.start, end: output.window.end },
    revision: output.revision,
    ...(output.early === true ? { early: true } : {}),
    event_count: output.eventCount,
    emitted_at: output.emittedAt,
    metrics: output.metrics,
  });
}

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
  return {
    key,
    window: result.result.spec === undefined ? result.window : { ...result.window, spec: result.result.spec },
    revision: result.revision,
    ...(result.early === true ? { early: true as const } : {}),
    eventCount: result.result.eventCount,
    emittedAt,
    metrics: result.result.metrics,
  };
}
