import { Observable, Subject } from 'rxjs';
import { checkpoint } from '../../operators/checkpoint.js';
import { CheckpointCoordinator } from '../checkpoint/coordinator.js';
import { decodePipelineState, encodePipelineState } from '../checkpoint/pipeline-codec.js';
import type { ProcessorConfig } from '../config/index.js';
import type { FeedbackEvent } from '../events/index.js';
import { ensureTopics, kafkaSource, type AssignmentChange, type KafkaRecord, type KafkaSource, type TopicPartitionOffset } from '../kafka/index.js';
import type { Logger, ProcessorMetrics } from '../observability/index.js';
import { feedbackMetrics } from '../pipeline/feedback-pipeline.js';
import { openStateStore, type Checkpoint } from '../state/index.js';
import type { StreamElement } from '../stream/elements.js';
import { JobStats, type JobSummary } from './job-stats.js';
import { ChannelOutputs, type JobOutputs } from './outputs.js';
import { configuredParser } from './parse-lines.js';
import { runPipeline, type PipelineRunOptions } from './run-pipeline.js';

export interface KafkaJobOptions {
  readonly config: ProcessorConfig;
  /** Ends the job: a final checkpoint is taken and committed, then the consumer leaves the group. */
  readonly signal: AbortSignal;
  /** Default: the sink and dead-letter outputs the config names. */
  readonly outputs?: JobOutputs;
  readonly metrics?: ProcessorMetrics;
  readonly logger?: Logger;
  readonly now?: () => number;
  readonly hooks?: PipelineRunOptions['hooks'];
  /** Called once state is restored and the consumer has its first assignment. */
  readonly onReady?: () => void;
  /** Every assignment change of the consumer. */
  readonly onAssignment?: (change: AssignmentChange) => void;
  /** The running source, for observation (tests read its backpressure statistics). */
  readonly onSource?: (source: KafkaSource) => void;
  /** Processing latency of each result in ms, once acknowledged (benchmarks). */
  readonly onLatency?: (ms: number) => void;
}

/**
 * Kafka partitions of several topics get distinct numbers in the stream model
 * (per-partition watermarks key on `partition`): topic index × 1,000,000 + partition.
 */
const PARTITIONS_PER_TOPIC = 1_000_000;
const positionKey = (topic: string, partition: number): string => `${topic}:${partition}`;

/**
 * Runs the pipeline from Kafka topics to the configured outputs until `signal`.
 *
 * Offsets are committed when a checkpoint completes, and cover exactly what it
 * holds (DESIGN.md "Checkpoints and recovery"); a restart restores the last
 * complete checkpoint and seeks each partition to its position there. With
 * `state.backend: memory` nothing survives a restart, so no offsets are
 * committed at all: the group re-reads its topics from the start (at-least-once).
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
  const brokers = config.kafka.consumer.bootstrap_servers;
  const topics = config.kafka.consumer.topics;
  if (config.kafka.topic_partitions !== undefined) await createTopics(config, logger);

  const durable = config.state.backend === 'level';
  if (!durable) logger?.warn('state.backend is memory: window state does not survive a restart, so no offsets are committed and a restart re-reads the topics');
  const store = durable ? await openStateStore(config.state, { onWarning: (message) => logger?.warn(message) }) : undefined;
  const outputs = options.outputs ?? (await ChannelOutputs.open(config, { logger, metrics }));
  try {
    const metricsAggregator = feedbackMetrics(config);
    const latest = await store?.latestCheckpoint();
    const restored = latest === undefined ? undefined : decodePipelineState(latest, metricsAggregator);
    if (latest !== undefined) logger?.info({ checkpoint: latest.id, positions: latest.positions, windows: restored?.windows.windows.length }, 'resuming from checkpoint');

    /** Where the pipeline stands per partition: the next offset to hand over. */
    const nextOffsets: Record<string, string> = { ...latest?.positions };
    /** Partitions of the assignment before the current (re)join. */
    let owned = new Set<string>();
    const source = kafkaSource({
      brokers,
      groupId: config.kafka.consumer.group_id,
      topics,
      bufferSize: config.buffer_size,
      offsetCommits: 'manual',
      // After every rebalance kafkajs restarts even the partitions a member keeps at their
      // committed offset (the last complete checkpoint, or the start): the records read since
      // are already in the window state, and reading them again counted them twice. A kept
      // partition continues where the pipeline stands; a newly assigned one starts at the
      // restored checkpoint's position, or else at the committed offset.
      startOffset: (tp) => {
        const key = positionKey(tp.topic, tp.partition);
        return owned.has(key) ? nextOffsets[key] : latest?.positions[key];
      },
    });
    options.onSource?.(source);
    const commit = async (cp: Checkpoint): Promise<void> => {
      const owned = new Set(source.assignment.map((tp) => positionKey(tp.topic, tp.partition)));
      const offsets: TopicPartitionOffset[] = [];
      for (const [key, offset] of Object.entries(cp.positions)) {
        if (!owned.has(key)) continue;
        const at = key.lastIndexOf(':');
        offsets.push({ topic: key.slice(0, at), partition: Number(key.slice(at + 1)), offset });
      }
      await source.commitOffsets(offsets);
    };
    const coordinator = store === undefined ? undefined : new CheckpointCoordinator({ store, outputs, logger, metrics, onComplete: commit });
    const stats = new JobStats();

    const topicIndex = new Map(topics.map((topic, i) => [topic, i]));
    const partitionId = (topic: string, partition: number): number => (topicIndex.get(topic) ?? 0) * PARTITIONS_PER_TOPIC + partition;
    // Revoked partitions stop holding the watermark back at once (their new owner carries them on).
    const released = new Subject<readonly number[]>();
    let ready = false;
    const assignments = source.assignments.subscribe((change) => {
      if (change.revoked.length > 0) released.next(change.revoked.map((tp) => partitionId(tp.topic, tp.partition)));
      for (const tp of change.revoked) metrics?.consumerLag.remove({ topic: tp.topic, partition: String(tp.partition) });
      // Emitted after the source has sought its partitions for this assignment.
      owned = new Set(change.current.map((tp) => positionKey(tp.topic, tp.partition)));
      logger?.info({ assigned: change.assigned, revoked: change.revoked, current: change.current }, 'partition assignment');
      options.onAssignment?.(change);
      if (!ready) {
        ready = true;
        // The restored checkpoint is complete, but a crash may have come between its write and
        // its commit: commit it now, or the group would lag behind until new input arrives.
        if (latest !== undefined) commit(latest).catch((error: unknown) => logger?.warn({ err: error }, 'committing the restored checkpoint failed'));
        options.onReady?.();
      }
    });
    const pausedState = source.paused.subscribe((paused) => metrics?.paused.set(paused ? 1 : 0));
    const publishMetrics = (): void => {
      if (metrics === undefined) return;
      stats.publish(metrics);
      metrics.inFlight.set(source.inFlight);
      for (const { topic, partition, lag } of source.lag()) metrics.consumerLag.set({ topic, partition: String(partition) }, lag);
    };
    const publish = setInterval(publishMetrics, 1000);
    publish.unref();

    const parser = configuredParser(config, now);
    // Processing latency of a result: from the hand-over of the record that made it
    // (the one that moved the watermark past the window's end) to the broker's ack.
    let handedOverAt = 0;
    const onResult = (_result: unknown, acknowledged: Promise<void> | undefined): void => {
      const from = handedOverAt;
      const observe = (): void => {
        const ms = performance.now() - from;
        metrics?.processingLatency.observe(ms / 1000);
        options.onLatency?.(ms);
      };
      if (acknowledged === undefined) observe();
      else acknowledged.then(observe, () => undefined);
    };
    const acknowledge = releaseWhenFlushed(outputs, config.buffer_size, (r: KafkaRecord) => source.ack(r));
    let records = new Observable<StreamElement<FeedbackEvent>>((subscriber) =>
      source.records.subscribe({
        next: (message) => {
          handedOverAt = performance.now();
          stats.recordsIn++;
          const parsed = parser(message.value, { partition: partitionId(message.topic, message.partition), offset: message.offset });
          nextOffsets[positionKey(message.topic, message.partition)] = String(Number(message.offset) + 1);
          if (parsed.kind === 'record') subscriber.next(parsed);
          else {
            stats.countInvalid(parsed.reason);
            outputs.writeDeadLetter({
              reason: parsed.reason,
              raw: parsed.raw,
              extra: { field: parsed.field, error: parsed.error, topic: message.topic, partition: message.partition, offset: message.offset },
            });
          }
          acknowledge(message);
        },
        error: (error: unknown) => subscriber.error(error),
        complete: () => subscriber.complete(),
      }),
    );
    if (coordinator !== undefined) {
      records = records.pipe(
        checkpoint({
          intervalMs: config.checkpoint_interval_secs * 1000,
          firstId: (latest?.id ?? 0) + 1,
          positions: () => ({ ...nextOffsets }),
          trigger: stopBarrier(options.signal),
        }),
      );
    }

    // Stop: the final barrier is already on its way (trigger); once its checkpoint
    // is committed, the pipeline is unsubscribed and the consumer leaves the group.
    const stopped = new AbortController();
    options.signal.addEventListener('abort', () => {
      if (coordinator === undefined) stopped.abort();
      else void coordinator.drain().finally(() => stopped.abort());
    }, { once: true });
    try {
      await runPipeline(
        records,
        {
          config,
          outputs,
          stats,
          metrics,
          now,
          hooks: {
            initialState: restored,
            releasedPartitions: released,
            ...options.hooks,
            onBarrier: coordinator && ((id, snapshot) => coordinator.snapshot(id, encodePipelineState(snapshot, metricsAggregator))),
          },
          onBarrier: (barrier) => coordinator?.barrierAtSink(barrier),
          onResult,
        },
        stopped.signal,
      );
      await coordinator?.drain();
    } finally {
      clearInterval(publish);
      assignments.unsubscribe();
      pausedState.unsubscribe();
      await source.stop(0);
      publishMetrics();
    }
    return stats.summary(now() - started);
  } finally {
    await store?.close();
    if (options.outputs === undefined) await outputs.close();
  }
}

/** Emits once when the signal aborts: the final checkpoint's barrier. */
function stopBarrier(signal: AbortSignal): Observable<void> {
  const stop = new Subject<void>();
  signal.addEventListener('abort', () => stop.next(), { once: true });
  return stop;
}

/**
 * Acknowledges each record at once while the outputs keep up; once they hold more
 * than `limit` unacknowledged messages, acknowledgements wait for the next flush.
 */
function releaseWhenFlushed<R>(outputs: JobOutputs, limit: number, ack: (record: R) => void): (record: R) => void {
  let held: R[] = [];
  let flushing = false;
  return (record) => {
    if (!flushing && outputs.inFlight <= limit) {
      ack(record);
      return;
    }
    held.push(record);
    if (flushing) return;
    flushing = true;
    const release = (): void => {
      flushing = false;
      const batch = held;
      held = [];
      for (const r of batch) ack(r);
    };
    // A failed flush surfaces on the next write; the held records stay unacknowledged.
    outputs.flush().then(release, () => undefined);
  };
}

async function createTopics(config: ProcessorConfig, logger: Logger | undefined): Promise<void> {
  const numPartitions = config.kafka.topic_partitions;
  const topics = [...config.kafka.consumer.topics];
  if (config.sink.type === 'kafka') topics.push(config.kafka.producer.result_topic);
  if (config.dead_letter.type === 'kafka') topics.push(config.kafka.producer.dead_letter_topic);
  const result = await ensureTopics({ brokers: config.kafka.consumer.bootstrap_servers }, topics.map((topic) => ({ topic, numPartitions })));
  if (result.created.length > 0) logger?.info({ topics: result.created, partitions: numPartitions }, 'created topics');
}
