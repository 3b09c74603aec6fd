import { Observable, Subject, type OperatorFunction, type Subscription } from 'rxjs';
import type { StreamElement, WindowResult, WindowedRecord } from './stream/elements.js';
import type { LateRecordObserver } from './aggregate.js';

/** One window spec of a `windowSet`: its assigner and `aggregate`, built with the late observer to use. */
export type WindowBranch<T, R> = (late: LateRecordObserver<T>) => OperatorFunction<StreamElement<T>, StreamElement<WindowResult<R>>>;

export interface WindowSetOptions<T, R> {
  /** At least one; each usually `(late) => pipe(tumblingWindow(…), aggregate({ …, late }))`. */
  branches: readonly WindowBranch<T, R>[];
  /**
   * Records too late for every window of every branch (so every input record is aggregated
   * somewhere or here, exactly once). Default: dropped silently.
   */
  late?: LateRecordObserver<T>;
}

/**
 * Several window specs over one stream in one pass (e.g. tumbling and sliding windows of
 * the same watermarked input): every element goes to each branch in turn, synchronously;
 * results come out as the branches emit them (each tagged with its `window.type`), and
 * watermarks and barriers once, after every branch has handled them (so the results a
 * watermark fires precede it, as with one `aggregate`). Completion flushes every branch.
 *
 * ```
 * branches: tumbling 10 ms and sliding 10 ms / 5 ms, count aggregators
 * source:  --a(3)--W10------|
 * result:  --------(TPQW10)-|
 * ```
 * `T`: tumbling [0,10); `P`, `Q`: sliding [−5,5) and [0,10), each with a; W10 once.
 */
export function windowSet<T, R>(options: WindowSetOptions<T, R>): OperatorFunction<StreamElement<T>, StreamElement<WindowResult<R>>> {
  const { branches } = options;
  if (branches.length === 0) throw new RangeError('windowSet needs at least one branch');
  return (source) =>
    new Observable<StreamElement<WindowResult<R>>>((subscriber) => {
      const input = new Subject<StreamElement<T>>();
      // Per input record: how many branches found it too late, and one of their copies of it.
      let tooLateFor = 0;
      let tooLate: WindowedRecord<T> | undefined;
      const countLate: LateRecordObserver<T> = {
        next: (record) => {
          tooLateFor++;
          tooLate = record;
        },
      };
      const last = branches.length - 1;
      const outputs: Subscription[] = branches.map((branch, i) =>
        input.pipe(branch(countLate)).subscribe({
          next: (element) => {
            if (element.kind === 'record' || i === last) subscriber.next(element);
          },
          error: (error: unknown) => subscriber.error(error),
        }),
      );
      const subscription = source.subscribe({
        next: (element) => {
          tooLateFor = 0;
          tooLate = undefined;
          input.next(element);
          if (tooLateFor === branches.length && tooLate !== undefined) options.late?.next(tooLate);
        },
        error: (error: unknown) => subscriber.error(error),
        complete: () => {
          input.complete();
          subscriber.complete();
        },
      });
      return () => {
        subscription.unsubscribe();
        for (const output of outputs) output.unsubscribe();
      };
    });
}
