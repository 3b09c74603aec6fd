/**
 * Restores tasks from the state topic (Kafka Streams' StoreChangelogReader): reads the
 * state partitions of the tasks to restore from their start to their current end
 * (`readRanges`) and replays them (`ChangelogReplay`).
 */
import type { MetricsAggregator } from '@llm-feedback/stream-operators';
import type { FeedbackEvent } from '../events/index.js';
import { createKafka, type KafkaConnectionOptions } from '../kafka/client.js';
import { readRanges } from '../kafka/read-ranges.js';
import { ChangelogReplay, type RestoredTask } from './changelog.js';

export interface ChangelogReaderOptions extends KafkaConnectionOptions {
  readonly topic: string;
  /** The group the tasks belong to; the reader's own group is derived from it. */
  readonly groupId: string;
  /** Longest a restore may take before it fails. Default 120,000 ms. */
  readonly timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 120_000;

/** The state of `tasks` (partition ids) held in `statePartitions` of the state topic, as of each task's last complete checkpoint. */
export async function readChangelog(
  options: ChangelogReaderOptions,
  statePartitions: readonly number[],
  tasks: ReadonlySet<number>,
  metrics: MetricsAggregator<FeedbackEvent>,
): Promise<Map<number, RestoredTask>> {
  const admin = createKafka({ clientId: `stream-processor-restore-${options.groupId}`, ...options }).admin();
  await admin.connect();
  let ends: { partition: number; low: string; high: string }[];
  try {
    ends = await admin.fetchTopicOffsets(options.topic);
  } finally {
    await admin.disconnect();
  }
  const wanted = new Set(statePartitions);
  const ranges = ends.filter((p) => wanted.has(p.partition) && Number(p.high) > Number(p.low)).map((p) => ({ topic: options.topic, partition: p.partition, end: Number(p.high) }));
  const replay = new ChangelogReplay();
  await readRanges({ ...options, purpose: 'restore', timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS }, ranges, (_topic, _partition, message) =>
    replay.add(message.key?.toString('utf8') ?? '', message.value),
  );
  const restored = replay.restore(metrics);
  for (const task of restored.keys()) if (!tasks.has(task)) restored.delete(task);
  return restored;
}
