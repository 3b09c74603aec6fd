/**
 * kafkaSource and kafkaSink against the real broker: round trip with at-least-once
 * commits, backpressure with a slow sink, two group members sharing partitions, and a
 * broker that cannot be reached.
 */
import { lastValueFrom, take, toArray } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { ensureTopics, kafkaSink, kafkaSource, type KafkaRecord, type KafkaSource, type KafkaSink } from '../../src/kafka/index.js';
import { brokers, committedTotal, unique, waitFor } from './helpers.js';

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.allSettled(cleanup.splice(0).map((close) => close()));
});

function source(options: { groupId: string; topics: string[]; bufferSize?: number; heartbeatIntervalMs?: number }): KafkaSource {
  const created = kafkaSource({ brokers: brokers(), commitIntervalMs: 200, ...options });
  cleanup.push(() => created.stop(0));
  return created;
}

function sink(topic: string): KafkaSink {
  const created = kafkaSink({ brokers: brokers(), topic });
  cleanup.push(() => created.close());
  return created;
}

async function produce(topic: string, count: number, from = 0): Promise<void> {
  const out = sink(topic);
  await Promise.all(Array.from({ length: count }, (_, i) => out.write({ key: `k${(from + i) % 13}`, value: `m${from + i}` })));
}

describe('kafkaSource → kafkaSink', () => {
  it('round trip: every record reaches the output topic, and acknowledged offsets are committed', async () => {
    const input = unique('roundtrip-in');
    const output = unique('roundtrip-out');
    const groupId = unique('roundtrip-group');
    const created = await ensureTopics({ brokers: brokers() }, [{ topic: input, numPartitions: 3 }, { topic: output, numPartitions: 2 }]);
    expect(created.created).toEqual([input, output]);
    expect((await ensureTopics({ brokers: brokers() }, [{ topic: input, numPartitions: 3 }])).existing).toEqual([{ topic: input, partitions: 3 }]);
    await produce(input, 300);

    const src = source({ groupId, topics: [input] });
    const out = sink(output);
    const piped = src.records.pipe(out.writer((r: KafkaRecord) => ({ key: r.key ?? null, value: r.value.toUpperCase() })));
    const seen: KafkaRecord[] = [];
    const subscription = piped.subscribe((r) => {
      seen.push(r);
      src.ack(r);
    });
    await waitFor('300 records through the sink', () => seen.length >= 300);
    expect(new Set(seen.map((r) => r.value)).size).toBe(300);
    expect(seen.every((r) => r.key !== undefined && Number.isFinite(r.timestamp) && r.partition >= 0)).toBe(true);
    expect(out.inFlight).toBe(0);
    await src.commit();
    subscription.unsubscribe();
    await src.stop();
    expect(await committedTotal(groupId, input)).toBe(300);

    const reader = source({ groupId: unique('roundtrip-reader'), topics: [output] });
    const values = await lastValueFrom(reader.records.pipe(take(300), toArray()));
    expect(new Set(values.map((r) => r.value))).toEqual(new Set(Array.from({ length: 300 }, (_, i) => `M${i}`)));
  });

  it('backpressure: a slow sink pauses the consumer and in flight never exceeds bufferSize', async () => {
    const topic = unique('backpressure');
    await ensureTopics({ brokers: brokers() }, [{ topic, numPartitions: 2 }]);
    await produce(topic, 1_000);

    const bufferSize = 50;
    const src = source({ groupId: unique('backpressure-group'), topics: [topic], bufferSize });
    const pausedStates: boolean[] = [];
    src.paused.subscribe((p) => pausedStates.push(p));
    const waiting: KafkaRecord[] = [];
    const done = new Set<string>();
    let maxObserved = 0;
    const subscription = src.records.subscribe((r) => {
      waiting.push(r);
      maxObserved = Math.max(maxObserved, src.inFlight);
    });
    // The "sink" acknowledges 10 records every 10 ms: ~1,000 records/s, far below the fetch rate.
    const slowSink = setInterval(() => {
      for (const r of waiting.splice(0, 10)) {
        done.add(`${r.partition}/${r.offset}`);
        src.ack(r);
      }
    }, 10);
    try {
      await waitFor('1,000 records acknowledged', () => done.size >= 1_000);
    } finally {
      clearInterval(slowSink);
      subscription.unsubscribe();
    }
    const stats = src.stats();
    expect(maxObserved).toBeLessThanOrEqual(bufferSize);
    expect(stats.maxInFlight).toBe(bufferSize);
    expect(stats.pauses).toBeGreaterThan(5);
    expect(stats.resumes).toBeGreaterThan(5);
    expect(pausedStates).toContain(true);
  });

  it('two members of one group split the partitions and together see every record', async () => {
    const topic = unique('group');
    const groupId = unique('group-group');
    await ensureTopics({ brokers: brokers() }, [{ topic, numPartitions: 4 }]);
    await produce(topic, 200);

    const seen = new Set<string>();
    const member = (name: string): { src: KafkaSource; partitions: () => number[] } => {
      const src = source({ groupId, topics: [topic], heartbeatIntervalMs: 300 });
      src.records.subscribe((r) => {
        seen.add(r.value);
        src.ack(r);
      });
      return { src, partitions: () => src.assignment.map((tp) => tp.partition).sort() };
    };
    const a = member('a');
    await waitFor('member a to read the first records', () => seen.size > 0);
    const b = member('b');
    // Each member learns its share from its own join event, and under load a's can come a
    // moment after b's: until then a still lists the four partitions it held before.
    await waitFor('both members to hold partitions, four between them', () => a.partitions().length > 0 && b.partitions().length > 0 && a.partitions().length + b.partitions().length === 4);
    expect([...a.partitions(), ...b.partitions()].sort()).toEqual([0, 1, 2, 3]);
    await produce(topic, 200, 200);
    await waitFor('all 400 records', () => seen.size >= 400);
    expect(seen).toEqual(new Set(Array.from({ length: 400 }, (_, i) => `m${i}`)));
  });

  it('a broker that cannot be reached fails the stream with a clear error, quickly', async () => {
    const started = Date.now();
    const src = kafkaSource({ brokers: '127.0.0.1:1', groupId: unique('unreachable'), topics: ['nowhere'], retry: { retries: 2, initialRetryTime: 100 } });
    const error = await lastValueFrom(src.records).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(/kafkaSource \(group unreachable-.*\): cannot connect to Kafka brokers 127\.0\.0\.1:1/);
    expect(Date.now() - started).toBeLessThan(10_000);

    // The sink keeps retrying an unreachable broker (an outage must not lose results);
    // closing bounds the wait, and then the messages fail with the reason.
    const out = kafkaSink({ brokers: '127.0.0.1:1', topic: 'nowhere', retry: { retries: 2, initialRetryTime: 100 } });
    const written = out.write({ value: 'x' });
    const closed = out.close(1_000);
    await expect(written).rejects.toThrow(/kafkaSink \(topic nowhere\): cannot connect to Kafka brokers 127\.0\.0\.1:1/);
    await expect(closed).rejects.toThrow(/cannot connect/);
  });
});
