/** Shared helpers of the Kafka integration tests (real broker from test/global-setup.ts). */
import { randomUUID } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { inject } from 'vitest';

export const brokers = (): string => inject('kafkaBrokers');

/** A topic or group name no other test (or earlier run) uses. */
export const unique = (prefix: string): string => `${prefix}-${randomUUID().slice(0, 8)}`;

export const rawKafka = (): Kafka => new Kafka({ clientId: 'kafka-tests', brokers: brokers().split(','), logLevel: logLevel.NOTHING });

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
