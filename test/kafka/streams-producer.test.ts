/**
 * StreamsProducer on the real broker: a transaction's messages and offsets commit together,
 * and initialising a task's transactional id again fences the previous producer, whose
 * later transactions fail with TaskMigratedError and leave nothing a `read_committed`
 * reader (the state-topic restore's `readRanges`) or the group's offsets would see.
 */
import { describe, expect, it } from 'vitest';
import { ensureTopics } from '../../src/kafka/index.js';
import { readRanges } from '../../src/kafka/read-ranges.js';
import { StreamsProducer, TaskMigratedError } from '../../src/tasks/streams-producer.js';
import { brokers, committedTotal, rawKafka, unique } from './helpers.js';

async function committedValues(topic: string): Promise<string[]> {
  const admin = rawKafka().admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  const values: string[] = [];
  const ranges = ends.filter((p) => Number(p.high) > 0).map((p) => ({ topic, partition: p.partition, end: Number(p.high) }));
  await readRanges({ brokers: brokers(), groupId: unique('eos-read'), purpose: 'check', timeoutMs: 20_000 }, ranges, (_t, _p, message) =>
    values.push(message.value?.toString('utf8') ?? ''),
  );
  return values;
}

describe('StreamsProducer', () => {
  it('commits messages with offsets, and a second producer of the transactional id fences the first', async () => {
    const input = unique('eos-in');
    const output = unique('eos-out');
    const groupId = unique('eos-group');
    await ensureTopics({ brokers: brokers() }, [
      { topic: input, numPartitions: 1 },
      { topic: output, numPartitions: 2 },
    ]);
    const transactionalId = unique('eos-task');
    const first = new StreamsProducer({ brokers: brokers(), transactionalId, groupId });
    const second = new StreamsProducer({ brokers: brokers(), transactionalId, groupId });
    try {
      await first.init();
      await first.commit([{ topic: output, key: 'a', value: 'first-1' }, { topic: output, key: null, value: 'first-2', partition: 1 }], [{ topic: input, partition: 0, offset: '5' }]);
      expect(await committedTotal(groupId, input)).toBe(5); // one partition: its offset

      // Back-to-back transactions of one producer (the CONCURRENT_TRANSACTIONS retry path).
      for (let i = 0; i < 5; i++) await first.commit([{ topic: output, key: 'b', value: `first-loop-${i}` }], [{ topic: input, partition: 0, offset: String(6 + i) }]);

      await second.init();
      const zombie = first.commit([{ topic: output, key: 'z', value: 'zombie' }], [{ topic: input, partition: 0, offset: '99' }]);
      await expect(zombie).rejects.toBeInstanceOf(TaskMigratedError);

      await second.commit([{ topic: output, key: 'c', value: 'second-1' }], [{ topic: input, partition: 0, offset: '12' }]);
      expect(await committedTotal(groupId, input)).toBe(12);
      const values = await committedValues(output);
      expect(values.sort()).toEqual(['first-1', 'first-2', 'first-loop-0', 'first-loop-1', 'first-loop-2', 'first-loop-3', 'first-loop-4', 'second-1']);
    } finally {
      await first.close();
      await second.close();
    }
  }, 60_000);
});
