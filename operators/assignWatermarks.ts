import { Observable, asyncScheduler, from, type ObservableInput, type OperatorFunction, type SchedulerLike, type Subscription } from 'rxjs';
import type { StreamElement, StreamRecord } from './stream/elements.js';

export interface AssignWatermarksOptions<T> {
  /**
   * Event time of a record in epoch ms: a field of the value (a number, or an
   * ISO-8601 string) or a function. Default: the record's own `timestamp`.
   */
  timestamp?: (keyof T & string) | ((value: T, record: StreamRecord<T>) => number);
  /** Bounded out-of-orderness: `W_p = max event time seen on p − maxOutOfOrdernessMs`. Default 0. */
  maxOutOfOrdernessMs?: number;
  /**
   * A partition is *quiet* once nothing arrived on it for this long (processing time)
   * and its source says it is caught up (`caughtUp`). From that moment on its watermark
   * advances with processing time, so that open windows still fire when input stops:
   * `W_p = maxEventTime − maxOutOfOrdernessMs + (now − quietSince)`. A record ends
   * the quiet spell. Default: no idleness, the watermark moves with records only.
   */
  idleTimeoutMs?: number;
  /**
   * Whether the source has read everything partition `p` holds (Kafka: connected,
   * running, fetch position at the high watermark). Asked only at idleness checks,
   * never per record. Lag, a paused consumer, a rebalance or an unreachable broker
   * must answer false: they are not quiet input. Default: always caught up (a
   * stream that delivered nothing for the idle timeout has nothing pending).
   */
  caughtUp?: (partition: number) => boolean;
  /**
   * While a partition is quiet (or idle but not yet caught up), how often its state is
   * checked again, ms of processing time. Default `min(idleTimeoutMs, 1000)`.
   */
  progressIntervalMs?: number;
  /**
   * The watermark at which something downstream happens next (a window's end: see
   * `AggregateState.nextTimer`), or ∞. While every partition that holds the watermark is
   * quiet, `W` moves with processing time, and the next check is scheduled for the moment
   * it reaches that value (if sooner than `progressIntervalMs`): a window of quiet input
   * fires when the watermark passes its end, not at the next progress tick. Default: none.
   */
  nextDue?: () => number;
  /** Clock and timers for idleness; pass a `TestScheduler` in tests. Default `asyncScheduler`. */
  scheduler?: SchedulerLike;
  /** On completion of the input, emit a watermark at +∞ so every open window fires. Default true. */
  flushOnComplete?: boolean;
  /**
   * The partitions the source reads, each emission the whole current set (e.g. a
   * Kafka consumer's assignment). A partition holds the watermark back from the
   * moment it is assigned (at −∞ until its first record, or at its restored value),
   * so a partition that has not delivered yet is never overtaken; a partition that
   * leaves the set stops holding it back at once. Without it, the partitions are
   * those that delivered a record (or were restored).
   */
  assigned?: ObservableInput<readonly number[]>;
  /** Called with the watermark state for each barrier, before the barrier is forwarded (checkpoints). */
  onBarrier?: (barrierId: number, snapshot: WatermarkSnapshot) => void;
  /**
   * Receives, on subscription, a view of the watermark state: its `snapshot()` may be taken
   * between any two elements (a caller that cuts checkpoints itself, outside the stream).
   */
  onState?: (state: { snapshot(): WatermarkSnapshot }) => void;
  /** Restore this state before the first element (recovery). */
  initialState?: WatermarkSnapshot;
}

/**
 * The watermark state that a checkpoint keeps: per-partition maxima and the combined
 * watermark. Nothing measured on a clock is in it: quiet spells start anew in the
 * process that restores it.
 */
export interface WatermarkSnapshot {
  readonly watermark: number;
  readonly partitions: readonly { readonly partition: number; readonly maxEventTime: number }[];
}

interface PartitionClock {
  maxEventTime: number;
  lastSeenAt: number;
  /** Processing time at which the partition became quiet in this subscription; undefined while it is not. */
  quietSince: number | undefined;
  /** Holds the watermark back: assigned (or, without `assigned`, seen). */
  held: boolean;
}

/**
 * Assigns event timestamps and emits punctuated watermarks, per source partition,
 * min-combined across the partitions the source reads (DESIGN.md "Time semantics").
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
 *
 * Quiet input (`idleTimeoutMs: 5`, `maxOutOfOrdernessMs: 3`, one partition whose
 * source is caught up; each `-` is 1 ms, checks every 5 ms):
 * ```
 * source:  a(100)---------------
 * result:  a W97------W102----W107
 * ```
 * Quiet from 5 on (W stays 97 then), W follows processing time: 102 at 10, 107 at 15.
 */
export function assignWatermarks<T>(options: AssignWatermarksOptions<T> = {}): OperatorFunction<StreamElement<T>, StreamElement<T>> {
  const outOfOrderness = options.maxOutOfOrdernessMs ?? 0;
  const idleTimeout = options.idleTimeoutMs ?? Infinity;
  const scheduler = options.scheduler ?? asyncScheduler;
  const flushOnComplete = options.flushOnComplete ?? true;
  const caughtUp = options.caughtUp ?? (() => true);
  const nextDue = options.nextDue;
  const eventTimeOf = timestampExtractor(options.timestamp);
  const tracksIdleness = Number.isFinite(idleTimeout) && idleTimeout > 0;
  const progressInterval = options.progressIntervalMs ?? Math.min(idleTimeout, 1000);
  if (tracksIdleness && !(progressInterval > 0)) throw new RangeError(`assignWatermarks progressIntervalMs must be > 0, got ${String(progressInterval)}`);

  return (source) =>
    new Observable<StreamElement<T>>((subscriber) => {
      const partitions = new Map<number, PartitionClock>();
      let current = options.initialState?.watermark ?? -Infinity;
      let idleCheck: Subscription | undefined;
      let idleCheckAt = Infinity;
      const assignedBySource = options.assigned !== undefined;

      const snapshot = (): WatermarkSnapshot => ({
        watermark: current,
        partitions: [...partitions].map(([partition, clock]) => ({ partition, maxEventTime: clock.maxEventTime })),
      });
      options.onState?.({ snapshot });

      /**
       * `W = min over held partitions of W_p`; a quiet partition that never had a
       * record has nothing to hold back. −∞ when no partition counts.
       */
      const combined = (now: number): number => {
        let min = Infinity;
        for (const clock of partitions.values()) {
          if (!clock.held) continue;
          let w = clock.maxEventTime - outOfOrderness;
          if (clock.quietSince !== undefined) {
            if (clock.maxEventTime === -Infinity) continue;
            w += now - clock.quietSince;
          }
          if (w < min) min = w;
        }
        return min === Infinity ? -Infinity : min;
      };

      const advanceTo = (time: number): void => {
        if (time > current) {
          current = time;
          subscriber.next({ kind: 'watermark', time });
        }
      };

      const clockOf = (partition: number, now: number): PartitionClock => {
        let clock = partitions.get(partition);
        if (clock === undefined) {
          clock = { maxEventTime: -Infinity, lastSeenAt: now, quietSince: undefined, held: !assignedBySource };
          partitions.set(partition, clock);
        }
        return clock;
      };

      // One timer at a time, set for the earliest moment something can change: a
      // partition reaching its idle timeout, or the next check of a quiet (or idle but
      // lagging) partition. Records only update `lastSeenAt`, never timers.
      const scheduleIdleCheck = (at: number, now: number): void => {
        if (at >= idleCheckAt) return;
        idleCheck?.unsubscribe();
        idleCheckAt = at;
        idleCheck = scheduler.schedule(onIdleCheck, Math.max(0, at - now));
      };

      const onIdleCheck = (): void => {
        idleCheck = undefined;
        idleCheckAt = Infinity;
        const now = scheduler.now();
        let next = Infinity;
        /** Whether every partition holding W is quiet: W then grows exactly with processing time. */
        let allQuiet = true;
        for (const [partition, clock] of partitions) {
          if (!clock.held) continue;
          if (clock.quietSince === undefined) {
            const due = clock.lastSeenAt + idleTimeout;
            if (due > now) {
              next = Math.min(next, due);
              continue;
            }
            if (caughtUp(partition)) clock.quietSince = now;
          } else if (!caughtUp(partition)) {
            // More input is waiting (or the source lost its connection): not quiet any more.
            // The spell ends; W stays where it got to, as it never decreases.
            clock.quietSince = undefined;
          }
          if (clock.quietSince === undefined) allQuiet = false;
          next = Math.min(next, now + progressInterval);
        }
        advanceTo(combined(now));
        if (allQuiet && next !== Infinity && nextDue !== undefined) {
          // At least 1 ms ahead: a timer a hair early only checks again.
          const due = nextDue();
          if (due > current && Number.isFinite(due)) next = Math.min(next, now + Math.max(1, Math.ceil(due - current)));
        }
        if (next !== Infinity) scheduleIdleCheck(next, now);
      };

      const onRecord = (input: StreamRecord<T>): void => {
        let record = input;
        if (eventTimeOf !== undefined) {
          const timestamp = eventTimeOf(input.value, input);
          if (!Number.isFinite(timestamp)) throw new TypeError(`assignWatermarks: invalid event time ${String(timestamp)}`);
          record = { ...input, timestamp };
        }
        const now = tracksIdleness ? scheduler.now() : 0;
        const clock = clockOf(record.partition ?? 0, now);
        // A partition that delivers is read by the source, whatever its last assignment said.
        const wasHeld = clock.held;
        const wasQuiet = clock.quietSince !== undefined;
        clock.held = true;
        clock.quietSince = undefined;
        clock.lastSeenAt = now;
        if (tracksIdleness) scheduleIdleCheck(now + idleTimeout, now);
        const advancedPartition = record.timestamp > clock.maxEventTime;
        if (advancedPartition) clock.maxEventTime = record.timestamp;
        subscriber.next(record);
        if (advancedPartition || wasQuiet || !wasHeld) advanceTo(combined(now));
      };

      // Recovery: restored partitions count as just seen, so they hold W until they prove quiet.
      const startedAt = tracksIdleness ? scheduler.now() : 0;
      for (const { partition, maxEventTime } of options.initialState?.partitions ?? []) {
        clockOf(partition, startedAt).maxEventTime = maxEventTime;
      }
      if (tracksIdleness && partitions.size > 0) scheduleIdleCheck(startedAt + idleTimeout, startedAt);

      const assigned =
        options.assigned === undefined
          ? undefined
          : from(options.assigned).subscribe((ids) => {
              const now = tracksIdleness ? scheduler.now() : 0;
              const set = new Set(ids);
              for (const [partition, clock] of partitions) {
                if (set.has(partition)) continue;
                // Its clock stays known (a partition that comes back resumes from it), but no longer counts.
                clock.held = false;
                clock.quietSince = undefined;
              }
              for (const partition of set) {
                const clock = clockOf(partition, now);
                if (!clock.held) {
                  clock.held = true;
                  clock.lastSeenAt = now;
                }
              }
              if (tracksIdleness && set.size > 0) scheduleIdleCheck(now + idleTimeout, now);
              advanceTo(combined(now));
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
        assigned?.unsubscribe();
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
