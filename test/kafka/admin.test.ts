/**
 * The admin helpers on the real broker: the group's committed offsets, read by a new admin client
 * without kafkajs's "no brokers in the pool" retry (a ~300 ms sleep on every task assignment),
 * and new topics created with their leaders in place.
 */
import { describe, expect, it } from 'vitest';
import { fetchCommittedOffsets } from '../../src/kafka/admin.js';
import { createKafka } from '../../src/kafka/client.js';
import { ensureTopics } from '../../src/kafka/index.js';
import { logLevel } from '../../src/kafka/kafkajs.js';
import { brokers, produce, rawKafka, unique } from './helpers.js';

describe('fetchCommittedOffsets', () => {
  it("reads the group's committed offsets through a new client, finding the coordinator at the first try", async () => {
    const topic = unique('admin-offsets');
    const groupId = unique('admin-offsets-group');
    await ensureTopics({ brokers: [brokers()] }, [{ topic, numPartitions: 3 }]);
    // A group with offsets committed on partitions 0 and 2 (kafkajs's admin.setOffsets waits a 5 s fetch).
    await produce(topic, [
      { value: 'a', partition: 0 },
      { value: 'b', partition: 2 },
    ]);
    const consumer = rawKafka().consumer({ groupId, maxWaitTimeInMs: 100 });
    await consumer.connect();
    try {
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      let seen = 0;
      await new Promise<void>((resolve, reject) => {
        consumer.run({ autoCommit: false, eachMessage: async () => void (++seen === 2 && resolve()) }).catch(reject);
      });
      await consumer.commitOffsets([
        { topic, partition: 0, offset: '1' },
        { topic, partition: 2, offset: '1' },
      ]);
    } finally {
      await consumer.disconnect();
    }
    const messages: string[] = [];
    const admin = createKafka({
      clientId: 'admin-test',
      brokers: [brokers()],
      logLevel: logLevel.DEBUG,
      logCreator: () => (entry) => void messages.push(entry.log.message),
    }).admin();
    await admin.connect();
    try {
      const [offsets] = await fetchCommittedOffsets(admin, groupId, [topic]);
      const byPartition = Object.fromEntries(offsets!.partitions.map((p) => [p.partition, p.offset]));
      expect(offsets!.topic).toBe(topic);
      expect(byPartition).toEqual({ 0: '1', 1: '-1', 2: '1' });
    } finally {
      await admin.disconnect();
    }
    // kafkajs logs this, then sleeps its first retry, when it looks for the coordinator before it knows any broker.
    expect(messages.filter((m) => m.includes('No brokers in the broker pool'))).toEqual([]);
    expect(messages.some((m) => m.startsWith('Request OffsetFetch'))).toBe(true);
  });
});

describe('ensureTopics', () => {
  it('resolves once every partition of a new topic has a leader, and reports an existing one as it is', async () => {
    const topic = unique('admin-ensure');
    const first = await ensureTopics({ brokers: [brokers()] }, [{ topic, numPartitions: 8, configs: { 'cleanup.policy': 'compact' } }]);
    expect(first).toEqual({ created: [topic], existing: [] });
    // Asked at once, with no wait of its own: the leaders are there already.
    const admin = rawKafka().admin();
    await admin.connect();
    try {
      const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
      expect(topics[0]!.partitions.map((p) => p.leader >= 0)).toEqual(Array(8).fill(true));
    } finally {
      await admin.disconnect();
    }
    expect(await ensureTopics({ brokers: [brokers()] }, [{ topic, numPartitions: 3 }])).toEqual({ created: [], existing: [{ topic, partitions: 8 }] });
  });
});
