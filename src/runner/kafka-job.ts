import { ReplaySubject } from 'rxjs';
import type { AggregateView } from '@llm-feedback/stream-operators';
import type { ProcessorConfig } from '../config/index.js';
import { brokersUnavailable } from '../kafka/client.js';
import { consumerSettings, ensureTopics, kafkaConnection, kafkaSource, type AssignmentChange, type JoinTogether, type KafkaSource } from '../kafka/index.js';
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
import { JobStats, type JobSummary } from './job-stats.js';
import { ChannelOutputs, type JobOutputs } from './outputs.js';
import { processingMode } from './processing-mode.js';
import { runTaskJob, StopDeadline, withTimeout } from './task-job.js';

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
  /**
   * Worker threads of one process join the group together (`src/parallel`): the barrier is
   * awaited once the job is set up and its consumer connected, right before it joins.
   */
  readonly together?: JoinTogether;
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

/**
 * Runs the pipeline from Kafka topics to the configured outputs until `signal`.
 *
 * The task runner (`task-job.ts`) reads the consumer: each assigned partition is a task
 * (`src/tasks`) with its own watermark and windows. Around it, this wires Kafka: input not
 * keyed by the key fields is first repartitioned (`src/repartition`; the tasks then read the
 * repartition topic, and the stage writes the dead letters); a new task restores from the
 * local copy or the state topic (`TaskManager.plan`); and the processing mode
 * (`processing-mode.ts`) is at-least-once (state topic, local copy, then the offsets;
 * DESIGN.md "Checkpoints and recovery") or exactly-once (one transaction per task and
 * checkpoint).
 */
export async function runKafkaJob(options: KafkaJobOptions): Promise<JobSummary> {
  const { config, logger, metrics } = options;
  const now = options.now ?? Date.now;
  const started = now();
  const connection = kafkaConnection(config.kafka);
  if (config.kafka.topic_partitions !== undefined) await createTopics(config, logger);
  // It reads only the input: its round trips overlap the state topic's and the outputs' below.
  const decision = decideRepartition(config, repartitionTopicOf(config.kafka.consumer.group_id));
  decision.catch(() => undefined);

  const stateTopic = stateTopicName(config);
  const statePartitions = await ensureStateTopic(config, stateTopic, logger);
  // Memory: the local copy lasts the process only; tasks restore from the state topic.
  const local = new LocalTaskStore(await openKv(config.state));
  const outputs = options.outputs ?? (await ChannelOutputs.open(config, { logger, metrics }));
  const deadline = new StopDeadline(options.signal, options.stopTimeoutMs);
  try {
    const stats = new JobStats();
    // Failures of the repartition stage end the job; one before the tasks run is kept for them.
    const stageFailures = new ReplaySubject<unknown>(1);
    // The tasks read the input, or the repartition topic the stage fills from it.
    const stage = await startRepartitioning({ config, decision, outputs, stats, logger, now, onError: (error) => stageFailures.next(error) });
    const ids = new PartitionIds(stage.topics);
    // Where each task stands (the task manager's), what a checkpoint records.
    const positions: Record<string, string> = {};
    const consumer = kafkaSource({
      ...connection,
      ...consumerSettings(config.kafka),
      groupId: config.kafka.consumer.group_id,
      topics: stage.topics,
      bufferSize: config.buffer_size,
      offsetCommits: 'manual',
      // After every rebalance kafkajs restarts even the partitions a member keeps at their
      // committed offset: a kept task continues where it stands instead (reading those
      // records again would count them twice). New partitions are held until their task
      // is restored, then sought to where its state stands.
      startOffset: (tp) => positions[positionKey(tp.topic, tp.partition)],
      together: options.together,
    });
    options.onSource?.(consumer);
    await runTaskJob({
      config,
      signal: options.signal,
      deadline,
      source: consumer,
      ids,
      local,
      statePartitions,
      remote: remoteState(config, stateTopic, ids, feedbackMetrics(config), statePartitions),
      mode: (hooks) => processingMode({ config, outputs, local, source: consumer, stateTopic, ids, logger, metrics, ...hooks }),
      positions,
      stats,
      outputs,
      failures: stageFailures,
      repartitionedFrom: (record) => sourceOffset(record.headers),
      beforeSourceStop: () => stage.stop(deadline.timeoutMs / 2).catch((error: unknown) => logger?.warn({ err: error }, 'stopping the repartition stage')),
      describeSource: { brokers: connection.brokers },
      stopHint: 'are the Kafka brokers reachable?',
      retriable: brokersUnavailable,
      now,
      metrics,
      logger,
      onWindows: options.onWindows,
      onReady: options.onReady,
      onBrokerReachable: options.onBrokerReachable,
      onAssignment: options.onAssignment,
      onLatency: options.onLatency,
    });
    return stats.summary(now() - started);
  } finally {
    await local.close();
    if (options.outputs === undefined) await withTimeout(outputs.close(), deadline.remaining(), () => new Error('closing the outputs timed out'));
  }
}

async function createTopics(config: ProcessorConfig, logger: Logger | undefined): Promise<void> {
  const numPartitions = config.kafka.topic_partitions;
  const topics = [...config.kafka.consumer.topics];
  if (config.sink.type === 'kafka') topics.push(config.kafka.producer.result_topic);
  if (config.dead_letter.type === 'kafka') topics.push(config.kafka.producer.dead_letter_topic);
  const result = await ensureTopics(kafkaConnection(config.kafka), topics.map((topic) => ({ topic, numPartitions })));
  if (result.created.length > 0) logger?.info({ topics: result.created, partitions: numPartitions }, 'created topics');
}
