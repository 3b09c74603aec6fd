import { Observable, type OperatorFunction } from 'rxjs';
import type { StreamElement } from './stream/elements.js';

/**
 * The values of the records, unwrapped; watermarks and barriers end here. Put it
 * last, where a sink or a UI wants results only (the `filter(isRecord)` and
 * `map((r) => r.value)` pair as one operator). Errors and completion pass through.
 *
 * ```
 * source:  -a-W5-b-B1-W9-|
 * result:  -a----b-------|
 * ```
 * `a` and `b` are records; the output holds their `value`s.
 */
export function results<T>(): OperatorFunction<StreamElement<T>, T> {
  return (source) =>
    new Observable<T>((subscriber) =>
      source.subscribe({
        next: (element) => {
          if (element.kind === 'record') subscriber.next(element.value);
        },
        error: (error: unknown) => subscriber.error(error),
        complete: () => subscriber.complete(),
      }),
    );
}
