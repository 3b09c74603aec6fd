/**
 * Reads the start of some partitions, from each one's first retained record up to a given
 * offset, with a throwaway consumer (state topic restores, the repartition decision's
 * sample). kafkajs has no `assign()`: a consumer always belongs to a group, so it joins a
 * group of its own (`<group>-<purpose>-<random>`, deleted afterwards), pauses the partitions
 * it does not need and commits nothing. Joining costs the broker's
 * `group.initial.rebalance.delay.ms` (3 s by default; the bundled broker sets 0).
 */
import { randomUUID } from 'node:crypto';
import type { KafkaMessage } from 'kafkajs';
import { createKafka, type KafkaConnectionOptions } from './client.js';

export interface ReadRangesOptions extends KafkaConnectionOptions {
  /** The group on whose behalf the partitions are read, and why: the reader's group is derived from both. */
  readonly groupId: string;
  readonly purpose: string;
  /** Longest the read may take before it fails. */
  readonly timeoutMs: number;
  /**
   * Bytes a fetch asks of each partition. Default 8 MiB (a restore reads whole partitions). A read
   * of a few records asks for less: kafkajs decodes every record a fetch returns, wanted or not.
   */
  readonly maxBytesPerPartition?: number;
}

/** One partition to read, up to `end` (exclusive; the partition's high watermark reads it all). */
export interface PartitionRange {
  readonly topic: string;
  readonly partition: number;
  readonly end: number;
}

/** Hands every message of `ranges` to `onMessage`, in offset order per partition. */
export async function readRanges(
  options: ReadRangesOptions,
  ranges: readonly PartitionRange[],
  onMessage: (topic: string, partition: number, message: KafkaMessage) => void,
): Promise<void> {
  const key = (topic: string, partition: number): string => `${topic}\u0000${partition}`;
  const remaining = new Map(ranges.map((r) => [key(r.topic, r.partition), r.end]));
  if (remaining.size === 0) return;
  const kafka = createKafka({ clientId: `stream-processor-${options.purpose}-${options.groupId}`, ...options });
  const groupId = `${options.groupId}-${options.purpose}-${randomUUID().slice(0, 8)}`;
  const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 50, maxBytesPerPartition: options.maxBytesPerPartition ?? 8 << 20 });
  const topics = [...new Set(ranges.map((r) => r.topic))];
  let finish!: () => void;
  let fail!: (error: unknown) => void;
  const done = new Promise<void>((resolve, reject) => {
    finish = resolve;
    fail = reject;
  });
  const timer = setTimeout(() => fail(new Error(`reading ${topics.join(', ')} for ${options.purpose} took longer than ${options.timeoutMs / 1000} s`)), options.timeoutMs);
  const removeJoin = consumer.on(consumer.events.GROUP_JOIN, (event) => {
    for (const topic of topics) {
      const unwanted = (event.payload.memberAssignment[topic] ?? []).filter((p) => !remaining.has(key(topic, p)));
      if (unwanted.length > 0) consumer.pause([{ topic, partitions: unwanted }]);
    }
  });
  const removeCrash = consumer.on(consumer.events.CRASH, (event) => {
    if (!event.payload.restart) fail(event.payload.error);
  });
  const reached = (topic: string, partition: number, lastOffset: string): void => {
    const at = key(topic, partition);
    const end = remaining.get(at);
    if (end === undefined || Number(lastOffset) + 1 < end) return;
    remaining.delete(at);
    if (remaining.size === 0) finish();
  };
  // kafkajs hands `eachBatch` no batch that held only aborted records or transaction markers
  // (a transactional topic's tail, read committed), but reports its end here.
  const removeBatchEnd = consumer.on(consumer.events.END_BATCH_PROCESS, (event) => reached(event.payload.topic, event.payload.partition, event.payload.lastOffset));
  try {
    await consumer.connect();
    await consumer.subscribe({ topics, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        const at = key(batch.topic, batch.partition);
        const end = remaining.get(at);
        if (end === undefined) return;
        for (const message of batch.messages) if (Number(message.offset) < end) onMessage(batch.topic, batch.partition, message);
        reached(batch.topic, batch.partition, batch.lastOffset());
      },
    });
    await done;
  } finally {
    clearTimeout(timer);
    removeJoin();
    removeCrash();
    removeBatchEnd();
    await consumer.disconnect().catch(() => undefined);
    const admin = kafka.admin();
    await admin.connect().then(() => admin.deleteGroups([groupId])).catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
  }
}
