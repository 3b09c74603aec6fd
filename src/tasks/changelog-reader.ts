/**
 * Restores tasks from the state topic (Kafka Streams' StoreChangelogReader): reads the
 * state partitions of the tasks to restore from their start to their current end and
 * replays them (`ChangelogReplay`).
 *
 * kafkajs has no `assign()`: a consumer always belongs to a group. The reader joins a
 * group of its own (`<group>-restore-<random>`, deleted afterwards), pauses the state
 * partitions it does not need and commits nothing. Joining costs the broker's
 * `group.initial.rebalance.delay.ms` (3 s by default; the bundled broker sets 0).
 */
import { randomUUID } from 'node:crypto';
import type { MetricsAggregator } from '../aggregation/index.js';
import type { FeedbackEvent } from '../events/index.js';
import { createKafka, type KafkaConnectionOptions } from '../kafka/client.js';
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
  const kafka = createKafka({ clientId: `stream-processor-restore-${options.groupId}`, ...options });
  const admin = kafka.admin();
  await admin.connect();
  const groupId = `${options.groupId}-restore-${randomUUID().slice(0, 8)}`;
  try {
    const ends = new Map((await admin.fetchTopicOffsets(options.topic)).map((p) => [p.partition, { low: Number(p.low), high: Number(p.high) }]));
    const wanted = new Set(statePartitions.filter((p) => {
      const end = ends.get(p);
      return end !== undefined && end.high > end.low;
    }));
    const replay = new ChangelogReplay();
    if (wanted.size > 0) await readPartitions(kafka.consumer({ groupId, maxWaitTimeInMs: 50, maxBytesPerPartition: 8 << 20 }), options, wanted, ends, replay);
    const restored = replay.restore(metrics);
    for (const task of restored.keys()) if (!tasks.has(task)) restored.delete(task);
    return restored;
  } finally {
    await admin.deleteGroups([groupId]).catch(() => undefined);
    await admin.disconnect();
  }
}

async function readPartitions(
  consumer: ReturnType<ReturnType<typeof createKafka>['consumer']>,
  options: ChangelogReaderOptions,
  wanted: Set<number>,
  ends: ReadonlyMap<number, { low: number; high: number }>,
  replay: ChangelogReplay,
): Promise<void> {
  const { topic } = options;
  const remaining = new Set(wanted);
  let finish!: () => void;
  let fail!: (error: unknown) => void;
  const done = new Promise<void>((resolve, reject) => {
    finish = resolve;
    fail = reject;
  });
  const timer = setTimeout(() => fail(new Error(`restoring from state topic ${topic} took longer than ${(options.timeoutMs ?? DEFAULT_TIMEOUT_MS) / 1000} s`)), options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  const removeJoin = consumer.on(consumer.events.GROUP_JOIN, (event) => {
    const unwanted = (event.payload.memberAssignment[topic] ?? []).filter((p) => !wanted.has(p));
    if (unwanted.length > 0) consumer.pause([{ topic, partitions: unwanted }]);
  });
  const removeCrash = consumer.on(consumer.events.CRASH, (event) => {
    if (!event.payload.restart) fail(event.payload.error);
  });
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        if (!remaining.has(batch.partition)) return;
        for (const message of batch.messages) replay.add(message.key?.toString('utf8') ?? '', message.value);
        const high = ends.get(batch.partition)?.high ?? 0;
        if (Number(batch.lastOffset()) + 1 >= high) {
          remaining.delete(batch.partition);
          if (remaining.size === 0) finish();
        }
      },
    });
    await done;
  } finally {
    clearTimeout(timer);
    removeJoin();
    removeCrash();
    await consumer.disconnect().catch(() => undefined);
  }
}
