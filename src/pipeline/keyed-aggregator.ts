import type { Aggregator, MetricsResult } from '@llm-feedback/stream-operators';
import { keyObject } from '../events/key.js';
import type { OutputTexts } from '../events/output.js';

export type KeyFields = Readonly<Record<string, string | null>>;

/** A result of `withKeyFields`: the key object, and the JSON texts of a result prepared ahead. */
export type KeyedResult = MetricsResult & {
  readonly keyFields: KeyFields;
  /** `JSON.stringify` of `keyFields` and of `metrics`, written while the window waited to fire (`prepare`). */
  readonly texts?: OutputTexts;
};

/** An accumulator that also remembers its key's fields, taken from the window's first event. */
export interface KeyedAccumulator<A> {
  keyFields: KeyFields | undefined;
  inner: A;
  /** The result `prepare` computed, until the next `add` or `merge`; never checkpointed. */
  prepared?: KeyedResult | undefined;
}

/**
 * Wraps a metrics aggregator so each result carries the key object of the output record
 * (`{"model":"gpt-4o"}`). The joined string key cannot be split back safely, and
 * one object per window is far cheaper than one per event.
 *
 * `prepare` computes the result and writes its key and metrics as JSON ahead of the
 * window's firing (most of a window end's CPU: `bench/firing.ts`); `result` hands that
 * back while no record came since. `precompute` passes on to the metrics (their values
 * sorted ahead, for windows too busy to prepare).
 */
export function withKeyFields<T extends Readonly<Record<string, unknown>>, A>(
  aggregator: Aggregator<T, A, MetricsResult>,
  keyFields: readonly string[],
): Aggregator<T, KeyedAccumulator<A>, KeyedResult> {
  const compute = (acc: KeyedAccumulator<A>): KeyedResult => {
    // Named fields, not `{ ...result, keyFields }`: V8 (Node 20) builds a spread followed
    // by a new property in the runtime, ~1 µs, more than the rest of the result (bench/firing.ts).
    const { eventCount, metrics } = aggregator.result(acc.inner);
    return { eventCount, metrics, keyFields: acc.keyFields ?? {} };
  };
  return {
    create: () => ({ keyFields: undefined, inner: aggregator.create(), prepared: undefined }),
    add: (acc, value) => {
      acc.keyFields ??= keyObject(value, keyFields);
      acc.inner = aggregator.add(acc.inner, value);
      acc.prepared = undefined;
      return acc;
    },
    merge: (a, b) => {
      a.keyFields ??= b.keyFields;
      a.inner = aggregator.merge(a.inner, b.inner);
      a.prepared = undefined;
      return a;
    },
    result: (acc) => acc.prepared ?? compute(acc),
    prepare: (acc) => {
      if (acc.prepared !== undefined) return;
      const { eventCount, metrics, keyFields: key } = compute(acc);
      acc.prepared = { eventCount, metrics, keyFields: key, texts: { key: JSON.stringify(key), metrics: JSON.stringify(metrics) } };
    },
    precompute: (acc) => aggregator.precompute?.(acc.inner),
  };
}
