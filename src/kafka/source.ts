/**
 * The Kafka source: the records of a consumer group's partitions as an Observable, with
 * backpressure and at-least-once offset commits.
 *
 * Contract with the rest of the pipeline:
 * - Every record handed downstream (`records`) is "in flight" until the pipeline calls
 *   `ack(record)`, which means "this record's effects are safely in the sink" (for a
 *   pass-through pipeline: its output was acknowledged by the broker).
 * - When `bufferSize` records are in flight, the consumer is paused (kafkajs `pause` on
 *   the subscribed topics); it resumes once fewer than half are. In flight therefore never
 *   exceeds `bufferSize`, and memory stays bounded however slow the sink is.
 * - Offsets are committed (every `commitIntervalMs`, and on shutdown) per partition up to
 *   the highest offset below which every handed-over record is acknowledged.
 * - After a rebalance kafkajs restarts every assigned partition at its committed offset,
 *   so records in flight at the time may be delivered again (at-least-once). Acknowledging
 *   either delivery of an offset counts for both.
 *
 * Example (pass-through):
 * ```ts
 * const source = kafkaSource({ brokers, groupId, topics: ['in'], bufferSize: 10_000 });
 * const sink = kafkaSink({ brokers, topic: 'out' });
 * source.records.pipe(sink.writer((r) => ({ key: r.key, value: r.value }))).subscribe((r) => source.ack(r));
 * ```
 */
import type { Consumer, EachBatchPayload, IHeaders, LogEntry, logCreator } from 'kafkajs';
import { logLevel } from './kafkajs.js';
import { BehaviorSubject, Observable, Subject, distinctUntilChanged, type Subscriber } from 'rxjs';
import type { StreamRecord } from '@llm-feedback/stream-operators';
import { brokersUnavailable, connectError, createKafka, type KafkaConnectionOptions } from './client.js';
import { wakeIdleFetchers } from './idle-fetch-wake.js';
import { joinTogetherAssigner, type JoinTogether } from './join-together.js';
import { PartitionOffsets } from './offset-tracker.js';
import { PartitionProgress } from './partition-progress.js';

export interface TopicPartition {
  readonly topic: string;
  readonly partition: number;
}

/** Identifies one message: what `ack` needs. */
export interface TopicPartitionOffset extends TopicPartition {
  readonly offset: string;
}

/**
 * A Kafka message as a stream record. `value` is the raw message value (UTF-8; an empty
 * string for a null value), `timestamp` the message timestamp: parsing the event and its
 * event time happens downstream (src/events).
 */
export interface KafkaRecord extends StreamRecord<string>, TopicPartitionOffset {
  // Required here, optional in StreamRecord: redeclared so that both bases agree.
  readonly partition: number;
  readonly offset: string;
  /** The message headers as kafkajs gives them (repartitioned input carries its source position there). */
  readonly headers?: IHeaders;
}

/** A change of this member's partitions, reported after every (re)join of the group. */
export interface AssignmentChange {
  /** Partitions this member did not have before. */
  readonly assigned: readonly TopicPartition[];
  /** Partitions this member no longer has. Records of them still in flight may be delivered to the new owner too. */
  readonly revoked: readonly TopicPartition[];
  /** Every partition this member has now. */
  readonly current: readonly TopicPartition[];
}

export interface KafkaSourceOptions extends KafkaConnectionOptions {
  readonly groupId: string;
  readonly topics: readonly string[];
  /** Records in flight (handed downstream, not acknowledged) at which the consumer pauses. Default 10,000. */
  readonly bufferSize?: number;
  /** Where a group without committed offsets starts: earliest (default, as Kafka Streams) or latest. */
  readonly fromBeginning?: boolean;
  /**
   * Longest time the broker holds a fetch, and how long kafkajs sleeps while every
   * partition is paused (a `resume` or `release` here ends that sleep: idle-fetch-wake.ts).
   * Default 100 ms.
   */
  readonly maxWaitTimeMs?: number;
  /** Default 30,000 (kafkajs's default). */
  readonly sessionTimeoutMs?: number;
  /** Default 3,000 (kafkajs's default). */
  readonly heartbeatIntervalMs?: number;
  /** How often acknowledged offsets are committed. Default 1,000 ms. */
  readonly commitIntervalMs?: number;
  /** Per-partition fetch size. Default 1 MiB (kafkajs's default). */
  readonly maxBytesPerPartition?: number;
  /**
   * Records of one fetched batch handed downstream before the source fetches that
   * partition again (the config's `max_poll_records`; kafkajs has no such setting). The rest
   * of the batch stays unresolved and is fetched anew. Default: the whole batch.
   */
  readonly maxRecordsPerBatch?: number;
  /**
   * `acked` (default): acknowledged offsets are committed periodically and on stop.
   * `manual`: acknowledgements only release backpressure; offsets are committed by
   * `commitOffsets` alone (a checkpointing pipeline commits what its checkpoints cover).
   */
  readonly offsetCommits?: 'acked' | 'manual';
  /**
   * One of several consumers of this process that join the group together (worker threads):
   * after connecting and subscribing it waits for the others (`barrier`), and the first
   * generation's leader waits for their joins rather than start alone (join-together.ts).
   */
  readonly together?: JoinTogether;
  /**
   * Where an assigned partition starts instead of its committed offset (the next
   * offset to read), e.g. the position of a restored checkpoint; undefined keeps
   * the committed offset.
   */
  readonly startOffset?: (topicPartition: TopicPartition) => string | undefined;
}

export interface PartitionLag extends TopicPartition {
  readonly lag: number;
}

export interface KafkaSourceStats {
  readonly inFlight: number;
  /** The most records ever in flight at once. */
  readonly maxInFlight: number;
  readonly handedOver: number;
  readonly acked: number;
  /** Times the consumer was paused / resumed for backpressure. */
  readonly pauses: number;
  readonly resumes: number;
  readonly commits: number;
}

export interface KafkaSource {
  /**
   * The records, in offset order per partition. Cold and single-subscriber: subscribing
   * connects a consumer and joins the group; unsubscribing commits what is acknowledged
   * and disconnects. A broker unreachable at start errors the stream within ~10 s
   * (see `KafkaConnectionOptions.retry`); so does a consumer that kafkajs cannot restart.
   */
  readonly records: Observable<KafkaRecord>;
  /** The topics it reads (`options.topics`). */
  readonly topics: readonly string[];
  /** Assignment changes of the running consumer (hot; subscribe before `records` to see the first). */
  readonly assignments: Observable<AssignmentChange>;
  /** Whether the consumer is paused for backpressure (hot, current value first). */
  readonly paused: Observable<boolean>;
  /** The partitions assigned now. */
  readonly assignment: readonly TopicPartition[];
  readonly inFlight: number;
  stats(): KafkaSourceStats;
  /** Per assigned partition: messages after the consumer's position, as of the last fetch or poll. */
  lag(): readonly PartitionLag[];
  /**
   * Whether everything `topicPartition` holds has been handed over, with the consumer
   * running: connected (a fetch completed lately), not paused, not rebalancing, and its
   * position at the partition's high watermark. Lag, backpressure, a rebalance or an
   * unreachable broker all answer false (DESIGN.md: none of them is quiet input).
   */
  caughtUp(topicPartition: TopicPartition): boolean;
  /** Whether the brokers answer (polled every second while subscribed; hot, current value first). */
  readonly reachable: Observable<boolean>;
  /**
   * The group is rebalancing, or the coordinator expelled this member and it is rejoining:
   * the partitions may already belong to another member. True from kafkajs's REBALANCING
   * event (or its log line for an expelled member) until the next assignment.
   */
  readonly rebalancing: boolean;
  /**
   * Stops reading these partitions until `release` (e.g. while their tasks restore state).
   * Call from an `assignments` subscriber: it runs before the first fetch of the assignment.
   * Backpressure's resume leaves held partitions paused.
   */
  hold(partitions: readonly TopicPartition[]): void;
  /** Reads a held partition again, from `offset` (undefined: the partition's first retained record). */
  release(partition: TopicPartition, offset: string | undefined): void;
  /** Acknowledges a record handed downstream: its effects are safely in the sink. */
  ack(record: TopicPartitionOffset): void;
  /** Commits the acknowledged offsets now (they are also committed periodically). */
  commit(): Promise<void>;
  /**
   * Commits exactly these offsets (each the next offset to read): the `manual` mode's commits.
   * Rejects when the commit fails, e.g. with a stale generation during a rebalance: the
   * caller decides what to retry (it knows which partitions it still owns after the rejoin).
   */
  commitOffsets(offsets: readonly TopicPartitionOffset[]): Promise<void>;
  /**
   * Graceful stop: stops fetching, completes `records`, waits up to `drainTimeoutMs`
   * (default 5,000) for the records in flight to be acknowledged, commits, disconnects.
   * After an unsubscription it just waits for that disconnection. Resolves when done.
   */
  stop(drainTimeoutMs?: number): Promise<void>;
}

const DEFAULT_BUFFER_SIZE = 10_000;
/** How often a batch loop calls kafkajs `heartbeat()` (which sends one only when due). */
const HEARTBEAT_CHECK_MS = 500;
/**
 * How long a batch loop hands over records before it lets I/O run (a `setImmediate`
 * turn, a few µs): bounds how long a result waits behind the rest of its batch.
 */
const YIELD_EVERY_MS = 1;
const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
/** A consumer whose last fetch completed longer ago than this (and 5 × maxWaitTime) is not connected. */
const FETCH_FRESH_MS = 2_000;
/** How long a consumer that kafkajs gave up on while the brokers were away waits before it runs again (kafkajs's own restarts wait 300 ms and more). */
const RERUN_AFTER_MS = 1_000;

/** Commit errors after which the next periodic commit simply tries again. */
const TRANSIENT_COMMIT_ERRORS = new Set(['REBALANCE_IN_PROGRESS', 'ILLEGAL_GENERATION', 'UNKNOWN_MEMBER_ID', 'NOT_COORDINATOR', 'COORDINATOR_NOT_AVAILABLE', 'COORDINATOR_LOAD_IN_PROGRESS']);

/**
 * Whether `error` (or what it wraps) is one of `TRANSIENT_COMMIT_ERRORS`. kafkajs's retrier
 * wraps a non-retriable protocol error such as ILLEGAL_GENERATION (a commit of the generation
 * a rebalance just ended) in a KafkaJSNonRetriableError without a `type`, the protocol error
 * being its `cause`.
 */
function isTransientCommitError(error: unknown): boolean {
  for (let e = error, depth = 0; e !== null && typeof e === 'object' && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const type = (e as { type?: unknown }).type;
    if (typeof type === 'string' && TRANSIENT_COMMIT_ERRORS.has(type)) return true;
  }
  return false;
}

const tpKey = (topic: string, partition: number): string => `${topic}\u0000${partition}`;

interface Session {
  readonly consumer: Consumer;
  readonly subscriber: Subscriber<KafkaRecord>;
  /** No more hand-overs (unsubscribed, stopping or failed). */
  stopped: boolean;
  /** `stop()` drives the shutdown; the Observable's teardown must not. */
  draining: boolean;
  /** Connect, subscribe and run; shutdown waits for it so that it never races a connect. */
  started: Promise<void>;
  commitTimer?: NodeJS.Timeout;
  removeListeners: () => void;
  shutdown?: Promise<void>;
}

export function kafkaSource(options: KafkaSourceOptions): KafkaSource {
  const bufferSize = options.bufferSize ?? DEFAULT_BUFFER_SIZE;
  if (!Number.isInteger(bufferSize) || bufferSize < 1) throw new Error(`kafkaSource: bufferSize must be a positive integer, got ${bufferSize}`);
  if (options.topics.length === 0) throw new Error('kafkaSource: no topics given');
  const resumeBelow = bufferSize / 2;
  const manual = options.offsetCommits === 'manual';
  const topicList = options.topics.map((topic) => ({ topic }));
  const kafka = createKafka(watchingExpulsion({ clientId: `stream-processor-${options.groupId}`, ...options }, () => (rebalancing = true)));

  const assignments = new Subject<AssignmentChange>();
  const paused = new BehaviorSubject(false);
  let assignment: TopicPartition[] = [];
  /** Offsets of the current assignment generation; reset on every join. */
  let trackers = new Map<string, PartitionOffsets>();
  let session: Session | undefined;
  let lastShutdown: Promise<void> = Promise.resolve();
  let committing: Promise<void> | undefined;
  let inFlight = 0;
  const progress = new PartitionProgress({
    ...options,
    groupId: options.groupId,
    topics: options.topics,
    fromBeginning: options.fromBeginning ?? true,
  });
  const fetchFreshMs = Math.max(FETCH_FRESH_MS, 5 * (options.maxWaitTimeMs ?? 100));
  /** When the consumer's last fetch completed; 0 while it is not fetching (start, crash, rebalance). */
  let lastFetchAt = 0;
  let rebalancing = false;
  const stats = { maxInFlight: 0, handedOver: 0, acked: 0, pauses: 0, resumes: 0, commits: 0 };

  function pause(s: Session): void {
    // Called even when already paused: a consumer kafkajs restarted after a crash runs unpaused.
    s.consumer.pause(topicList);
    if (paused.value) return;
    stats.pauses++;
    paused.next(true);
  }

  function resume(s: Session): void {
    try {
      s.consumer.resume(topicList);
      pauseHeld(s);
      // A consumer with every partition paused sleeps its maxWaitTime before fetching again.
      wakeIdleFetchers();
    } catch {
      // The consumer is between runs (kafkajs restarting it): the new run starts unpaused.
    }
    stats.resumes++;
    paused.next(false);
  }

  /** Partitions held by `hold` (by key): paused whatever backpressure does. */
  const held = new Map<string, TopicPartition>();
  function pauseHeld(s: Session): void {
    const byTopic = new Map<string, number[]>();
    for (const tp of held.values()) byTopic.set(tp.topic, [...(byTopic.get(tp.topic) ?? []), tp.partition]);
    for (const [topic, partitions] of byTopic) s.consumer.pause([{ topic, partitions }]);
  }

  function onJoin(memberAssignment: Readonly<Record<string, readonly number[]>>): void {
    const current = Object.entries(memberAssignment).flatMap(([topic, partitions]) => partitions.map((partition) => ({ topic, partition })));
    const before = new Set(assignment.map((tp) => tpKey(tp.topic, tp.partition)));
    const now = new Set(current.map((tp) => tpKey(tp.topic, tp.partition)));
    const change: AssignmentChange = {
      assigned: current.filter((tp) => !before.has(tpKey(tp.topic, tp.partition))),
      revoked: assignment.filter((tp) => !now.has(tpKey(tp.topic, tp.partition))),
      current,
    };
    assignment = current;
    rebalancing = false;
    progress.assign(current);
    for (const tp of change.revoked) held.delete(tpKey(tp.topic, tp.partition));
    const s = session;
    // A consumer kafkajs restarted after a crash runs unpaused: hold what is still held.
    if (s !== undefined && held.size > 0) pauseHeld(s);
    if (options.startOffset !== undefined && s !== undefined) {
      for (const tp of current) {
        const offset = options.startOffset(tp);
        if (offset === undefined) continue;
        s.consumer.seek({ topic: tp.topic, partition: tp.partition, offset });
        progress.seek(tp.topic, tp.partition, offset);
      }
    }
    // kafkajs restarts every assigned partition at its committed offset after a join, so
    // the pending offsets of the old generation no longer describe what will be handed over.
    trackers = new Map();
    assignments.next(change);
  }

  async function commitNow(s: Session): Promise<void> {
    if (manual) return;
    const batch: { tracker: PartitionOffsets; tp: TopicPartitionOffset }[] = [];
    for (const [key, tracker] of trackers) {
      const offset = tracker.toCommit();
      if (offset === undefined) continue;
      const [topic, partition] = key.split('\u0000') as [string, string];
      batch.push({ tracker, tp: { topic, partition: Number(partition), offset } });
    }
    if (batch.length === 0) return;
    try {
      await s.consumer.commitOffsets(batch.map((b) => b.tp));
      for (const b of batch) b.tracker.markCommitted(b.tp.offset);
      stats.commits++;
    } catch (error) {
      if (s.stopped || isTransientCommitError(error)) return;
      throw error;
    }
  }

  /** Commits serially: a commit requested while one runs waits for it, then commits the newer offsets. */
  function commit(s: Session): Promise<void> {
    const next = (committing ?? Promise.resolve()).then(() => commitNow(s));
    const settled = next.catch(() => undefined);
    committing = settled;
    void settled.then(() => {
      if (committing === settled) committing = undefined;
    });
    return next;
  }

  async function shutdown(s: Session): Promise<void> {
    s.stopped = true;
    await s.started.catch(() => undefined);
    clearInterval(s.commitTimer);
    try {
      await commit(s);
    } catch {
      // Best effort: uncommitted records are delivered again to the next owner.
    }
    try {
      await s.consumer.disconnect();
    } finally {
      s.removeListeners();
      if (session === s) session = undefined;
      assignment = [];
      lastFetchAt = 0;
      await progress.stop();
      trackers = new Map();
      if (paused.value) paused.next(false);
    }
  }

  const records = new Observable<KafkaRecord>((subscriber) => {
    if (session !== undefined) {
      subscriber.error(new Error('kafkaSource: records is already subscribed; a source feeds one pipeline'));
      return undefined;
    }
    const consumer = kafka.consumer({
      groupId: options.groupId,
      maxWaitTimeInMs: options.maxWaitTimeMs ?? 100,
      sessionTimeout: options.sessionTimeoutMs ?? 30_000,
      heartbeatInterval: options.heartbeatIntervalMs ?? 3_000,
      maxBytesPerPartition: options.maxBytesPerPartition ?? 1_048_576,
      allowAutoTopicCreation: false,
      ...(options.together === undefined ? {} : { partitionAssigners: [joinTogetherAssigner(options.together)] }),
    });
    const s: Session = { consumer, subscriber, stopped: false, draining: false, started: Promise.resolve(), removeListeners: () => undefined };
    session = s;
    // Records of an earlier subscription are redelivered from the committed offsets; do not count them twice.
    inFlight = 0;

    const fail = (error: unknown): void => {
      if (s.stopped) return;
      s.stopped = true;
      subscriber.error(error);
    };
    const removers = [
      consumer.on(consumer.events.GROUP_JOIN, (event) => onJoin(event.payload.memberAssignment)),
      consumer.on(consumer.events.FETCH, () => {
        lastFetchAt = Date.now();
      }),
      consumer.on(consumer.events.REBALANCING, () => {
        rebalancing = true;
      }),
      // kafkajs restarts the consumer itself after retriable failures. It gives up on a group
      // coordinator it could not find (KafkaJSGroupCoordinatorNotFound, which it calls
      // non-retriable), as a broker shutting down answers for a moment: that is the brokers
      // being away, so the consumer runs again, as kafkajs would have. Anything else ends the stream.
      consumer.on(consumer.events.CRASH, (event) => {
        lastFetchAt = 0;
        if (event.payload.restart) return;
        if (!brokersUnavailable(event.payload.error)) return fail(event.payload.error);
        setTimeout(() => {
          if (!s.stopped) run().catch(fail);
        }, RERUN_AFTER_MS).unref();
      }),
    ];
    s.removeListeners = (): void => removers.forEach((remove) => remove());

    const eachBatch = async ({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload): Promise<void> => {
      const { topic, partition } = batch;
      // Manual commits never read the trackers: skip their per-record Map work.
      let tracker: PartitionOffsets | undefined;
      if (!manual) {
        const key = tpKey(topic, partition);
        tracker = trackers.get(key);
        if (tracker === undefined) trackers.set(key, (tracker = new PartitionOffsets()));
      }
      // kafkajs's resolveOffset parses the offset into a Long on every call, and isStale
      // JSON-encodes a key: per record they cost more than the hand-over itself. Between
      // two awaits nothing can seek or stop the consumer (downstream work is synchronous),
      // so resolve the last handed-over offset before each await and on the way out, and
      // ask isRunning/isStale only after an await.
      let unresolved: string | undefined;
      const resolveHandedOver = (): void => {
        if (unresolved === undefined) return;
        resolveOffset(unresolved);
        progress.handedOver(topic, partition, unresolved, batch.highWatermark);
        unresolved = undefined;
      };
      if (!isRunning() || isStale() || held.has(tpKey(topic, partition))) return;
      let lastHeartbeat = Date.now();
      let lastYield = lastHeartbeat;
      const messages = batch.messages;
      const handOverCount = Math.min(messages.length, options.maxRecordsPerBatch ?? Infinity);
      for (let i = 0; i < handOverCount; i++) {
        if (s.stopped) break;
        if (inFlight >= bufferSize) {
          // Unhanded messages stay unresolved, so the fetch after `resume` starts at them.
          pause(s);
          break;
        }
        const message = messages[i]!;
        const value = message.value === null ? '' : message.value.toString('utf8');
        const timestamp = Number(message.timestamp);
        const { offset } = message;
        const record: KafkaRecord =
          message.key === null
            ? { kind: 'record', value, timestamp, topic, partition, offset, headers: message.headers }
            : { kind: 'record', value, timestamp, key: message.key.toString('utf8'), topic, partition, offset, headers: message.headers };
        tracker?.handOver(offset);
        unresolved = offset;
        inFlight++;
        stats.handedOver++;
        if (inFlight > stats.maxInFlight) stats.maxInFlight = inFlight;
        subscriber.next(record);
        const now = Date.now();
        if (now - lastYield >= YIELD_EVERY_MS) {
          resolveHandedOver();
          if (now - lastHeartbeat >= HEARTBEAT_CHECK_MS) {
            // Downstream work runs inside this loop; keep the member in the group meanwhile.
            await heartbeat();
            lastHeartbeat = now;
          }
          // A batch holds thousands of records, and everything downstream (the sink's sends,
          // the broker's acks, timers) waits for this loop to give the event loop a turn:
          // without it a window's result sat unsent until the whole batch was handed over.
          await yieldToEventLoop();
          lastYield = Date.now();
          if (s.stopped || !isRunning() || isStale()) return;
        }
      }
      resolveHandedOver();
    };

    const run = (): Promise<void> => consumer.run({ autoCommit: false, eachBatchAutoResolve: false, partitionsConsumedConcurrently: 1, eachBatch });
    const start = async (): Promise<void> => {
      try {
        await consumer.connect();
      } catch (error) {
        throw connectError(`kafkaSource (group ${options.groupId})`, options.brokers, error);
      }
      if (s.stopped) return;
      await consumer.subscribe({ topics: [...options.topics], fromBeginning: options.fromBeginning ?? true });
      await options.together?.barrier();
      if (s.stopped) return;
      progress.start();
      await run();
      s.commitTimer = setInterval(() => {
        commit(s).catch(fail);
      }, options.commitIntervalMs ?? 1_000);
    };
    s.started = start();
    s.started.catch(fail);

    return () => {
      if (s.draining) return;
      s.shutdown = shutdown(s);
      lastShutdown = s.shutdown.catch(() => undefined);
    };
  });

  return {
    records,
    topics: options.topics,
    assignments: assignments.asObservable(),
    paused: paused.pipe(distinctUntilChanged()),
    get assignment() {
      return assignment;
    },
    get inFlight() {
      return inFlight;
    },
    stats: () => ({ inFlight, ...stats }),
    lag: () => progress.lag(),
    caughtUp(tp) {
      const s = session;
      return (
        s !== undefined &&
        !held.has(tpKey(tp.topic, tp.partition)) &&
        !s.stopped &&
        !paused.value &&
        !rebalancing &&
        Date.now() - lastFetchAt <= fetchFreshMs &&
        progress.isReachable &&
        progress.caughtUp(tp.topic, tp.partition)
      );
    },
    reachable: progress.reachable,
    get rebalancing() {
      return rebalancing;
    },
    hold(partitions) {
      const s = session;
      for (const tp of partitions) held.set(tpKey(tp.topic, tp.partition), tp);
      try {
        if (s !== undefined && partitions.length > 0) pauseHeld(s);
      } catch {
        // The consumer is between runs (kafkajs restarting it): its next join pauses what is held.
      }
    },
    release(tp, next) {
      if (!held.delete(tpKey(tp.topic, tp.partition))) return;
      // kafkajs seeks to a partition's first retained record with offset -2.
      const offset = next ?? '-2';
      const s = session;
      if (s === undefined || s.stopped) return;
      try {
        s.consumer.seek({ topic: tp.topic, partition: tp.partition, offset });
        progress.seek(tp.topic, tp.partition, offset);
        // Paused for backpressure: the next resume reads it again.
        if (!paused.value) {
          s.consumer.resume([{ topic: tp.topic, partitions: [tp.partition] }]);
          wakeIdleFetchers();
        }
      } catch {
        // The consumer is between runs (kafkajs restarting it): its next join seeks to `startOffset`.
      }
    },
    ack(record) {
      if (inFlight > 0) inFlight--;
      stats.acked++;
      if (!manual) trackers.get(tpKey(record.topic, record.partition))?.ack(record.offset);
      if (paused.value && inFlight < resumeBelow && session !== undefined && !session.stopped) resume(session);
    },
    commit: () => (session === undefined ? Promise.resolve() : commit(session)),
    async commitOffsets(offsets) {
      const s = session;
      if (offsets.length === 0) return;
      if (s === undefined || s.stopped) throw new Error('kafkaSource: no running consumer to commit offsets with');
      await s.consumer.commitOffsets([...offsets]);
      stats.commits++;
    },
    async stop(drainTimeoutMs = 5_000) {
      const s = session;
      if (s === undefined || s.shutdown !== undefined) return lastShutdown;
      s.stopped = true;
      s.draining = true;
      try {
        s.consumer.pause(topicList);
      } catch {
        // Not running yet: nothing to pause.
      }
      s.subscriber.complete();
      const deadline = Date.now() + drainTimeoutMs;
      while (inFlight > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
      s.shutdown = shutdown(s);
      lastShutdown = s.shutdown.catch(() => undefined);
      return s.shutdown;
    },
  };
}

/**
 * What kafkajs's runner logs (ERROR) when the coordinator no longer knows this member: it was
 * expelled after its session timeout and its partitions went to others. It then rejoins
 * without the REBALANCING event a rebalance emits (runner.js, scheduleFetchManager).
 */
const EXPELLED = 'The coordinator is not aware of this member, re-joining the group';

/**
 * `options` with a kafkajs log watcher that calls `onExpelled` on `EXPELLED`, so that the
 * source counts the rejoin as a rebalance (no checkpoints for partitions already another
 * member's). It reads ERROR entries whatever `logLevel` says, and passes on only what
 * `logLevel` asks for, to `logCreator` or else as kafkajs's console logger would.
 */
function watchingExpulsion(options: KafkaConnectionOptions, onExpelled: () => void): KafkaConnectionOptions {
  const wanted = options.logLevel ?? logLevel.NOTHING;
  const creator: logCreator = (level) => {
    const log = options.logCreator?.(level) ?? consoleLog;
    return (entry) => {
      if (entry.log.message === EXPELLED) onExpelled();
      if (entry.level <= wanted) log(entry);
    };
  };
  return { ...options, logLevel: Math.max(wanted, logLevel.ERROR), logCreator: creator };
}

/** kafkajs's default log line: `<label> [<namespace>] <message> <the rest as JSON>`. */
function consoleLog({ namespace, level, label, log }: LogEntry): void {
  const { message, ...rest } = log;
  const line = `${label} [${namespace}] ${message} ${JSON.stringify(rest)}`;
  if (level <= logLevel.WARN) console.error(line);
  else console.info(line);
}
