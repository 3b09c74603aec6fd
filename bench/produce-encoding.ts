/**
 * Produce request encoding benchmark: prints one JSON object.
 *   kafkajs_us_per_message    kafkajs 2.2.4's Produce request body, per message
 *   one_pass_us_per_message   `encodeProduceRequest` (src/kafka/produce-encoding), per message
 *   speedup                   the ratio
 * The workload is a window end's results as the sink sends them: 1,000 messages of
 * ~720 bytes (a result line), keyed, over 4 partitions, one request. Encoding is on
 * the latency path of every result (README, "Latency: where the time goes").
 * Run: npx tsx bench/produce-encoding.ts
 */
import { createRequire } from 'node:module';
import {
  PRODUCE_REQUEST_MODULE,
  withOnePassEncoding,
  type KafkajsProduceArguments,
  type KafkajsProduceRequestFactory,
} from '../src/kafka/produce-encoding/kafkajs-produce-request.js';
import { median } from './stats.js';

const MESSAGES = 1_000;
const PARTITIONS = 4;
const RUNS = 15;
const REQUESTS_PER_RUN = 20;

const require = createRequire(import.meta.url);
const kafkajs = require(PRODUCE_REQUEST_MODULE) as KafkajsProduceRequestFactory;
const onePass = withOnePassEncoding(kafkajs);

const result = (key: string, i: number): string =>
  JSON.stringify({
    window: { type: 'tumbling', start: '2026-12-07T04:00:00.000Z', end: '2026-12-07T04:00:01.000Z' },
    key,
    count: 5 + (i % 3),
    metrics: Object.fromEntries(
      ['latency_ms', 'cost_usd', 'tokens', 'rating'].map((m, j) => [
        m,
        { sum: 1234.5 + i + j, avg: 246.9 + j, min: 12.25, max: 987.125 + i, stddev: 123.456789, p50: 200.5, p95: 900.25, p99: 980.75 },
      ]),
    ),
  });
const messages = Array.from({ length: MESSAGES }, (_, i) => ({ key: `model-${i}`, value: result(`model-${i}`, i) }));
const args: KafkajsProduceArguments = {
  acks: -1,
  timeout: 30_000,
  topicData: [
    {
      topic: 'aggregated-metrics',
      partitions: Array.from({ length: PARTITIONS }, (_, p) => ({ partition: p, firstSequence: 0, messages: messages.filter((_, i) => i % PARTITIONS === p) })),
    },
  ],
};

async function usPerMessage(factory: KafkajsProduceRequestFactory): Promise<number> {
  for (let i = 0; i < REQUESTS_PER_RUN; i++) await factory(args).encode(); // warm-up
  const runs: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    const t0 = performance.now();
    for (let i = 0; i < REQUESTS_PER_RUN; i++) await factory(args).encode();
    runs.push(((performance.now() - t0) * 1000) / (REQUESTS_PER_RUN * MESSAGES));
  }
  return median(runs);
}

const kafkajsUs = await usPerMessage(kafkajs);
const onePassUs = await usPerMessage(onePass);
const round = (x: number): number => Math.round(x * 100) / 100;
console.log(
  JSON.stringify({
    messages: MESSAGES,
    message_bytes: Math.round(messages.reduce((sum, m) => sum + m.value.length, 0) / MESSAGES),
    kafkajs_us_per_message: round(kafkajsUs),
    one_pass_us_per_message: round(onePassUs),
    speedup: round(kafkajsUs / onePassUs),
  }),
);
