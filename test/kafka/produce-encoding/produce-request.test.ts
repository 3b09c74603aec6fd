/**
 * The one-pass Produce request encoder against kafkajs 2.2.4's own: the same bytes for
 * every request shape our producers send (and random others), kafkajs's encoding for
 * the rest, and a round trip through the broker.
 */
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { createKafka } from '../../../src/kafka/client.js';
import { crc32c, nativeCrc32c, softwareCrc32c } from '../../../src/kafka/produce-encoding/crc32c.js';
import { installInPlaceFraming, type KafkajsEncoder } from '../../../src/kafka/produce-encoding/in-place-framing.js';
import {
  PRODUCE_REQUEST_MODULE,
  withOnePassEncoding,
  type KafkajsProduceArguments,
  type KafkajsProduceRequestFactory,
} from '../../../src/kafka/produce-encoding/kafkajs-produce-request.js';
import type { ProduceMessage, ProduceTopicData } from '../../../src/kafka/produce-encoding/produce-request.js';
import { brokers, unique } from '../helpers.js';
import { kafkajsOwn, withFixedDate } from '../kafkajs-modules.js';

const require = createRequire(import.meta.url);

/** kafkajs's own request factory, even where the encoder is installed already. */
const kafkajsRequestFactory = (): KafkajsProduceRequestFactory => kafkajsOwn<KafkajsProduceRequestFactory>(PRODUCE_REQUEST_MODULE);

const kafkajsCrc32c = require('kafkajs/src/protocol/recordBatch/crc32C/index.js') as (buffer: Buffer) => number;
const kafkajsLong = require('kafkajs/src/utils/long.js') as { fromValue(value: string): { value: bigint } };

/** A deterministic generator (xorshift), so that a failure can be replayed from its seed. */
function random(seed: number): () => number {
  let x = seed || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

const TEXTS = ['', 'gpt-4o', 'clé', '模型', 'emoji 🚀', '"quoted"\n', 'x'.repeat(200), '{"window":{"type":"tumbling"}}'.repeat(25)];

function generateArguments(seed: number): KafkajsProduceArguments {
  const next = random(seed);
  const pick = <T>(values: readonly T[]): T => values[Math.floor(next() * values.length)]!;
  const text = (): string => pick(TEXTS) + (next() < 0.5 ? String(Math.floor(next() * 1e6)) : '');
  const bytes = (): Buffer => Buffer.from(Array.from({ length: Math.floor(next() * 300) }, () => Math.floor(next() * 256)));
  const field = (): string | Buffer | null | undefined => pick([() => text(), () => bytes(), () => null, () => undefined])();
  const withTimestamps = next() < 0.3;
  const message = (): ProduceMessage => {
    const headers =
      next() < 0.6 ? undefined : { [text()]: text(), trace: next() < 0.5 ? bytes() : [text(), bytes()], ...(next() < 0.3 ? { empty: [] } : {}) };
    const timestamp = withTimestamps && next() < 0.8 ? pick([() => 1_764_000_000_000 + Math.floor(next() * 1e7), () => String(1_764_000_000_000 + Math.floor(next() * 1e7)), () => '999'])() : undefined;
    return { key: field(), value: pick([() => text(), () => bytes(), () => null])(), ...(headers === undefined ? {} : { headers }), ...(timestamp === undefined ? {} : { timestamp }) };
  };
  const topicData: ProduceTopicData[] = Array.from({ length: 1 + Math.floor(next() * 3) }, (_, t) => ({
    topic: `topic-${t}-${text()}`,
    partitions: Array.from({ length: 1 + Math.floor(next() * 4) }, (_, p) => ({
      partition: next() < 0.5 ? p : String(p),
      ...(next() < 0.5 ? { firstSequence: Math.floor(next() * 1e6) } : {}),
      messages: Array.from({ length: Math.floor(next() * 300) }, message),
    })),
  }));
  const transactional = next() < 0.4;
  return {
    acks: pick([-1, 1, 0]),
    timeout: pick([30_000, 5_000]),
    ...(transactional ? { transactionalId: `tx-${text()}`, producerId: pick([() => '1001', () => kafkajsLong.fromValue('4001')])(), producerEpoch: 3 } : {}),
    ...(next() < 0.2 ? { producerId: -1 } : {}),
    topicData,
  };
}

/** A request's body as kafkajs's connection reads it off the encoder. */
async function body(factory: KafkajsProduceRequestFactory, args: KafkajsProduceArguments): Promise<Buffer> {
  const encoder = await factory(args).encode();
  return encoder.buf.subarray(0, encoder.offset);
}

describe('one-pass Produce request encoding', () => {
  const kafkajs = kafkajsRequestFactory();
  const onePass = withOnePassEncoding(kafkajs);
  withFixedDate();

  it('writes the bytes kafkajs 2.2.4 writes, for 300 random requests', async () => {
    for (let seed = 1; seed <= 300; seed++) {
      const args = generateArguments(seed);
      const expected = await body(kafkajs, args);
      const actual = await body(onePass, args);
      expect(actual.length, `seed ${seed}: length`).toBe(expected.length);
      expect(actual.equals(expected), `seed ${seed}: bytes`).toBe(true);
    }
  });

  it('writes the bytes kafkajs writes for a window end of results (the sink: keys, string values, no timestamps)', async () => {
    const results = Array.from({ length: 1_000 }, (_, i) => ({ key: `model-${i}`, value: JSON.stringify({ key: `model-${i}`, count: i, p99: i / 7 }) }));
    const args: KafkajsProduceArguments = {
      acks: -1,
      timeout: 30_000,
      topicData: [{ topic: 'aggregated-metrics', partitions: [0, 1, 2, 3].map((p) => ({ partition: p, firstSequence: 0, messages: results.filter((_, i) => i % 4 === p) })) }],
    };
    expect((await body(onePass, args)).equals(await body(kafkajs, args))).toBe(true);
  });

  it('leaves requests it does not take to kafkajs: compression, and messages kafkajs refuses', async () => {
    const gzip: KafkajsProduceArguments = { acks: -1, timeout: 1_000, compression: 1, topicData: [{ topic: 't', partitions: [{ partition: 0, messages: [{ key: 'k', value: 'v'.repeat(500) }] }] }] };
    expect((await body(onePass, gzip)).equals(await body(kafkajs, gzip))).toBe(true);
    const fractional: KafkajsProduceArguments = { acks: -1, timeout: 1_000, topicData: [{ topic: 't', partitions: [{ partition: 0, messages: [{ value: 'v', timestamp: 1.5 }] }] }] };
    await expect(body(onePass, fractional)).rejects.toThrow(await body(kafkajs, fractional).then(() => 'no error', (error: Error) => error.message));
    const nullHeader: KafkajsProduceArguments = { acks: -1, timeout: 1_000, topicData: [{ topic: 't', partitions: [{ partition: 0, messages: [{ value: 'v', headers: { h: null } }] }] }] };
    await expect(body(onePass, nullHeader)).rejects.toThrow(TypeError);
    await expect(body(kafkajs, nullHeader)).rejects.toThrow(TypeError);
  });
});

describe('Produce requests framed in place (kafkajs request.js)', () => {
  type Encoder = KafkajsEncoder & { writeInt16(value: number): Encoder; writeInt32(value: number): Encoder; readonly buffer: Buffer };
  const Encoder = require('kafkajs/src/protocol/encoder.js') as { new (): Encoder; prototype: Encoder };
  const createRequest = require('kafkajs/src/protocol/request.js') as (args: { correlationId: number; clientId: string; request: unknown }) => Promise<Encoder>;
  installInPlaceFraming(Encoder.prototype);
  const kafkajs = kafkajsRequestFactory();
  const onePass = withOnePassEncoding(kafkajs);

  /** A request's frame as kafkajs's connection writes it, and the body encoder it framed. */
  async function frame(factory: KafkajsProduceRequestFactory, args: KafkajsProduceArguments, clientId = 'stream-processor-sink-results'): Promise<{ bytes: Buffer; frame: Encoder; body: Encoder }> {
    const request = factory(args);
    const encode = request.encode;
    let body: Encoder | undefined;
    request.encode = async () => (body = (await encode()) as Encoder);
    const framed = await createRequest({ correlationId: 4242, clientId, request });
    return { bytes: framed.buffer, frame: framed, body: body! };
  }

  withFixedDate();

  it('writes the frame kafkajs writes, around the body where it lies (no copy), for 100 random requests', async () => {
    for (let seed = 1; seed <= 100; seed++) {
      const args = generateArguments(seed);
      const expected = await frame(kafkajs, args);
      const actual = await frame(onePass, args);
      expect(actual.bytes.equals(expected.bytes), `seed ${seed}: bytes`).toBe(true);
      expect(actual.frame.buf.buffer, `seed ${seed}: the body's own memory`).toBe(actual.body.buf.buffer);
      // kafkajs's own encoders take kafkajs's path: a fresh buffer per frame.
      expect(expected.frame.buf.buffer).not.toBe(expected.body.buf.buffer);
    }
  });

  it('copies as kafkajs does when the room is too small (a long client id), used (a second framing) or left (the body grew)', async () => {
    const args = generateArguments(7);
    const longId = 'c'.repeat(400);
    const expected = await frame(kafkajs, args, longId);
    const actual = await frame(onePass, args, longId);
    expect(actual.bytes.equals(expected.bytes)).toBe(true);
    expect(actual.frame.buf.buffer).not.toBe(actual.body.buf.buffer);

    const { body } = await frame(onePass, args);
    const content = Buffer.from(body.buf.subarray(0, body.offset));
    const again = new Encoder().writeInt16(3).writeEncoder(body) as Encoder;
    expect(again.buffer.equals(Buffer.concat([Buffer.from([0, 3]), content]))).toBe(true);
    expect(again.buf.buffer).not.toBe(body.buf.buffer);

    const grown = (await onePass(args).encode()) as Encoder;
    const grownContent = Buffer.from(grown.buf.subarray(0, grown.offset));
    grown.writeInt32(-1);
    const framedGrown = new Encoder().writeInt16(3).writeEncoder(grown) as Encoder;
    expect(framedGrown.buffer.equals(Buffer.concat([Buffer.from([0, 3]), grownContent, Buffer.from([255, 255, 255, 255])]))).toBe(true);
  });
});

describe('crc32c', () => {
  it('equals kafkajs CRC-32C on buffers of every length up to 100 and on random offsets', () => {
    const next = random(7);
    const data = Buffer.from(Array.from({ length: 5_000 }, () => Math.floor(next() * 256)));
    for (let length = 0; length <= 100; length++) expect(crc32c(data, 0, length)).toBe(kafkajsCrc32c(data.subarray(0, length)));
    for (let i = 0; i < 200; i++) {
      const start = Math.floor(next() * 2_500);
      const end = start + Math.floor(next() * 2_500);
      expect(crc32c(data, start, end)).toBe(kafkajsCrc32c(data.subarray(start, end)));
    }
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283); // the CRC-32C check value
  });

  it('is native on this machine, and the native and JavaScript ones agree across the switch between them', () => {
    // The prebuilt binary of @node-rs/crc32 loads here (linux-x64-gnu): without it record batches
    // still get the same checksums, from the JavaScript loop, 15 times slower.
    expect(nativeCrc32c).toBe(true);
    const next = random(11);
    const data = Buffer.from(Array.from({ length: 20_000 }, () => Math.floor(next() * 256)));
    for (let length = 200; length <= 320; length++) expect(crc32c(data, 3, 3 + length)).toBe(softwareCrc32c(data, 3, 3 + length));
    for (let i = 0; i < 200; i++) {
      const start = Math.floor(next() * 10_000);
      const end = start + Math.floor(next() * 10_000);
      const expected = kafkajsCrc32c(data.subarray(start, end));
      expect(crc32c(data, start, end)).toBe(expected);
      expect(softwareCrc32c(data, start, end)).toBe(expected);
    }
    // A view into a larger buffer (as the Produce request's body is) is read from its own offset.
    const view = new Uint8Array(data.buffer, data.byteOffset + 1_000, 5_000);
    expect(crc32c(view, 100, 4_100)).toBe(kafkajsCrc32c(data.subarray(1_100, 5_100)));
  });
});

describe('a producer of createKafka', () => {
  it('sends records the broker stores and a consumer reads back unchanged: keys, values, headers, timestamps, tombstones', async () => {
    const kafka = createKafka({ brokers: brokers(), clientId: 'produce-encoding-test' });
    // The producer below runs on the one-pass encoder, not on kafkajs's.
    expect((require(PRODUCE_REQUEST_MODULE) as KafkajsProduceRequestFactory).name).toBe('onePassProduceRequest');
    const topic = unique('produce-encoding');
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 2 }], waitForLeaders: true });
    await admin.disconnect();
    const sent = Array.from({ length: 500 }, (_, i) => ({
      key: i % 50 === 0 ? null : `clé-${i % 37}`,
      value: i % 97 === 0 ? null : JSON.stringify({ i, text: TEXTS[i % TEXTS.length] }),
      ...(i % 3 === 0 ? { headers: { source: `h-${i}`, bytes: Buffer.from([i & 0xff, 0, 255]) } } : {}),
      ...(i % 5 === 0 ? { timestamp: String(1_700_000_000_000 + i) } : {}),
      partition: i % 2,
    }));
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    await producer.send({ topic, acks: -1, messages: sent.slice(0, 250) });
    await producer.send({ topic, acks: -1, messages: sent.slice(250) });
    await producer.disconnect();

    const consumer = kafka.consumer({ groupId: unique('produce-encoding'), maxWaitTimeInMs: 100 });
    const received: { partition: number; key: string | null; value: string | null; headers: Record<string, string>; timestamp: string }[] = [];
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        received.push({
          partition,
          key: message.key === null ? null : message.key.toString(),
          value: message.value === null ? null : message.value.toString(),
          headers: Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, Buffer.from(v as Buffer).toString('hex')])),
          timestamp: message.timestamp,
        });
      },
    });
    const deadline = Date.now() + 30_000;
    while (received.length < sent.length && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    await consumer.disconnect();

    const expected = (partition: number) =>
      sent
        .filter((m) => m.partition === partition)
        .map((m) => ({
          key: m.key,
          value: m.value,
          headers: m.headers === undefined ? {} : { source: Buffer.from(m.headers.source).toString('hex'), bytes: m.headers.bytes.toString('hex') },
          ...(m.timestamp === undefined ? {} : { timestamp: m.timestamp }),
        }));
    for (const partition of [0, 1]) {
      const got = received.filter((r) => r.partition === partition).map(({ partition: _, timestamp, ...rest }) => ({ ...rest, timestamp }));
      expect(got.map(({ timestamp: _, ...rest }) => rest)).toEqual(expected(partition).map(({ timestamp: _, ...rest }) => rest));
      // Messages with a timestamp keep it; the others carry the send's time.
      expected(partition).forEach((m, i) => {
        if (m.timestamp !== undefined) expect(got[i]!.timestamp).toBe(m.timestamp);
        else expect(Number(got[i]!.timestamp)).toBeGreaterThan(1_700_000_000_000);
      });
    }
  }, 60_000);
});
