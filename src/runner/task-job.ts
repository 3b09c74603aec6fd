/**
 * The task runner (Kafka Streams' StreamThread): reads a partitioned source, runs a task per
 * assigned partition (`src/tasks`), and checkpoints them all at one barrier through the
 * processing mode. The Kafka job runs it over its consumer (with the state topic, the
 * repartition stage and exactly-once around it); a custom `PartitionedSource` runs it with
 * the local copy alone (`partitioned-job.ts`).
 */
import { EMPTY, Observable, Subject, concat, defer, merge } from 'rxjs';
import { type AggregateView, type Barrier, checkpoint, type StreamElement } from '@llm-feedback/stream-operators';
import type { PartitionChange, PartitionedRecord, PartitionedSource, SourcePartition } from '../builder/plugins.js';
import type { ProcessorConfig } from '../config/index.js';
import { positionKey } from '../kafka/offset-committer.js';
import type { PartitionIds } from '../kafka/partition-ids.js';
import type { Logger, ProcessorMetrics } from '../observability/index.js';
import { feedbackMetrics, type FeedbackResult } from '../pipeline/feedback-pipeline.js';
import type { SourceOffset } from '../repartition/source-position.js';
import type { LocalTaskStore } from '../tasks/local-store.js';
import { TaskManager, type RemoteState } from '../tasks/task-manager.js';
import { releaseWhenFlushed, resultLatency } from './record-collector.js';
import { rejectInput, type JobStats } from './job-stats.js';
import { configuredParser } from './parse-lines.js';
import type { JobOutputs } from './outputs.js';
import type { ProcessingMode } from './processing-mode.js';
import { pipelineWriter } from './run-pipeline.js';
import { whenAborted } from './when-aborted.js';

/** What the runner reads: a partitioned source, and what a Kafka consumer tells besides. */
export interface TaskSource<R extends PartitionedRecord = PartitionedRecord> extends PartitionedSource {
  readonly records: Observable<R>;
  /** A rebalance is under way: the partitions may already be another member's, so no checkpoint is written. */
  readonly rebalancing?: boolean;
  /** Whether the source's servers answer (hot, current value first). */
  readonly reachable?: Observable<boolean>;
  /** Whether the source is paused for backpressure (hot, current value first). */
  readonly paused?: Observable<boolean>;
  readonly inFlight?: number;
  /** Per assigned partition: records after the source's position. */
  lag?(): readonly (SourcePartition & { readonly lag: number })[];
  /** `drainTimeoutMs`: how long to wait for records in flight (the runner passes 0: its final checkpoint covers them). */
  stop(drainTimeoutMs?: number): Promise<void>;
}

/** What the processing mode is built with: how a task is restored anew, and how a failure ends the job. */
export interface ModeHooks {
  readonly restoreAnew: (partition: number) => void;
  readonly onError: (error: unknown) => void;
}

/** How long a stop may take by default. */
const DEFAULT_STOP_TIMEOUT_MS = 20_000;

/** When a stop must be done by: set when the signal aborts. */
export class StopDeadline {
  private at = Infinity;

  constructor(signal: AbortSignal, readonly timeoutMs = DEFAULT_STOP_TIMEOUT_MS) {
    whenAborted(signal, () => (this.at = Date.now() + timeoutMs));
  }

  /** What is left of the stop's time (at least a second); unbounded while not stopping. */
  remaining(): number {
    return this.at === Infinity ? Infinity : Math.max(1_000, this.at - Date.now());
  }
}

export interface TaskJobOptions<R extends PartitionedRecord> {
  readonly config: ProcessorConfig;
  /** Ends the job: a final checkpoint, then the source stops. */
  readonly signal: AbortSignal;
  readonly deadline: StopDeadline;
  readonly source: TaskSource<R>;
  /** Partition ids of the source's topics. */
  readonly ids: PartitionIds;
  readonly local: LocalTaskStore;
  /** The state topic's partition count (1 without one). */
  readonly statePartitions: number;
  /** What a new task restores from besides the local copy (the state topic), or nothing. */
  readonly remote?: RemoteState;
  readonly mode: (hooks: ModeHooks) => ProcessingMode;
  readonly stats: JobStats;
  /** Where each task stands (next offset per position key), shared with the caller (the Kafka source's `startOffset`). */
  readonly positions?: Record<string, string>;
  /** The job's shared outputs: flushed once the input ends. */
  readonly outputs: Pick<JobOutputs, 'flush'>;
  /** What the source is, for its log lines (e.g. the brokers). */
  readonly describeSource?: Record<string, unknown>;
  /** Whether a failed restore (exactly-once's `restoreAnew`) may be tried again: the servers were only away. */
  readonly retriable?: (error: unknown) => boolean;
  /** Failures of what runs beside the tasks (the repartition stage): they end the job. */
  readonly failures?: Observable<unknown>;
  /** The input position a repartitioned record came from (its headers). */
  readonly repartitionedFrom?: (record: R) => SourceOffset | undefined;
  /** Called before the source stops (e.g. stopping the stage that feeds it). */
  readonly beforeSourceStop?: () => Promise<void>;
  /** Why a final checkpoint did not complete, for its error. */
  readonly stopHint?: string;
  readonly metrics?: ProcessorMetrics;
  readonly logger?: Logger;
  readonly now: () => number;
  readonly onWindows?: (view: AggregateView<FeedbackResult>) => void;
  readonly onReady?: () => void;
  readonly onBrokerReachable?: (reachable: boolean) => void;
  readonly onAssignment?: (change: PartitionChange) => void;
  readonly onLatency?: (ms: number) => void;
}

/**
 * Runs the tasks until `signal` (or the source completes). Each record is parsed here (invalid
 * ones become dead letters) and handed to its partition's task; a new task is restored
 * (`TaskManager.plan`) and its partition read from where its state stands.
 *
 * Backpressure: each record is acknowledged to the source once processed, unless the outputs
 * hold more than `buffer_size` unacknowledged messages; then the acknowledgements wait for the
 * outputs to flush, and the source pauses when `buffer_size` records are unacknowledged.
 */
export async function runTaskJob<R extends PartitionedRecord>(options: TaskJobOptions<R>): Promise<void> {
  const { config, source, ids, local, stats, logger, metrics, now, deadline } = options;
  // A failure before the run below starts (a restore, the stage) is kept for it.
  let failedEarly: { error: unknown } | undefined;
  let failure = (error: unknown): void => {
    failedEarly ??= { error };
  };
  const failures = options.failures?.subscribe((error) => failure(error));
  let handedOverAt = 0;
  const onResult = resultLatency(metrics, options.onLatency, () => handedOverAt);
  const delivery = options.mode({ onError: (error) => failure(error), restoreAnew: (partition) => restoreAnew(ids.topicPartition(partition)) });
  const metricsAggregator = feedbackMetrics(config);
  const tasks = new TaskManager({
    config,
    writer: (partition) => pipelineWriter({ config, outputs: delivery.outputs(partition), stats, metrics, now, onResult }),
    metrics: metricsAggregator,
    caughtUp: (id) => source.caughtUp(ids.topicPartition(id)),
    onError: (error) => failure(error),
    local,
    ids,
    statePartitions: options.statePartitions,
    onDuplicate: () => stats.duplicates++,
    restoreLocally: delivery.restoreLocally,
    positions: options.positions,
  });
  options.onWindows?.(tasks.windowState());
  const remote = options.remote === undefined ? undefined : delivery.remoteState(options.remote);

  let ready = false;
  const assignments = source.assignments.subscribe((change) => {
    // Emitted after the source has sought its partitions for this assignment.
    for (const tp of change.revoked) {
      metrics?.consumerLag.remove({ topic: tp.topic, partition: String(tp.partition) });
      metrics?.tasks.remove(positionKey(tp.topic, tp.partition));
      delivery.revoked(ids.id(tp.topic, tp.partition));
    }
    logger?.info({ assigned: change.assigned, revoked: change.revoked, current: change.current }, 'partition assignment');
    options.onAssignment?.(change);
    const began = performance.now();
    const restored = tasks.assign(change, source, remote).then((started) => {
      const ms = performance.now() - began;
      for (const task of started) {
        const tp = ids.topicPartition(task.partition);
        metrics?.tasks.restored(positionKey(tp.topic, tp.partition), task.from === 'state topic' ? 'state_topic' : task.from, ms / 1000);
      }
      logger?.info({ tasks: started, ms: Math.round(ms) }, 'tasks restored');
      const resumed = started.filter((task) => task.from === 'local');
      if (resumed.length > 0) logger?.info({ tasks: resumed.map((task) => task.partition), state: local.location }, 'resuming from checkpoint');
    });
    restored.catch((error: unknown) => failure(error));
    if (!ready) {
      ready = true;
      void restored.then(() => {
        delivery.restored(tasks.positions);
        options.onReady?.();
      }, () => undefined);
    } else {
      delivery.resumed();
    }
  });
  const reachable = source.reachable?.subscribe((up) => {
    if (up) delivery.resumed();
    else logger?.warn(options.describeSource ?? {}, 'Kafka brokers unreachable: retrying; watermarks hold and checkpoints wait');
    options.onBrokerReachable?.(up);
  });
  /**
   * Exactly-once: a task whose transaction was fenced or failed is closed and restored from
   * what is committed, while this member holds its partition; a restore the brokers fail is
   * tried again (backoff up to 5 s) until they answer or the partition moves.
   */
  const restoreAnew = (tp: SourcePartition, attempt = 0): void => {
    const change = { assigned: [], revoked: tasks.has(ids.id(tp.topic, tp.partition)) ? [tp] : [], current: source.assignment };
    tasks.assign(change, source, remote).catch((error: unknown) => {
      if (options.retriable?.(error) !== true) return failure(error);
      logger?.warn({ err: error, topic: tp.topic, partition: tp.partition }, 'restoring a task failed: trying again');
      const again = (): void => {
        const owned = source.assignment.some((a) => a.topic === tp.topic && a.partition === tp.partition);
        if (owned && !tasks.has(ids.id(tp.topic, tp.partition))) restoreAnew(tp, attempt + 1);
      };
      setTimeout(again, Math.min(5_000, 250 * 2 ** attempt)).unref();
    });
  };
  const pausedState = source.paused?.subscribe((paused) => metrics?.paused.set(paused ? 1 : 0));
  const publishMetrics = (): void => {
    if (metrics === undefined) return;
    stats.publish(metrics);
    if (source.inFlight !== undefined) metrics.inFlight.set(source.inFlight);
    for (const { topic, partition, lag } of source.lag?.() ?? []) metrics.consumerLag.set({ topic, partition: String(partition) }, lag);
    for (const tp of source.assignment) {
      const windows = tasks.get(ids.id(tp.topic, tp.partition))?.windows;
      if (windows !== undefined) metrics.tasks.observe(positionKey(tp.topic, tp.partition), windows.watermark, windows.openWindows);
    }
  };
  const publish = setInterval(publishMetrics, 1000);
  publish.unref();

  const parser = configuredParser(config, now);
  const acknowledge = releaseWhenFlushed(delivery.backlog, config.buffer_size, (r: R) => source.ack(r));
  // Per record, building the position key string and a position object for the parser cost
  // more than the hand-over itself (~6% of the job's allocations): the keys are built once
  // per partition, and the parser, which copies the position into what it returns and keeps
  // nothing, is given one object.
  const positionKeys = new Map<number, string>();
  const position: { partition: number; offset: string | undefined } = { partition: 0, offset: undefined };
  const onRecord = (record: R): void => {
    const partition = ids.id(record.topic, record.partition);
    const task = tasks.get(partition);
    if (task === undefined) {
      // Read just before its partition was held for a restore: read again once released.
      source.ack(record);
      return;
    }
    handedOverAt = performance.now();
    stats.recordsIn++;
    position.partition = partition;
    position.offset = record.offset;
    const parsed = parser(record.value, position);
    let key = positionKeys.get(partition);
    if (key === undefined) positionKeys.set(partition, (key = positionKey(record.topic, record.partition)));
    tasks.positions[key] = String(Number(record.offset) + 1);
    if (parsed.kind === 'record') task.process(parsed, options.repartitionedFrom?.(record));
    else rejectInput(delivery.outputs(partition), stats, parsed, record);
    acknowledge(record);
  };
  const onBarrier = (barrier: Barrier): void => {
    // During a rebalance a task's partition may already be another member's, which restores
    // from the state topic: writing this member's checkpoint after that read would interleave
    // two owners' records. The next barrier after the rejoin checkpoints what is still owned.
    if (source.rebalancing === true) {
      logger?.debug({ checkpoint: barrier.id }, 'checkpoint skipped: the group is rebalancing');
      return;
    }
    // Every task is cut now (synchronously, between two records): one consistent point.
    delivery.checkpoint(barrier, tasks);
  };

  // A source that completes stops the job as the signal does: a final barrier comes before the end.
  const ended = new Subject<void>();
  const records = concat(source.records, defer(() => (ended.next(), EMPTY)));
  const input: Observable<StreamElement<string>> = records.pipe(
    checkpoint<string>({
      intervalMs: config.checkpoint_interval_secs * 1000,
      firstId: 1,
      positions: () => ({ ...tasks.positions }),
      trigger: merge(stopBarrier(options.signal), delivery.extraBarriers, ended),
    }),
  );

  // Stop: the final barrier is already on its way (trigger); once its checkpoint is
  // complete, the tasks are dropped and the source stops. With the brokers gone the
  // checkpoint cannot complete: after three quarters of the stop's time the stop gives up,
  // and the last complete checkpoint stays what a restart resumes from.
  const checkpointTimeoutMs = deadline.timeoutMs * 0.75;
  try {
    await new Promise<void>((resolve, reject) => {
      failure = reject;
      if (failedEarly !== undefined) reject(failedEarly.error);
      const finalCheckpoint = (): Promise<void> =>
        withTimeout(delivery.drain(), checkpointTimeoutMs, () => stopError(delivery, checkpointTimeoutMs, source, options.stopHint));
      const subscription = input.subscribe({
        next: (element) => {
          if (element.kind === 'record') onRecord(element as R);
          else if (element.kind === 'barrier') onBarrier(element);
        },
        error: reject,
        complete: () => finalCheckpoint().then(resolve, reject),
      });
      whenAborted(options.signal, () => {
        finalCheckpoint().then(resolve, reject).finally(() => subscription.unsubscribe());
      });
    });
    await options.outputs.flush();
    await delivery.drain();
  } finally {
    tasks.close();
    clearInterval(publish);
    assignments.unsubscribe();
    reachable?.unsubscribe();
    pausedState?.unsubscribe();
    failures?.unsubscribe();
    await options.beforeSourceStop?.();
    // Leaving the group needs the brokers too; without them the session timeout does it.
    await withTimeout(source.stop(0), deadline.remaining(), () => new Error('stopping the source timed out')).catch((error: unknown) =>
      logger?.warn({ err: error }, 'stopping the source'),
    );
    publishMetrics();
    // Bounded: with the brokers gone, what is unsent stays covered by the last complete checkpoint.
    await withTimeout(delivery.close(deadline.remaining()), deadline.remaining(), () => new Error('timed out')).catch((error: unknown) =>
      logger?.warn({ err: error }, 'closing the state topic and transactional producers'),
    );
  }
}

/** `promise`, or a rejection with `error()` after `ms`. */
export function withTimeout<T>(promise: Promise<T>, ms: number, error: () => Error): Promise<T> {
  if (!Number.isFinite(ms)) return promise;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(error()), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function stopError(mode: ProcessingMode, ms: number, source: PartitionedSource, hint = 'is the source reachable?'): Error {
  const last = mode.latest;
  const why = source.assignment.length === 0 ? 'no partitions assigned' : 'outputs not acknowledged';
  return new Error(
    `stopping: the final checkpoint did not complete within ${ms / 1000} s (${why}; ${hint}). ` +
      `Nothing is lost: a restart resumes from the last complete checkpoint${last === undefined ? ' restored at start' : ` (${last})`}.`,
  );
}

/** Emits once when the signal aborts (at once if it has): the final checkpoint's barrier. */
function stopBarrier(signal: AbortSignal): Observable<void> {
  return new Observable<void>((subscriber) => whenAborted(signal, () => subscriber.next()));
}
