import { Observable, asyncScheduler, from, type ObservableInput, type OperatorFunction, type SchedulerLike, type Subscription } from 'rxjs';
import type { StreamElement, StreamRecord } from '../src/stream/elements.js';

export interface AssignWatermarksOptions<T> {
  /**
   * Event time of a record in epoch ms: a field of the value (a number, or an
   * ISO-8601 string) or a function. Default: the record's own `timestamp`.
   */
  timestamp?: (keyof T & string) | ((value: T, record: StreamRecord<T>) => number);
  /** Bounded out-of-orderness: `W_p = max event time seen on p − maxOutOfOrdernessMs`. Default 0. */
  maxOutOfOrdernessMs?: number;
  /**
   * A partition that sends nothing for this long (processing time) stops holding
   * the watermark back. When every partition is idle the input is *quiet*, and the
   * watermark then advances with processing time, one step per idle timeout, so
   * that open windows still fire. Default: no idleness detection.
   */
  idleTimeoutMs?: number;
  /** Clock and timers for idleness; pass a `TestScheduler` in tests. Default `asyncScheduler`. */
  scheduler?: SchedulerLike;
  /** On completion of the input, emit a watermark at +∞ so every open window fires. Default true. */
  flushOnComplete?: boolean;
  /**
   * Partitions the source no longer reads (e.g. revoked in a Kafka rebalance): from
   * each emission on, they stop holding the watermark back at once, without
   * waiting for the idle timeout. A partition that sends again is tracked anew.
   */
  released?: ObservableInput<readonly number[]>;
  /** Called with the watermark state for each barrier, before the barrier is forwarded (checkpoints). */
  onBarrier?: (barrierId: number, snapshot: WatermarkSnapshot) => void;
  /** Restore this state before the first element (recovery). */
  initialState?: WatermarkSnapshot;
}

/** The watermark state that a checkpoint keeps: per-partition maxima and the combined watermark. */
export interface WatermarkSnapshot {
  readonly watermark: number;
  readonly partitions: readonly { readonly partition: number; readonly maxEventTime: number }[];
}

interface PartitionClock {
  maxEventTime: number;
  lastSeenAt: number;
  idle: boolean;
}

/**
 * Assigns event timestamps and emits punctuated watermarks, per source partition,
 * min-combined across the active partitions (DESIGN.md "Time semantics").
 *
 * A watermark follows immediately after every record that advances the combined
 * watermark `W`, so the output is deterministic for a given input order. `W`
 * never decreases. Watermarks arriving from upstream are replaced (as Flink's
 * `assignTimestampsAndWatermarks` does); barriers pass through unchanged.
 *
 * ```
 * maxOutOfOrdernessMs: 2, timestamps shown as values, one partition
 * source:  --a(5)--b(3)--c(8)--|
 * result:  --a W3--b-----c W6--W∞|
 * ```
 * Here `b` (3) does not advance `W` (still 3): no watermark follows it. The
 * record `c` (8) moves `W` to 6. Completion emits `W = +∞`.
 */
export function assignWatermarks<T>(options: AssignWatermarksOptions<T> = {}): OperatorFunction<StreamElement<T>, StreamElement<T>> {
  const outOfOrderness = options.maxOutOfOrdernessMs ?? 0;
  const idleTimeout = options.idleTimeoutMs ?? Infinity;
  const scheduler = options.scheduler ?? asyncScheduler;
  const flushOnComplete = options.flushOnComplete ?? true;
  const eventTimeOf = timestampExtractor(options.timestamp);
  const tracksIdleness = Number.isFinite(idleTimeout) && idleTimeout > 0;

  return (source) =>
    new Observable<StreamElement<T>>((subscriber) => {
      const partitions = new Map<number, PartitionClock>();
      let current = options.initialState?.watermark ?? -Infinity;
      let lastRecordAt = 0;
      let idleCheck: Subscription | undefined;

      const snapshot = (): WatermarkSnapshot => ({
        watermark: current,
        partitions: [...partitions].map(([partition, clock]) => ({ partition, maxEventTime: clock.maxEventTime })),
      });

      /** `W = min over active partitions of W_p`, or −∞ when none is active. */
      const combined = (): number => {
        let min = Infinity;
        for (const clock of partitions.values()) {
          if (!clock.idle && clock.maxEventTime - outOfOrderness < min) min = clock.maxEventTime - outOfOrderness;
        }
        return min === Infinity ? -Infinity : min;
      };

      const advanceTo = (time: number): void => {
        if (time > current) {
          current = time;
          subscriber.next({ kind: 'watermark', time });
        }
      };

      // One timer at a time, set for the earliest moment a partition can turn idle
      // (or for the next quiet step): records only update `lastSeenAt`, never timers.
      const scheduleIdleCheck = (delay: number): void => {
        idleCheck?.unsubscribe();
        idleCheck = scheduler.schedule(onIdleCheck, Math.max(0, delay));
      };

      const onIdleCheck = (): void => {
        idleCheck = undefined;
        const now = scheduler.now();
        let nextDue = Infinity;
        let anyActive = false;
        for (const clock of partitions.values()) {
          if (clock.idle) continue;
          const due = clock.lastSeenAt + idleTimeout;
          if (due <= now) clock.idle = true;
          else {
            anyActive = true;
            nextDue = Math.min(nextDue, due);
          }
        }
        if (anyActive) {
          advanceTo(combined());
          scheduleIdleCheck(nextDue - now);
          return;
        }
        // Quiet input: let event time follow processing time from the last record on.
        let maxEventTime = -Infinity;
        for (const clock of partitions.values()) maxEventTime = Math.max(maxEventTime, clock.maxEventTime);
        advanceTo(maxEventTime - outOfOrderness + (now - lastRecordAt));
        scheduleIdleCheck(idleTimeout);
      };

      const onRecord = (input: StreamRecord<T>): void => {
        let record = input;
        if (eventTimeOf !== undefined) {
          const timestamp = eventTimeOf(input.value, input);
          if (!Number.isFinite(timestamp)) throw new TypeError(`assignWatermarks: invalid event time ${String(timestamp)}`);
          record = { ...input, timestamp };
        }
        const partitionId = record.partition ?? 0;
        let clock = partitions.get(partitionId);
        const now = tracksIdleness ? scheduler.now() : 0;
        if (clock === undefined) {
          clock = { maxEventTime: -Infinity, lastSeenAt: now, idle: false };
          partitions.set(partitionId, clock);
          if (tracksIdleness && idleCheck === undefined) scheduleIdleCheck(idleTimeout);
        }
        const wasIdle = clock.idle;
        clock.idle = false;
        clock.lastSeenAt = now;
        lastRecordAt = now;
        if (wasIdle && tracksIdleness && idleCheck === undefined) scheduleIdleCheck(idleTimeout);
        const advancedPartition = record.timestamp > clock.maxEventTime;
        if (advancedPartition) clock.maxEventTime = record.timestamp;
        subscriber.next(record);
        if (advancedPartition || wasIdle) advanceTo(combined());
      };

      // Recovery: restored partitions count as just seen, so they hold W until they prove idle.
      for (const { partition, maxEventTime } of options.initialState?.partitions ?? []) {
        partitions.set(partition, { maxEventTime, lastSeenAt: tracksIdleness ? scheduler.now() : 0, idle: false });
      }
      if (tracksIdleness && partitions.size > 0) scheduleIdleCheck(idleTimeout);

      const released =
        options.released === undefined
          ? undefined
          : from(options.released).subscribe((ids) => {
              for (const id of ids) partitions.delete(id);
              if (partitions.size > 0) advanceTo(combined());
            });

      const subscription = source.subscribe({
        next: (element) => {
          if (element.kind === 'record') {
            try {
              onRecord(element);
            } catch (error) {
              subscriber.error(error);
            }
          } else if (element.kind === 'barrier') {
            options.onBarrier?.(element.id, snapshot());
            subscriber.next(element);
          }
        },
        error: (error: unknown) => subscriber.error(error),
        complete: () => {
          if (flushOnComplete) advanceTo(Infinity);
          subscriber.complete();
        },
      });

      return () => {
        subscription.unsubscribe();
        released?.unsubscribe();
        idleCheck?.unsubscribe();
        partitions.clear();
      };
    });
}

function timestampExtractor<T>(
  spec: AssignWatermarksOptions<T>['timestamp'],
): ((value: T, record: StreamRecord<T>) => number) | undefined {
  if (spec === undefined || typeof spec === 'function') return spec;
  return (value) => {
    const raw: unknown = value[spec];
    return typeof raw === 'string' ? Date.parse(raw) : typeof raw === 'number' ? raw : NaN;
  };
}
