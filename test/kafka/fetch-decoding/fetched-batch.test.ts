/**
 * The fetched batch's offset filter on numbers against kafkajs 2.2.4's `Batch`, on random
 * partitions' fetches (offsets before and after the fetched one, past 2^53, control records,
 * aborted transactions), and its place in Node's module cache ahead of kafkajs's consumer.
 */
import { describe, expect, it } from 'vitest';
import { BATCH_MODULE, FetchedBatch } from '../../../src/kafka/fetch-decoding/fetched-batch.js';
import { kafkajsOwn, moduleCacheAfterImport } from '../kafkajs-modules.js';

interface Message {
  offset: string;
  key: Buffer | null;
  isControlRecord: boolean;
  batchContext: { producerId: string; inTransaction: boolean };
}
interface PartitionData {
  partition: number;
  highWatermark: string;
  abortedTransactions: { producerId: string; firstOffset: string }[];
  messages: Message[];
}
type BatchClass = new (topic: string, fetchedOffset: string, partitionData: PartitionData) => Record<string, unknown>;

const KafkajsBatch = kafkajsOwn<BatchClass>(BATCH_MODULE);
const METHODS = ['isEmpty', 'isEmptyIncludingFiltered', 'isEmptyDueToFiltering', 'isEmptyControlRecord', 'isEmptyDueToLogCompactedMessages', 'firstOffset', 'lastOffset', 'offsetLag', 'offsetLagLow'];

let seed = 7_2026;
const next = (): number => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
const pick = <T>(options: readonly T[]): T => options[Math.floor(next() * options.length)]!;

function randomFetch(): { fetchedOffset: string; data: PartitionData } {
  // Offsets that cross 2^53 within a fetch, and a fetch past it.
  const base = pick([0n, 5_000n, 9_007_199_254_740_980n, 9_223_372_036_854_775_000n]);
  const count = pick([0, 1, 3, 50]);
  const messages: Message[] = Array.from({ length: count }, (_, i) => ({
    offset: String(base + BigInt(i)),
    // The abort marker's key ends an aborted transaction (kafkajs's filterAbortedMessages).
    key: next() < 0.05 ? Buffer.from([0, 0, 0, 0]) : Buffer.from('k'),
    isControlRecord: next() < 0.1,
    batchContext: { producerId: pick(['1', '2']), inTransaction: next() < 0.5 },
  }));
  const fetchedOffset = String(base + BigInt(Math.floor(next() * (count + 3))) - 1n);
  const abortedTransactions = next() < 0.3 ? [{ producerId: pick(['1', '2']), firstOffset: String(base + BigInt(Math.floor(next() * (count + 1)))) }] : [];
  return { fetchedOffset, data: { partition: 3, highWatermark: String(base + BigInt(count) + BigInt(Math.floor(next() * 5))), abortedTransactions, messages } };
}

/** A batch's fields and every method's answer, in order. */
function describeBatch(batch: Record<string, unknown>): string {
  const answers = METHODS.map((method) => (batch[method] as () => unknown).call(batch));
  return JSON.stringify({ fields: Object.entries(batch), answers });
}

describe('fetched batch (offsets compared as numbers)', () => {
  it('is kafkajs\'s Batch, field for field and method for method, on 500 random fetches', () => {
    for (let run = 0; run < 500; run++) {
      const { fetchedOffset, data } = randomFetch();
      const expected = describeBatch(new KafkajsBatch('t', fetchedOffset, data));
      expect(describeBatch(new FetchedBatch('t', fetchedOffset, data) as unknown as Record<string, unknown>), `fetch ${run}`).toBe(expected);
    }
  });

  it('is what kafkajs\'s consumer loads when the library or the Kafka job is imported', () => {
    for (const entry of ['src/index.ts', 'src/runner/kafka-job.ts']) {
      expect(moduleCacheAfterImport(entry, [BATCH_MODULE], ['kafkajs']), entry).toEqual({ exports: { [BATCH_MODULE]: 'FetchedBatch' }, loaded: { kafkajs: true } });
    }
  });
});
