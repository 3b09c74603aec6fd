/**
 * At-least-once delivery of kafkaSource: what is committed, what is delivered again after a
 * restart or a rebalance, and membership during long synchronous downstream work.
 */
import { describe, expect, it } from 'vitest';
import { ensureTopics, kafkaSink, kafkaSource, type KafkaRecord } from '../../src/kafka/index.js';
import { brokers, committedTotal, rawKafka, unique, waitFor } from './helpers.js';

async function endOffsets(topic: string): Promise<Map<number, number>> {
  const admin = rawKafka().admin();
  await admin.connect();
  try {
    return new Map((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, Number(p.high)]));
  } finally {
    await admin.disconnect();
  }
}

async function produce(topic: string, count: number): Promise<void> {
  const out = kafkaSink({ brokers: brokers(), topic });
  try {
    await Promise.all(Array.from({ length: count }, (_, i) => out.write({ key: `k${i}`, value: `m${i}` })));
  } finally {
    await out.close();
  }
}

describe('kafkaSource delivery guarantees', () => {
  it('commits only up to the first unacknowledged record, and a restart delivers from there', async () => {
    const topic = unique('atleastonce');
    const groupId = unique('atleastonce-group');
    await ensureTopics({ brokers: brokers() }, [{ topic, numPartitions: 1 }]);
    await produce(topic, 100);

    const first = kafkaSource({ brokers: brokers(), groupId, topics: [topic], commitIntervalMs: 100 });
    const seen: KafkaRecord[] = [];
    const subscription = first.records.subscribe((r) => {
      seen.push(r);
      // Offset 40 is "still in the sink" when the process stops.
      if (r.offset !== '40') first.ack(r);
    });
    await waitFor('100 records', () => seen.length >= 100);
    await first.commit();
    subscription.unsubscribe();
    await first.stop();
    expect(await committedTotal(groupId, topic)).toBe(40);

    const second = kafkaSource({ brokers: brokers(), groupId, topics: [topic] });
    const again: KafkaRecord[] = [];
    const resumed = second.records.subscribe((r) => {
      again.push(r);
      second.ack(r);
    });
    try {
      await waitFor('the redelivered records', () => again.length >= 60);
      expect(again[0]!.offset).toBe('40');
      expect(again.map((r) => r.value)).toEqual(Array.from({ length: 60 }, (_, i) => `m${40 + i}`));
    } finally {
      resumed.unsubscribe();
      await second.stop();
    }
  });

  it('records a member held unacknowledged when it lost their partitions reach the new owner', async () => {
    const topic = unique('handover');
    const groupId = unique('handover-group');
    await ensureTopics({ brokers: brokers() }, [{ topic, numPartitions: 4 }]);
    await produce(topic, 200);

    // Member a acknowledges nothing: everything it reads stays in flight.
    const a = kafkaSource({ brokers: brokers(), groupId, topics: [topic], heartbeatIntervalMs: 300 });
    const seenByA = new Set<string>();
    const subA = a.records.subscribe((r) => seenByA.add(r.value));
    await waitFor('member a to read everything', () => seenByA.size >= 200);

    const b = kafkaSource({ brokers: brokers(), groupId, topics: [topic], heartbeatIntervalMs: 300 });
    const seenByB = new Map<number, Set<string>>();
    const subB = b.records.subscribe((r) => {
      if (!seenByB.has(r.partition)) seenByB.set(r.partition, new Set());
      seenByB.get(r.partition)!.add(r.value);
      b.ack(r);
    });
    try {
      // Each member learns its share from its own join event, and under load a's can come a
      // moment after b's: until then a still lists the four partitions it held before.
      await waitFor('a and b to hold four partitions between them', () => b.assignment.length > 0 && a.assignment.length + b.assignment.length === 4);
      expect([...a.assignment, ...b.assignment].map((tp) => tp.partition).sort()).toEqual([0, 1, 2, 3]);
      // Nothing of b's partitions was committed by a, so b reads each of them from the start.
      const ends = await endOffsets(topic);
      const bPartitions = b.assignment.map((tp) => tp.partition);
      await waitFor('b to read its partitions from the start', () => bPartitions.every((p) => seenByB.get(p)?.size === ends.get(p)));
    } finally {
      subA.unsubscribe();
      subB.unsubscribe();
      await Promise.all([a.stop(), b.stop()]);
    }
  });

  it('keeps its group membership while downstream work holds one batch longer than the session timeout', async () => {
    const topic = unique('longbatch');
    const groupId = unique('longbatch-group');
    await ensureTopics({ brokers: brokers() }, [{ topic, numPartitions: 1 }]);
    await produce(topic, 350);

    const src = kafkaSource({ brokers: brokers(), groupId, topics: [topic], sessionTimeoutMs: 6_000, heartbeatIntervalMs: 1_000 });
    let joins = 0;
    src.assignments.subscribe(() => joins++);
    const offsets: string[] = [];
    const subscription = src.records.subscribe((r) => {
      // 20 ms of synchronous work per record: 7 s for the batch, past the 6 s session timeout.
      const until = Date.now() + 20;
      while (Date.now() < until);
      offsets.push(r.offset);
      src.ack(r);
    });
    try {
      await waitFor('350 records', () => offsets.length >= 350, 30_000);
      // A member that missed its heartbeats would now be expelled: its commit rejected, a
      // second join, and the batch delivered again.
      await src.commit();
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      expect(await committedTotal(groupId, topic)).toBe(350);
      expect(joins).toBe(1);
      expect(new Set(offsets).size).toBe(offsets.length);
    } finally {
      subscription.unsubscribe();
      await src.stop();
    }
  });
});
