/**
 * The state topic (DESIGN.md "Scale-out"): its name, its creation, and how a task manager
 * reads it and the group's committed offsets when it plans where tasks start.
 */
import type { MetricsAggregator } from '@llm-feedback/stream-operators';
import type { ProcessorConfig } from '../config/index.js';
import type { FeedbackEvent } from '../events/index.js';
import { fetchCommittedOffsets } from '../kafka/admin.js';
import { ensureTopics, kafkaConnection, partitionCounts, withAdmin } from '../kafka/index.js';
import type { PartitionIds } from '../kafka/partition-ids.js';
import type { Logger } from '../observability/index.js';
import { STATE_TOPIC_CONFIGS } from './changelog.js';
import { readChangelog } from './changelog-reader.js';
import type { RemoteState } from './task-manager.js';

/** `kafka.state_topic`, or `<group_id>-state`. */
export const stateTopicName = (config: ProcessorConfig): string => config.kafka.state_topic ?? `${config.kafka.consumer.group_id}-state`;

/**
 * Creates the state topic when it is missing: compacted, with as many partitions as the
 * widest input topic (a task's state goes to its input partition's number). Returns its
 * partition count; an existing topic with fewer partitions is an error.
 */
export async function ensureStateTopic(config: ProcessorConfig, topic: string, logger: Logger | undefined): Promise<number> {
  const connection = kafkaConnection(config.kafka);
  const counts = await partitionCounts(connection, config.kafka.consumer.topics);
  const missing = config.kafka.consumer.topics.filter((t) => !counts.has(t));
  if (missing.length > 0) throw new Error(`input topic(s) ${missing.join(', ')} do not exist: create them, or set kafka.topic_partitions to have them created`);
  const needed = Math.max(1, ...counts.values());
  const result = await ensureTopics(connection, [{ topic, numPartitions: needed, configs: STATE_TOPIC_CONFIGS }]);
  if (result.created.length > 0) logger?.info({ topic, partitions: needed }, 'created the state topic');
  const existing = result.existing[0]?.partitions ?? needed;
  if (existing < needed) {
    throw new Error(`state topic ${topic} has ${existing} partitions, fewer than the input's ${needed}: delete it (state is rebuilt from the input) or set kafka.state_topic`);
  }
  return existing;
}

/** The state topic and the group's committed offsets, as `TaskManager.plan` reads them. */
export function remoteState(config: ProcessorConfig, topic: string, ids: PartitionIds, metrics: MetricsAggregator<FeedbackEvent>, statePartitions: number): RemoteState {
  const connection = kafkaConnection(config.kafka);
  const groupId = config.kafka.consumer.group_id;
  return {
    committed: (partitions) =>
      withAdmin(connection, 'reading committed offsets', async (admin) => {
        const topics = [...new Set(partitions.map((id) => ids.topicPartition(id).topic))];
        const offsets = await fetchCommittedOffsets(admin, groupId, topics);
        const out = new Map<number, string | undefined>();
        for (const { topic: t, partitions: ps } of offsets) for (const p of ps) out.set(ids.id(t, p.partition), Number(p.offset) >= 0 ? p.offset : undefined);
        return out;
      }),
    ends: (partitions) =>
      withAdmin(connection, 'reading end offsets', async (admin) => {
        const topics = [...new Set(partitions.map((id) => ids.topicPartition(id).topic))];
        const out = new Map<number, string>();
        for (const t of topics) for (const p of await admin.fetchTopicOffsets(t)) out.set(ids.id(t, p.partition), p.high);
        return out;
      }),
    restore: (partitions) =>
      readChangelog(
        { ...connection, topic, groupId },
        [...new Set(partitions.map((id) => ids.topicPartition(id).partition % statePartitions))],
        new Set(partitions),
        metrics,
      ),
  };
}
