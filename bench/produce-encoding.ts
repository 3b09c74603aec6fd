/**
 * Produce request encoding benchmark: prints one JSON object.
 *   kafkajs_us_per_message    kafkajs 2.2.4's Produce request body, per message
 *   one_pass_us_per_message   `encodeProduceRequest` (src/kafka/produce-encoding), per message
 *   speedup                   the ratio
 *   send_cpu_us_per_message   CPU time (user + system) of this process per message while a producer of
 *                             `createKafka` sends those 1,000 messages (acks -1, the local broker) again and
 *                             again: encoding, framing in place, kafkajs's grouping made linear, the socket
 *   kafkajs_send_cpu_us_per_message
 *                             the same with a plain kafkajs producer, in a child process that loads kafkajs
 *                             without this project's changes
 * The workload is a window end's results as the sink sends them: 1,000 messages of
 * ~720 bytes (a result line), keyed, over 4 partitions, one request. Encoding is on
 * the latency path of every result (README, "Latency: where the time goes").
 * Needs the local broker (`npm run kafka:up`). Run: npm run bench:produce-encoding
 */
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
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

const SEND_RUNS = 5;
const SENDS_PER_RUN = 60;
const BROKERS = (process.env['PROCESSOR_KAFKA_BROKERS'] ?? '127.0.0.1:9092').split(',');

/** Median over runs of this process's CPU time per message sent by `send` (after a warm-up). */
async function sendCpuUsPerMessage(send: () => Promise<unknown>): Promise<number> {
  for (let i = 0; i < 30; i++) await send();
  const runs: number[] = [];
  for (let run = 0; run < SEND_RUNS; run++) {
    const before = process.cpuUsage();
    for (let i = 0; i < SENDS_PER_RUN; i++) await send();
    const used = process.cpuUsage(before);
    runs.push((used.user + used.system) / (SENDS_PER_RUN * MESSAGES));
  }
  return median(runs);
}

/** A producer's send cost to a new 4-partition topic: this project's (`createKafka`) or, with `plain`, kafkajs's alone. */
async function sendCost(plain: boolean): Promise<number> {
  const { Kafka, logLevel } = plain ? await import('kafkajs') : await import('../src/kafka/kafkajs.js');
  const kafka = plain
    ? new Kafka({ clientId: 'bench-send', brokers: BROKERS, logLevel: logLevel.NOTHING })
    : (await import('../src/kafka/client.js')).createKafka({ clientId: 'bench-send', brokers: BROKERS });
  const admin = kafka.admin();
  await admin.connect();
  const topic = `bench-send-${process.pid}-${Date.now()}`;
  await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS }], waitForLeaders: true });
  const producer = kafka.producer();
  await producer.connect();
  try {
    return await sendCpuUsPerMessage(() => producer.send({ topic, acks: -1, messages }));
  } finally {
    await producer.disconnect();
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.disconnect();
  }
}

if (process.argv[2] === '--plain-send') {
  console.log(await sendCost(true));
  process.exit(0);
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
    send_cpu_us_per_message: round(await sendCost(false)),
    kafkajs_send_cpu_us_per_message: round(Number(execFileSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--plain-send'], { encoding: 'utf8' }).trim())),
  }),
);
