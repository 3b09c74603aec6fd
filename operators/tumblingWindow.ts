import type { OperatorFunction } from 'rxjs';
import type { StreamElement, TimeWindow, WindowedElement } from './stream/elements.js';
import { assignWindows, floorMod, recordKey, requirePositive, type KeySelector } from './internal/assignWindows.js';

export interface TumblingWindowOptions<T> {
  /** Window size S in ms. Windows are `[t − (t mod S), … + S)`, aligned to the Unix epoch. */
  sizeMs: number;
  /** Key of each record. Default: the record's `key`. */
  key?: KeySelector<T>;
}

/**
 * Assigns each record to the one tumbling window that contains its event time,
 * and keys it. Watermarks and barriers pass through. Aggregate downstream with
 * `aggregate`.
 *
 * ```
 * sizeMs: 10, event times shown as values
 * source:  --a(3)--b(12)--W15--c(7)--|
 * result:  --a[0,10)--b[10,20)--W15--c[0,10)--|
 * ```
 */
export function tumblingWindow<T>(options: TumblingWindowOptions<T>): OperatorFunction<StreamElement<T>, WindowedElement<T>> {
  const size = options.sizeMs;
  requirePositive('tumblingWindow sizeMs', size);
  // Consecutive records mostly share a window: reuse its (frozen) array.
  let cachedStart = NaN;
  let cached: readonly TimeWindow[] = [];
  return assignWindows({ type: 'tumbling', merging: false }, options.key ?? recordKey, (t) => {
    const start = t - floorMod(t, size);
    if (start !== cachedStart) {
      cachedStart = start;
      cached = Object.freeze([Object.freeze({ start, end: start + size })]);
    }
    return cached;
  });
}
