import type { OperatorFunction } from 'rxjs';
import type { StreamElement, TimeWindow, WindowedElement } from './stream/elements.js';
import { assignWindows, floorMod, recordKey, requirePositive, type KeySelector } from './internal/assignWindows.js';

export interface SlidingWindowOptions<T> {
  /** Window size S in ms. */
  sizeMs: number;
  /** Slide D in ms (D ≤ S): windows start at every multiple of D. */
  slideMs: number;
  /** Key of each record. Default: the record's `key`. */
  key?: KeySelector<T>;
}

/**
 * Assigns each record to every sliding window `[k·D, k·D + S)` that contains its
 * event time (⌈S/D⌉ windows when D divides S), earliest first, and keys it.
 *
 * ```
 * sizeMs: 10, slideMs: 5, event times shown as values
 * source:  --a(7)-----------------b(12)----------------|
 * result:  --a{[0,10),[5,15)}-----b{[5,15),[10,20)}----|
 * ```
 */
export function slidingWindow<T>(options: SlidingWindowOptions<T>): OperatorFunction<StreamElement<T>, WindowedElement<T>> {
  const { sizeMs: size, slideMs: slide } = options;
  requirePositive('slidingWindow sizeMs', size);
  requirePositive('slidingWindow slideMs', slide);
  if (slide > size) throw new RangeError(`slidingWindow slideMs (${slide}) must not exceed sizeMs (${size})`);
  let cachedLastStart = NaN;
  let cached: readonly TimeWindow[] = [];
  return assignWindows({ type: 'sliding', merging: false }, options.key ?? recordKey, (t) => {
    const lastStart = t - floorMod(t, slide);
    if (lastStart !== cachedLastStart) {
      const windows: TimeWindow[] = [];
      for (let start = lastStart; start > t - size; start -= slide) windows.unshift(Object.freeze({ start, end: start + size }));
      cachedLastStart = lastStart;
      cached = Object.freeze(windows);
    }
    return cached;
  });
}
