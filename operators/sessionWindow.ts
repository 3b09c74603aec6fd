import type { OperatorFunction } from 'rxjs';
import type { StreamElement, WindowedElement } from './stream/elements.js';
import { assignWindows, recordKey, requirePositive, type KeySelector } from './internal/assignWindows.js';

export interface SessionWindowOptions<T> {
  /** Inactivity gap G in ms: a record at t opens `[t, t + G)`. */
  gapMs: number;
  /** Key of each record. Default: the record's `key`. */
  key?: KeySelector<T>;
}

/**
 * Assigns each record the proto-session `[t, t + G)` and keys it. The windows are
 * marked as merging: `aggregate` merges the sessions of one key that overlap or
 * touch, so records at most G apart share a session `[first, last + G)`.
 *
 * ```
 * gapMs: 5, event times shown as values
 * source:  --a(1)-------b(4)-------c(20)------|
 * result:  --a[1,6)-----b[4,9)-----c[20,25)---|
 * after aggregate: a and b share the session [1,9); c is alone in [20,25).
 * ```
 */
export function sessionWindow<T>(options: SessionWindowOptions<T>): OperatorFunction<StreamElement<T>, WindowedElement<T>> {
  const gap = options.gapMs;
  requirePositive('sessionWindow gapMs', gap);
  return assignWindows({ type: 'session', merging: true }, options.key ?? recordKey, (t) => [{ start: t, end: t + gap }]);
}
