/**
 * Back-to-back Kafka transactions (issue 11): how long one checkpoint's transaction of a task
 * takes (begin, send a few results, sendOffsets, commit) when the next one starts right after,
 * with kafkajs's default retry (`initialRetryTime` 300 ms) and with the `StreamsProducer`'s
 * (10 ms). The first send of a transaction right after a commit gets CONCURRENT_TRANSACTIONS
 * while the broker writes the previous transaction's markers; kafkajs retries it after its
 * initial retry time. Prints one JSON object: median and p90 ms per transaction for each.
 * Run: npx tsx bench/transactions.ts (needs the local broker).
 */
import { randomUUID } from 'node:crypto';
import { Kafka, logLevel, type RetryOptions } from 'kafkajs';
import { ensureTopics } from '../src/kafka/index.js';
import { TRANSACTION_RETRY } from '../src/tasks/streams-producer.js';
import { median } from './stats.js';

const BROKERS = process.env['PROCESSOR_KAFKA_BROKERS'] ?? '127.0.0.1:9092';
const TRANSACTIONS = 40;
const run = randomUUID().slice(0, 8);
const topic = `bench-txn-${run}`;
const group = `bench-txn-group-${run}`;

async function perTransactionMs(retry: RetryOptions, label: string): Promise<number[]> {
  const kafka = new Kafka({ clientId: `bench-txn-${label}`, brokers: BROKERS.split(','), logLevel: logLevel.NOTHING, retry });
  const producer = kafka.producer({ transactionalId: `bench-txn-${label}-${run}`, idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const times: number[] = [];
  try {
    for (let i = 0; i < TRANSACTIONS; i++) {
      const t0 = performance.now();
      const transaction = await producer.transaction();
      await transaction.send({ topic, acks: -1, messages: Array.from({ length: 10 }, (_, k) => ({ key: `k${k}`, value: `v${i}` })) });
      await transaction.sendOffsets({ consumerGroupId: group, topics: [{ topic, partitions: [{ partition: 0, offset: String(i) }] }] });
      await transaction.commit();
      times.push(performance.now() - t0);
    }
  } finally {
    await producer.disconnect();
  }
  return times.slice(1); // the first one also initialises the transactional id
}

const p90 = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.9)]!;
const round = (x: number): number => Math.round(x * 10) / 10;

await ensureTopics({ brokers: BROKERS }, [{ topic, numPartitions: 4 }]);
const kafkajsDefault = await perTransactionMs({ retries: 5, initialRetryTime: 300 }, 'default');
const short = await perTransactionMs(TRANSACTION_RETRY, 'short');
const admin = new Kafka({ clientId: 'bench-txn-admin', brokers: BROKERS.split(','), logLevel: logLevel.NOTHING }).admin();
await admin.connect();
await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
await admin.disconnect();
console.log(
  JSON.stringify({
    transactions: TRANSACTIONS - 1,
    default_retry_median_ms: round(median(kafkajsDefault)),
    default_retry_p90_ms: round(p90(kafkajsDefault)),
    short_retry_median_ms: round(median(short)),
    short_retry_p90_ms: round(p90(short)),
  }),
);
