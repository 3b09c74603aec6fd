/**
 * The repartition stage (DESIGN.md "Scale-out"; Kafka Streams' repartition topics for
 * `groupBy`): when the input is not keyed by the key fields, every valid record is produced
 * to `<group_id>-repartition`, keyed by its joined key fields, and the tasks read that topic
 * instead of the input. Invalid input becomes a dead letter here, once.
 *
 * The stage has its own consumer of the input, in group `<group_id>-repartitioner`, and its
 * own commits; the tasks keep group `<group_id>`, whose committed offsets (now on the
 * repartition topic) are what their restores compare the local state against, so nothing
 * on the task side changes. Both groups can run in one process and scale out alike.
 *
 * At-least-once: an input offset is committed once its record's repartitioned message (or
 * its dead letter) is acknowledged; after a crash the stage produces again what it produced
 * since its last commit. Each message carries its input position in its headers, and the
 * task drops a copy by its source high-water mark (`SourceHighWater`). That rule needs the
 * records of one input partition to reach a repartition partition in input order: the
 * stage's single producer is idempotent, sends one batch at a time (see `kafkaSink`) and
 * hands records over in offset order per input partition.
 */
import type { Subscription } from 'rxjs';
import type { ProcessorConfig } from '../config/index.js';
import { consumerSettings, ensureTopics, kafkaConnection, kafkaSink, kafkaSource, partitionCounts, type KafkaRecord, type SinkMessage } from '../kafka/index.js';
import type { Logger } from '../observability/index.js';
import { rejectInput, type JobStats } from '../runner/job-stats.js';
import type { JobOutputs } from '../runner/outputs.js';
import { configuredParser } from '../runner/parse-lines.js';
import { decideRepartition, type RepartitionDecision } from './decide.js';
import { sourceHeaders } from './source-position.js';

export interface RepartitionOptions {
  readonly config: ProcessorConfig;
  /** Where dead letters go (their flush is awaited before the input offset is acknowledged). */
  readonly outputs: Pick<JobOutputs, 'writeDeadLetter' | 'flush'>;
  /** The job's counters: the stage counts the input records it rejects. */
  readonly stats: JobStats;
  readonly logger?: Logger;
  readonly now?: () => number;
  /** The stage failed (its producer or consumer gave up). */
  readonly onError: (error: unknown) => void;
  /**
   * `decideRepartition` for this job, when the caller started it early: it reads only the
   * input, so it can overlap the rest of the start-up. Default: decided here.
   */
  readonly decision?: Promise<RepartitionDecision>;
}

export interface RepartitionStage {
  /** What the tasks read: the repartition topic, or the input itself. */
  readonly topics: readonly string[];
  /** Stops reading, waits for what is in flight to be acknowledged, commits and leaves the group. */
  stop(timeoutMs: number): Promise<void>;
}

/** The name of a group's repartition topic. */
export const repartitionTopicOf = (groupId: string): string => `${groupId}-repartition`;

/** Decides (`decideRepartition`, logged) and, when repartitioning, starts the stage. */
export async function startRepartitioning(options: RepartitionOptions): Promise<RepartitionStage> {
  const { config, logger } = options;
  const topic = repartitionTopicOf(config.kafka.consumer.group_id);
  const decision = await (options.decision ?? decideRepartition(config, topic));
  logger?.info({ repartition: decision.repartition, reason: decision.reason, topic: decision.repartition ? topic : undefined }, decision.repartition ? 'repartitioning the input' : 'reading the input directly');
  if (!decision.repartition) return { topics: config.kafka.consumer.topics, stop: () => Promise.resolve() };
  await ensureRepartitionTopic(config, topic, logger);
  return runStage(options, topic);
}

/** Creates the repartition topic when missing, with the widest input topic's partition count and the broker's retention. */
async function ensureRepartitionTopic(config: ProcessorConfig, topic: string, logger: Logger | undefined): Promise<void> {
  const connection = kafkaConnection(config.kafka);
  const counts = await partitionCounts(connection, config.kafka.consumer.topics);
  const numPartitions = Math.max(1, ...counts.values());
  const result = await ensureTopics(connection, [{ topic, numPartitions }]);
  if (result.created.length > 0) logger?.info({ topic, partitions: numPartitions }, 'created the repartition topic');
}

function runStage(options: RepartitionOptions, topic: string): RepartitionStage {
  const { config, outputs, stats } = options;
  const connection = kafkaConnection(config.kafka);
  const sink = kafkaSink({ ...connection, topic, idempotent: true });
  const source = kafkaSource({ ...connection, ...consumerSettings(config.kafka), groupId: `${config.kafka.consumer.group_id}-repartitioner`, topics: config.kafka.consumer.topics, bufferSize: config.buffer_size });
  const parse = configuredParser(config, options.now);
  /** Records whose dead letter was written: acknowledged once the dead letters are flushed. */
  const rejected = new WeakSet<KafkaRecord>();
  const toMessage = (record: KafkaRecord): SinkMessage | null => {
    const parsed = parse(record.value, { partition: record.partition, offset: record.offset });
    if (parsed.kind === 'record') return { key: parsed.key ?? null, value: record.value, headers: sourceHeaders(record.topic, record.partition, record.offset) };
    stats.recordsIn++;
    rejectInput(outputs, stats, parsed, record);
    rejected.add(record);
    return null;
  };
  const subscription: Subscription = source.records.pipe(sink.writer(toMessage)).subscribe({
    next: (record) => {
      if (!rejected.has(record)) source.ack(record);
      else outputs.flush().then(() => source.ack(record), options.onError);
    },
    error: options.onError,
  });
  return {
    topics: [topic],
    async stop(timeoutMs) {
      try {
        await source.stop(timeoutMs);
      } finally {
        subscription.unsubscribe();
        await sink.close(timeoutMs);
      }
    },
  };
}
