import { Subject, merge, type Observable } from 'rxjs';
import { type AggregateView, type Barrier, checkpoint, type StreamElement } from '@llm-feedback/stream-operators';
import type { ProcessorConfig } from '../config/index.js';
import { brokersUnavailable } from '../kafka/client.js';
import { consumerSettings, ensureTopics, kafkaConnection, kafkaSource, type AssignmentChange, type KafkaRecord, type KafkaSource, type TopicPartition } from '../kafka/index.js';
import { positionKey } from '../kafka/offset-committer.js';
import { PartitionIds } from '../kafka/partition-ids.js';
import type { Logger, ProcessorMetrics } from '../observability/index.js';
import { feedbackMetrics, type FeedbackResult } from '../pipeline/feedback-pipeline.js';
import { decideRepartition } from '../repartition/decide.js';
import { repartitionTopicOf, startRepartitioning } from '../repartition/repartitioner.js';
import { sourceOffset } from '../repartition/source-position.js';
import { openKv } from '../state/index.js';
import { LocalTaskStore } from '../tasks/local-store.js';
import { ensureStateTopic, remoteState, stateTopicName } from '../tasks/state-topic.js';
import { TaskManager } from '../tasks/task-manager.js';
import { releaseWhenFlushed, resultLatency } from './record-collector.js';
import { JobStats, rejectInput, type JobSummary } from './job-stats.js';
import { ChannelOutputs, type JobOutputs } from './outputs.js';
import { configuredParser } from './parse-lines.js';
import { processingMode, type ProcessingMode } from './processing-mode.js';
import { pipelineWriter } from './run-pipeline.js';

export interface KafkaJobOptions {
  readonly config: ProcessorConfig;
  /** Ends the job: a final checkpoint is taken and committed, then the consumer leaves the group. */
  readonly signal: AbortSignal;
  /** Default: the sink and dead-letter outputs the config names. */
  readonly outputs?: JobOutputs;
  readonly metrics?: ProcessorMetrics;
  readonly logger?: Logger;
  readonly now?: () => number;
  /** The open windows of every task, for queries and gauges (once, at start). */
  readonly onWindows?: (view: AggregateView<FeedbackResult>) => void;
  /** Called once state is restored and the consumer has its first assignment. */
  readonly onReady?: () => void;
  /** Whether the brokers answer, on every change (the service's `/readyz`). */
  readonly onBrokerReachable?: (reachable: boolean) => void;
  /**
   * How long a stop may take: its final checkpoint (outputs flushed, offsets committed)
   * gets three quarters of it, leaving the consumer group and closing the producers the
   * rest. Past it the stop gives up with an error, the last complete checkpoint intact.
   * Default 20,000 ms.
   */
  readonly stopTimeoutMs?: number;
  /** Every assignment change of the consumer. */
  readonly onAssignment?: (change: AssignmentChange) => void;
  /** The running source, for observation (tests read its backpressure statistics). */
  readonly onSource?: (source: KafkaSource) => void;
  /** Processing latency of each result in ms, once acknowledged (benchmarks). */
  readonly onLatency?: (ms: number) => void;
}

const DEFAULT_STOP_TIMEOUT_MS = 20_000;

/**
 * Runs the pipeline from Kafka topics to the configured outputs until `signal`.
 *
 * Each assigned partition is a task (`src/tasks`) with its own watermark and windows;
 * records are parsed here (invalid ones become dead letters) and handed to their task.
 * Input not keyed by the key fields is first repartitioned (`src/repartition`): the tasks
 * then read the repartition topic, and the stage writes the dead letters.
 * How the tasks' output and checkpoints reach Kafka is the processing mode
 * (`processing-mode.ts`): at-least-once (state topic, local copy, then the offsets; DESIGN.md
 * "Checkpoints and recovery") or exactly-once (one transaction per task and checkpoint).
 * A new task is restored (local copy or state topic, see `TaskManager.plan`) and resumes at
 * its state's position, or starts empty at the partition's start.
 *
 * Backpressure: each record is acknowledged to the source once processed, unless
 * the outputs hold more than `buffer_size` unacknowledged messages; then the
 * acknowledgements wait for the outputs to flush, and the source pauses its
 * consumer when `buffer_size` records are unacknowledged.
 */
export async function runKafkaJob(options: KafkaJobOptions): Promise<JobSummary> {
  const { config, logger, metrics } = options;
  const now = options.now ?? Date.now;
  const started = now();
  const connection = kafkaConnection(config.kafka);
  const brokers = connection.brokers;
  if (config.kafka.topic_partitions !== undefined) await createTopics(config, logger);
  // It reads only the input: its round trips overlap the state topic's and the outputs' below.
  const decision = decideRepartition(config, repartitionTopicOf(config.kafka.consumer.group_id));
  decision.catch(() => undefined);

  const stateTopic = stateTopicName(config);
  const statePartitions = await ensureStateTopic(config, stateTopic, logger);
  // Memory: the local copy lasts the process only; tasks restore from the state topic.
  const local = new LocalTaskStore(await openKv(config.state));
  const outputs = options.outputs ?? (await ChannelOutputs.open(config, { logger, metrics }));
  // Chosen once the consumer exists (below); its producers are closed last.
  let mode: ProcessingMode | undefined;
  const stopTimeoutMs = options.stopTimeoutMs ?? DEFAULT_STOP_TIMEOUT_MS;
  let stopDeadline = Infinity;
  options.signal.addEventListener('abort', () => (stopDeadline = Date.now() + stopTimeoutMs), { once: true });
  /** What is left of the stop's time (at least a second); unbounded while not stopping. */
  const remaining = (): number => (stopDeadline === Infinity ? Infinity : Math.max(1_000, stopDeadline - Date.now()));
  try {
    const metricsAggregator = feedbackMetrics(config);

    // A failure before the run below starts (the repartition stage, a restore) is kept for it.
    let failedEarly: { error: unknown } | undefined;
    let failure = (error: unknown): void => {
      failedEarly ??= { error };
    };
    const stats = new JobStats();
    // The tasks read the input, or the repartition topic the stage fills from it.
    const stage = await startRepartitioning({ config, decision, outputs, stats, logger, now, onError: (error) => failure(error) });
    const topics = stage.topics;
    const ids = new PartitionIds(topics);
    let handedOverAt = 0;
    const onResult = resultLatency(metrics, options.onLatency, () => handedOverAt);

    const consumer = kafkaSource({
      ...connection,
      ...consumerSettings(config.kafka),
      groupId: config.kafka.consumer.group_id,
      topics,
      bufferSize: config.buffer_size,
      offsetCommits: 'manual',
      // After every rebalance kafkajs restarts even the partitions a member keeps at their
      // committed offset: a kept task continues where it stands instead (reading those
      // records again would count them twice). New partitions are held until their task
      // is restored, then sought to where its state stands.
      startOffset: (tp) => tasks.positions[positionKey(tp.topic, tp.partition)],
    });
    options.onSource?.(consumer);
    const delivery = (mode = processingMode({
      config,
      outputs,
      local,
      source: consumer,
      stateTopic,
      ids,
      logger,
      metrics,
      onError: (error) => failure(error),
      restoreAnew: (partition) => restoreAnew(ids.topicPartition(partition)),
    }));
    const tasks = new TaskManager({
      config,
      writer: (partition) => pipelineWriter({ config, outputs: delivery.outputs(partition), stats, metrics, now, onResult }),
      metrics: metricsAggregator,
      caughtUp: (id) => consumer.caughtUp(ids.topicPartition(id)),
      onError: (error) => failure(error),
      local,
      ids,
      statePartitions,
      onDuplicate: () => stats.duplicates++,
      restoreLocally: delivery.restoreLocally,
    });
    options.onWindows?.(tasks.windowState());
    const remote = delivery.remoteState(remoteState(config, stateTopic, ids, metricsAggregator, statePartitions));

    let ready = false;
    const assignments = consumer.assignments.subscribe((change) => {
      // Emitted after the source has sought its partitions for this assignment.
      for (const tp of change.revoked) {
        metrics?.consumerLag.remove({ topic: tp.topic, partition: String(tp.partition) });
        metrics?.tasks.remove(positionKey(tp.topic, tp.partition));
        delivery.revoked(ids.id(tp.topic, tp.partition));
      }
      logger?.info({ assigned: change.assigned, revoked: change.revoked, current: change.current }, 'partition assignment');
      options.onAssignment?.(change);
      const began = performance.now();
      const restored = tasks.assign(change, consumer, remote).then((started) => {
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
    const reachable = consumer.reachable.subscribe((up) => {
      if (up) delivery.resumed();
      else logger?.warn({ brokers }, 'Kafka brokers unreachable: retrying; watermarks hold and checkpoints wait');
      options.onBrokerReachable?.(up);
    });
    /**
     * Exactly-once: a task whose transaction was fenced or failed is closed and restored from
     * what is committed, while this member holds its partition; a restore the brokers fail is
     * tried again (backoff up to 5 s) until they answer or the partition moves.
     */
    const restoreAnew = (tp: TopicPartition, attempt = 0): void => {
      const change = { assigned: [], revoked: tasks.has(ids.id(tp.topic, tp.partition)) ? [tp] : [], current: consumer.assignment };
      tasks.assign(change, consumer, remote).catch((error: unknown) => {
        if (!brokersUnavailable(error)) return failure(error);
        logger?.warn({ err: error, topic: tp.topic, partition: tp.partition }, 'restoring a task failed: trying again');
        const again = (): void => {
          const owned = consumer.assignment.some((a) => a.topic === tp.topic && a.partition === tp.partition);
          if (owned && !tasks.has(ids.id(tp.topic, tp.partition))) restoreAnew(tp, attempt + 1);
        };
        setTimeout(again, Math.min(5_000, 250 * 2 ** attempt)).unref();
      });
    };
    const pausedState = consumer.paused.subscribe((paused) => metrics?.paused.set(paused ? 1 : 0));
    const publishMetrics = (): void => {
      if (metrics === undefined) return;
      stats.publish(metrics);
      metrics.inFlight.set(consumer.inFlight);
      for (const { topic, partition, lag } of consumer.lag()) metrics.consumerLag.set({ topic, partition: String(partition) }, lag);
      for (const tp of consumer.assignment) {
        const windows = tasks.get(ids.id(tp.topic, tp.partition))?.windows;
        if (windows !== undefined) metrics.tasks.observe(positionKey(tp.topic, tp.partition), windows.watermark, windows.openWindows);
      }
    };
    const publish = setInterval(publishMetrics, 1000);
    publish.unref();

    const parser = configuredParser(config, now);
    const acknowledge = releaseWhenFlushed(delivery.backlog, config.buffer_size, (r: KafkaRecord) => consumer.ack(r));
    const onMessage = (message: KafkaRecord): void => {
      const partition = ids.id(message.topic, message.partition);
      const task = tasks.get(partition);
      if (task === undefined) {
        // Fetched just before its partition was held for a restore: read again once released.
        consumer.ack(message);
        return;
      }
      handedOverAt = performance.now();
      stats.recordsIn++;
      const parsed = parser(message.value, { partition, offset: message.offset });
      tasks.positions[positionKey(message.topic, message.partition)] = String(Number(message.offset) + 1);
      if (parsed.kind === 'record') task.process(parsed, sourceOffset(message.headers));
      else rejectInput(delivery.outputs(partition), stats, parsed, message);
      acknowledge(message);
    };
    const onBarrier = (barrier: Barrier): void => {
      // During a rebalance a task's partition may already be another member's, which restores
      // from the state topic: writing this member's checkpoint after that read would interleave
      // two owners' records. The next barrier after the rejoin checkpoints what is still owned.
      if (consumer.rebalancing) {
        logger?.debug({ checkpoint: barrier.id }, 'checkpoint skipped: the group is rebalancing');
        return;
      }
      // Every task is cut now (synchronously, between two records): one consistent point.
      delivery.checkpoint(barrier, tasks);
    };

    const input: Observable<StreamElement<string>> = consumer.records.pipe(
      checkpoint<string>({
        intervalMs: config.checkpoint_interval_secs * 1000,
        firstId: 1,
        positions: () => ({ ...tasks.positions }),
        trigger: merge(stopBarrier(options.signal), delivery.extraBarriers),
      }),
    );

    // Stop: the final barrier is already on its way (trigger); once its checkpoint
    // is committed, the tasks are dropped and the consumer leaves the group. With the
    // brokers gone the checkpoint cannot complete: after `stopTimeoutMs` the stop gives up,
    // and the last complete checkpoint stays what a restart resumes from.
    const checkpointTimeoutMs = stopTimeoutMs * 0.75;
    try {
      await new Promise<void>((resolve, reject) => {
        failure = reject;
        if (failedEarly !== undefined) reject(failedEarly.error);
        const subscription = input.subscribe({
          next: (element) => {
            if (element.kind === 'record') onMessage(element as KafkaRecord);
            else if (element.kind === 'barrier') onBarrier(element);
          },
          error: reject,
          complete: resolve,
        });
        options.signal.addEventListener('abort', () => {
          const finalCheckpoint = withTimeout(delivery.drain(), checkpointTimeoutMs, () => stopError(delivery, checkpointTimeoutMs, consumer));
          finalCheckpoint.then(resolve, reject).finally(() => subscription.unsubscribe());
        }, { once: true });
      });
      await outputs.flush();
      await delivery.drain();
    } finally {
      tasks.close();
      clearInterval(publish);
      assignments.unsubscribe();
      reachable.unsubscribe();
      pausedState.unsubscribe();
      await stage.stop(stopTimeoutMs / 2).catch((error: unknown) => logger?.warn({ err: error }, 'stopping the repartition stage'));
      // Leaving the group needs the brokers too; without them the session timeout does it.
      await withTimeout(consumer.stop(0), remaining(), () => new Error('leaving the consumer group timed out')).catch((error: unknown) =>
        logger?.warn({ err: error }, 'stopping the Kafka consumer'),
      );
      publishMetrics();
    }
    return stats.summary(now() - started);
  } finally {
    await local.close();
    // Bounded: with the brokers gone, what is unsent stays covered by the last complete checkpoint.
    await withTimeout(mode?.close(remaining()) ?? Promise.resolve(), remaining(), () => new Error('timed out')).catch((error: unknown) =>
      logger?.warn({ err: error }, 'closing the state topic and transactional producers'),
    );
    if (options.outputs === undefined) await withTimeout(outputs.close(), remaining(), () => new Error('closing the outputs timed out'));
  }
}

/** `promise`, or a rejection with `error()` after `ms`. */
function withTimeout<T>(promise: Promise<T>, ms: number, error: () => Error): Promise<T> {
  if (!Number.isFinite(ms)) return promise;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(error()), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function stopError(mode: ProcessingMode, ms: number, source: KafkaSource): Error {
  const last = mode.latest;
  const brokers = source.assignment.length === 0 ? 'no partitions assigned' : 'outputs not acknowledged';
  return new Error(
    `stopping: the final checkpoint did not complete within ${ms / 1000} s (${brokers}; are the Kafka brokers reachable?). ` +
      `Nothing is lost: a restart resumes from the last complete checkpoint${last === undefined ? ' restored at start' : ` (${last})`}.`,
  );
}

/** Emits once when the signal aborts: the final checkpoint's barrier. */
function stopBarrier(signal: AbortSignal): Observable<void> {
  const stop = new Subject<void>();
  signal.addEventListener('abort', () => stop.next(), { once: true });
  return stop;
}

async function createTopics(config: ProcessorConfig, logger: Logger | undefined): Promise<void> {
  const numPartitions = config.kafka.topic_partitions;
  const topics = [...config.kafka.consumer.topics];
  if (config.sink.type === 'kafka') topics.push(config.kafka.producer.result_topic);
  if (config.dead_letter.type === 'kafka') topics.push(config.kafka.producer.dead_letter_topic);
  const result = await ensureTopics(kafkaConnection(config.kafka), topics.map((topic) => ({ topic, numPartitions })));
  if (result.created.length > 0) logger?.info({ topics: result.created, partitions: numPartitions }, 'created topics');
}
