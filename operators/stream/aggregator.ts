/**
 * An incremental, mergeable aggregation (Flink's AggregateFunction). The window
 * state keeps one accumulator per (key, window) and never buffers raw records.
 * `add` and `merge` may mutate their first argument and return it: that keeps
 * the hot path allocation-free.
 */
export interface Aggregator<T, A, R> {
  create(): A;
  add(accumulator: A, value: T): A;
  /** Combines two accumulators (session merges, pane sharing); `b` is not used afterwards. */
  merge(a: A, b: A): A;
  result(accumulator: A): R;
  /**
   * Optional: does ahead of time what `result` will do for this accumulator, for a window
   * about to fire (`aggregate`'s `prepareAheadMs`), so that firing it costs little. The next
   * `result` must return what it would have returned without this call; `add` and `merge`
   * make what was prepared stale.
   */
  prepare?(accumulator: A): void;
  /**
   * Optional: work toward the result that the next `add` does not undo (sorting the values
   * taken so far, say), for a window about to fire that takes records too often to be worth
   * preparing (`aggregate`'s `prepareAheadMs`). Called at most once per window. `result`
   * must return what it would have returned without this call.
   */
  precompute?(accumulator: A): void;
}
