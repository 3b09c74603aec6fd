/** Shared helpers of the Kafka integration tests (real broker from test/global-setup.ts). */
import { randomUUID } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { inject } from 'vitest';
import { parseConfig, type ProcessorConfig } from '../../src/config/index.js';

export const brokers = (): string => inject('kafkaBrokers');

/** A topic or group name no other test (or earlier run) uses. */
export const unique = (prefix: string): string => `${prefix}-${randomUUID().slice(0, 8)}`;

/** A plain client of the shared broker, or of `on` (a test's own broker's PLAINTEXT listener). */
export const rawKafka = (on = brokers()): Kafka => new Kafka({ clientId: 'kafka-tests', brokers: on.split(','), logLevel: logLevel.NOTHING });

/** Resolves once `predicate` holds, polling every 20 ms; rejects after `timeoutMs` naming `what`. */
export async function waitFor(what: string, predicate: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Sum of the committed offsets of `groupId` on `topic`. */
export async function committedTotal(groupId: string, topic: string): Promise<number> {
  const admin = rawKafka().admin();
  await admin.connect();
  try {
    const [entry] = await admin.fetchOffsets({ groupId, topics: [topic] });
    return entry!.partitions.reduce((sum, p) => sum + Math.max(0, Number(p.offset)), 0);
  } finally {
    await admin.disconnect();
  }
}

/** Produces `messages` to `topic` in batches (acks from all replicas), on the shared broker or `on`. */
export async function produce(topic: string, messages: { key?: string | null; value: string; partition?: number }[], on = brokers()): Promise<void> {
  const producer = rawKafka(on).producer();
  await producer.connect();
  try {
    for (let i = 0; i < messages.length; i += 2_000) {
      await producer.send({ topic, acks: -1, messages: messages.slice(i, i + 2_000) });
    }
  } finally {
    await producer.disconnect();
  }
}

/** Every message value of `topic` up to its current end, in partition order (shared broker or `on`). */
export async function readAll(topic: string, on = brokers()): Promise<{ key: string | null; value: string; partition: number }[]> {
  const kafka = rawKafka(on);
  const admin = kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  const remaining = new Map(ends.filter((p) => Number(p.high) > 0).map((p) => [p.partition, Number(p.high)]));
  const out: { key: string | null; value: string; partition: number }[] = [];
  if (remaining.size === 0) return out;
  const consumer = kafka.consumer({ groupId: unique('read-all'), maxWaitTimeInMs: 100 });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await new Promise<void>((resolve, reject) => {
    consumer
      .run({
        eachMessage: async ({ partition, message }) => {
          out.push({ key: message.key?.toString() ?? null, value: message.value?.toString() ?? '', partition });
          if (Number(message.offset) + 1 >= (remaining.get(partition) ?? 0)) remaining.delete(partition);
          if (remaining.size === 0) resolve();
        },
      })
      .catch(reject);
  });
  await consumer.disconnect();
  return out;
}

/**
 * A Kafka-to-Kafka job of one-minute tumbling windows without lateness or out-of-orderness,
 * memory state, one partition per created topic, read directly; `processor` overrides
 * top-level keys and `processor.kafka` is merged into these defaults.
 */
export function oneMinuteJob(processor: Record<string, unknown> & { kafka?: Record<string, unknown> }): ProcessorConfig {
  return parseConfig(
    {
      processor: {
        source: { type: 'kafka' },
        sink: { type: 'kafka' },
        dead_letter: { type: 'kafka' },
        state: { backend: 'memory' },
        windows: { default_type: 'tumbling', tumbling: { size_secs: 60, allowed_lateness_secs: 0 } },
        watermark: { max_out_of_orderness_secs: 0, idle_timeout_secs: 600 },
        metrics: { port: 0 },
        log: { level: 'silent' },
        ...processor,
        kafka: { topic_partitions: 1, repartition: 'never', ...processor.kafka },
      },
    },
    { PROCESSOR_KAFKA_BROKERS: brokers() },
  );
}

/** A feedback event of model `m` with metric `x = i` at `atMs`, keyed by its model. */
export const event = (i: number, atMs: number): { key: string; value: string } => ({
  key: 'm',
  value: JSON.stringify({ event_id: `e-${i}`, timestamp: atMs, model: 'm', metrics: { x: i } }),
});
