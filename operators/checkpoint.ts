import { Observable, asyncScheduler, type ObservableInput, from, type OperatorFunction, type SchedulerLike, type Subscription } from 'rxjs';
import type { Barrier, SourcePositions, StreamElement } from './stream/elements.js';

export interface CheckpointOptions {
  /** Processing time between barriers. */
  intervalMs: number;
  /** Clock for the interval; pass a `TestScheduler` in tests. Default `asyncScheduler`. */
  scheduler?: SchedulerLike;
  /** Id of the first barrier; after recovery, one more than the restored checkpoint's. Default 1. */
  firstId?: number;
  /** Each emission injects a barrier at once (for example a final checkpoint on shutdown). */
  trigger?: ObservableInput<unknown>;
  /** Positions already reached before the first record (recovery), so an early barrier repeats them. */
  initialPositions?: SourcePositions;
  /**
   * Where the source stands, read at each barrier, for sources whose position
   * moves past input that never becomes a record (invalid lines that went to
   * the dead-letter output). Default: the `offset` of the last record per partition.
   */
  positions?: () => SourcePositions;
}

/**
 * Injects checkpoint barriers (Chandy–Lamport) into a stream of records, every
 * `intervalMs` of processing time and whenever `trigger` emits. Each barrier
 * carries, per source partition, the `offset` of the last record before it: the
 * position from which the source resumes once that checkpoint is complete.
 * Place it right after the source; the stateful operators downstream snapshot
 * their state as the barrier passes them, so state and positions are consistent.
 *
 * A barrier is only ever emitted between elements, never while the input is
 * silent and nothing changed since the previous one.
 *
 * ```
 * intervalMs: 4; records show their partition:offset
 * source:  -a(0:1)-b(1:7)------c(0:2)-----|
 * result:  -a------b----B1-----c-----B2---|
 * B1 = { id: 1, positions: { 0: '1', 1: '7' } }, B2 = { id: 2, positions: { 0: '2', 1: '7' } }
 * ```
 */
export function checkpoint<T>(options: CheckpointOptions): OperatorFunction<StreamElement<T>, StreamElement<T>> {
  const { intervalMs } = options;
  if (!(Number.isFinite(intervalMs) && intervalMs > 0)) throw new RangeError(`checkpoint intervalMs must be a positive number, got ${String(intervalMs)}`);
  const scheduler = options.scheduler ?? asyncScheduler;

  return (source) =>
    new Observable<StreamElement<T>>((subscriber) => {
      const positions: Record<string, string> = { ...options.initialPositions };
      let nextId = options.firstId ?? 1;
      let changedSinceBarrier = false;

      const emitBarrier = (force: boolean): void => {
        if (!force && !changedSinceBarrier) return;
        changedSinceBarrier = false;
        const barrier: Barrier = { kind: 'barrier', id: nextId++, positions: options.positions?.() ?? { ...positions } };
        subscriber.next(barrier);
      };

      const timer: Subscription = scheduler.schedule(function tick() {
        emitBarrier(false);
        this.schedule(undefined, intervalMs);
      }, intervalMs);
      subscriber.add(timer);
      if (options.trigger !== undefined) subscriber.add(from(options.trigger).subscribe(() => emitBarrier(true)));

      subscriber.add(
        source.subscribe({
          next: (element) => {
            if (element.kind === 'record' && element.offset !== undefined) {
              positions[String(element.partition ?? 0)] = element.offset;
              changedSinceBarrier = true;
            }
            subscriber.next(element);
          },
          error: (error: unknown) => subscriber.error(error),
          complete: () => subscriber.complete(),
        }),
      );
    });
}
