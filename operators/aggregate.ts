import { Observable, asyncScheduler, interval, type OperatorFunction, type SchedulerLike, type Subscription } from 'rxjs';
import type { Aggregator } from './stream/aggregator.js';
import type { StreamElement, WindowResult, WindowedElement, WindowedRecord } from './stream/elements.js';
import { KeyedWindowState, type WindowChanges, type WindowIdentities, type WindowPage, type WindowPageQuery, type WindowStateSnapshot } from './internal/windowState.js';

/** Where records too late for every window they belong to go (a `Subject` fits). */
export interface LateRecordObserver<T> {
  next(record: WindowedRecord<T>): void;
}

export interface AggregateOptions<T, A, R> {
  aggregator: Aggregator<T, A, R>;
  /** How long after a window fires it still accepts records (each emits a new revision). Default 0. */
  allowedLatenessMs?: number;
  /** Side output for records dropped as too late. Default: they are dropped silently. */
  late?: LateRecordObserver<T>;
  /**
   * Called, instead of failing the stream, when processing one record throws: the
   * aggregator's `add`, or its `result` for the late revision the record emits.
   * The stream goes on without that record; it may have partly updated its
   * window's accumulator (a sliding record its first windows), so an aggregator
   * that can throw should do so before it mutates anything. Default: the error
   * fails the stream. Errors outside one record (firing on a watermark) always do.
   */
  onRecordError?: (record: WindowedRecord<T>, error: unknown) => void;
  /**
   * Hooks for checkpoints and live queries: `onState` receives the operator's
   * window state when subscribed (to snapshot at barriers, restore, or peek).
   */
  onState?: (state: AggregateState<A, R>) => void;
  /** Called with the window state's snapshot for each barrier, before the barrier is forwarded. */
  onBarrier?: (barrierId: number, snapshot: WindowStateSnapshot<A>) => void;
  /** Restore this state before the first element (recovery). */
  initialState?: WindowStateSnapshot<A>;
  /**
   * Keep a record of the windows changed and removed, for `AggregateState.takeChanges`
   * (incremental checkpoints, e.g. a changelog topic). Default false: nothing is kept.
   */
  trackChanges?: boolean;
  /**
   * Where window identities come from; share one between several `aggregate`s (the
   * branches of a `windowSet`) to make identities unique across them. Default: its own.
   */
  identities?: WindowIdentities;
  /**
   * Called with each record a window accumulated: the window's identity and the record's
   * value (a changelog can log the additions instead of rewriting the window).
   */
  onAccumulate?: (windowId: number, value: T) => void;
  /**
   * Every this many ms of processing time, emit an early result (`early: true`, revision −1)
   * of each window not yet fired that took records since its last one: dashboards of long
   * windows see partial aggregates before the window closes (Kafka Streams' suppression
   * turned around, Flink's `ContinuousProcessingTimeTrigger`). The results watermarks fire
   * are unchanged. Default: none.
   */
  earlyIntervalMs?: number;
  /** The clock of `earlyIntervalMs` (a `TestScheduler` in tests). Default `asyncScheduler`. */
  scheduler?: SchedulerLike;
  /**
   * Prepare results ahead (`Aggregator.prepare`): once the watermark is within this many ms
   * of a window's end, the window is prepared on `prepareScheduler`, and again after each
   * record it takes, so that when the watermark passes its end firing it costs little. Only
   * windows that took records less often than once per this many ms of event time are
   * prepared (a busier one would likely take more before its end). Results are the same
   * with or without. Default: none.
   */
  prepareAheadMs?: number;
  /** Where preparation runs, 64 windows per turn. Default `asyncScheduler`. */
  prepareScheduler?: SchedulerLike;
}

/** The view of a running `aggregate` that checkpoints and live queries use. */
export interface AggregateState<A, R> {
  readonly watermark: number;
  readonly openWindows: number;
  snapshot(): WindowStateSnapshot<A>;
  /** The snapshot without its windows (watermark, window type, next identity): cheap at any time. */
  header(): Omit<WindowStateSnapshot<A>, 'windows'>;
  /**
   * The watermark at which the next window fires or is purged (∞ when none): lets a
   * watermark that moves with processing time (quiet input) arrive exactly then. It may be
   * earlier (a timer made stale by a merge), never later.
   */
  nextTimer(): number;
  /**
   * Windows changed and removed since the previous call (needs `trackChanges`); resets the
   * record. The live windows of `rewrite` (identities) count as reshaped.
   */
  takeChanges(rewrite?: Iterable<number>): WindowChanges<A>;
  peek(key?: string): Iterable<WindowResult<R>>;
  /** A page of `peek` in (key, start) order, for queries over many windows (see `KeyedWindowState.peekPage`). */
  peekPage(query: WindowPageQuery): WindowPage<R>;
}

/** The read-only part of `AggregateState`: what queries and gauges need, also over several states. */
export type AggregateView<R> = Pick<AggregateState<unknown, R>, 'watermark' | 'openWindows' | 'peek' | 'peekPage'>;

/** Windows prepared per turn of `prepareScheduler`: ~0.5 ms of work for results of four metrics. */
const PREPARE_SLICE = 64;

/**
 * Incremental aggregation per (key, window), fired by watermarks.
 *
 * Each window keeps one accumulator. It fires (revision 0) when the watermark
 * reaches its end; a later record accepted within `allowedLatenessMs` updates it
 * and emits the next revision at once; a record too late for every window goes
 * to `late`. Results are records whose timestamp is `end − 1` (the last instant
 * of the window, as in Flink), keyed like their input, followed by the watermark
 * that fired them. Barriers pass after the state snapshot. On completion every
 * window not yet fired is flushed.
 *
 * ```
 * tumbling 10 ms, allowedLatenessMs: 5, a count aggregator; values are event times
 * source:  --a(1)--b(4)--W10---------c(8)----W15--d(9)--|
 * result:  --------------R0(2)W10----R1(3)---W15--------|
 * late:    ---------------------------------------d-----
 * ```
 * `R0(2)`: window [0,10) revision 0 with 2 records; `c` is late but accepted
 * (W = 10 < 10 + 5) and emits revision 1; `d` arrives after the purge at W = 15.
 *
 * ```
 * earlyIntervalMs: 5 (processing time; one frame = 1 ms), tumbling 10 ms, a count aggregator
 * source:  -a(1)-b(2)---------c(3)------W10--|
 * result:  -----E(2)-----E(3)--R0(3)W10--|
 * ```
 * `E(n)`: an early result of [0,10) with n records (revision −1, `early: true`), at
 * frames 5 and 10; at frame 15 nothing changed since, so nothing is emitted; `R0(3)` is
 * the same result as without early results.
 *
 * ```
 * onRecordError: a count aggregator whose add throws on b
 * source:  --a(1)--b(4)--W10---------|
 * result:  --------------R0(1)W10----|
 * errors:  -------b-------------------
 * ```
 */
export function aggregate<T, A, R>(
  options: AggregateOptions<T, A, R>,
): OperatorFunction<WindowedElement<T>, StreamElement<WindowResult<R>>> {
  const allowedLateness = options.allowedLatenessMs ?? 0;
  if (!(allowedLateness >= 0)) throw new RangeError(`aggregate allowedLatenessMs must be ≥ 0, got ${String(allowedLateness)}`);
  const earlyMs = options.earlyIntervalMs;
  if (earlyMs !== undefined && !(earlyMs > 0)) throw new RangeError(`aggregate earlyIntervalMs must be > 0, got ${String(earlyMs)}`);
  const prepareAheadMs = options.prepareAheadMs;
  if (prepareAheadMs !== undefined && !(prepareAheadMs >= 0)) throw new RangeError(`aggregate prepareAheadMs must be ≥ 0, got ${String(prepareAheadMs)}`);

  return (source) =>
    new Observable<StreamElement<WindowResult<R>>>((subscriber) => {
      const emit = (result: WindowResult<R>): void =>
        subscriber.next({ kind: 'record', value: result, timestamp: result.window.end - 1, key: result.key });
      const state = new KeyedWindowState<T, A, R>(options.aggregator, allowedLateness, emit, options.trackChanges ?? false, options.onAccumulate, options.identities, prepareAheadMs ?? NaN);
      let preparing: Subscription | undefined;
      const prepareScheduler = options.prepareScheduler ?? asyncScheduler;
      const schedulePrepare = (): void => {
        if (preparing !== undefined || state.pendingPrepares === 0) return;
        preparing = prepareScheduler.schedule(() => {
          preparing = undefined;
          state.prepareDue(PREPARE_SLICE);
          schedulePrepare();
        });
      };
      if (options.initialState !== undefined) state.restore(options.initialState);
      options.onState?.({
        get watermark() {
          return state.currentWatermark;
        },
        get openWindows() {
          return state.openWindows;
        },
        snapshot: () => state.snapshot(),
        takeChanges: (rewrite) => state.takeChanges(rewrite),
        header: () => state.header(),
        nextTimer: () => state.nextTimer(),
        peek: (key) => state.peek(key),
        peekPage: (query) => state.peekPage(query),
      });

      let early: Subscription | undefined;
      if (earlyMs !== undefined) {
        early = interval(earlyMs, options.scheduler ?? asyncScheduler).subscribe(() => {
          try {
            state.emitEarly();
          } catch (error) {
            subscriber.error(error);
          }
        });
      }
      const subscription = source.subscribe({
        next: (element) => {
          try {
            switch (element.kind) {
              case 'record': {
                let accepted: boolean;
                try {
                  accepted = state.add(element);
                } catch (error) {
                  if (options.onRecordError === undefined) throw error;
                  options.onRecordError(element, error);
                  break;
                }
                if (!accepted) options.late?.next(element);
                break;
              }
              case 'watermark':
                if (state.advanceWatermark(element.time)) subscriber.next(element);
                break;
              case 'barrier':
                options.onBarrier?.(element.id, state.snapshot());
                subscriber.next(element);
                break;
            }
          } catch (error) {
            subscriber.error(error);
          }
          schedulePrepare();
        },
        error: (error: unknown) => subscriber.error(error),
        complete: () => {
          early?.unsubscribe();
          preparing?.unsubscribe();
          try {
            state.advanceWatermark(Infinity);
          } catch (error) {
            subscriber.error(error);
            return;
          }
          subscriber.complete();
        },
      });
      // A restored state may hold windows within the horizon already.
      schedulePrepare();

      return () => {
        early?.unsubscribe();
        preparing?.unsubscribe();
        subscription.unsubscribe();
        state.clear();
      };
    });
}
