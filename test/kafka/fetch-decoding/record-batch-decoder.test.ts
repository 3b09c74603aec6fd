/**
 * The one-pass record batch decoder against kafkajs 2.2.4's own, on batches kafkajs's own
 * encoder writes (random records, headers, compression, timestamp types, control and
 * transactional batches, offsets past 2^53) and on damaged bytes, and its place in Node's
 * module cache ahead of kafkajs wherever this project's modules load kafkajs.
 */
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { decodeRecordBatch, RECORD_BATCH_DECODER_MODULE, type KafkajsDecoder, type RecordBatch } from '../../../src/kafka/fetch-decoding/record-batch-decoder.js';
import { kafkajsOwn, moduleCacheAfterImport } from '../kafkajs-modules.js';

const require = createRequire(import.meta.url);

// kafkajs's encoder cannot write a null header value (other clients can: the damaged-bytes test reaches that case).
type HeaderValue = Buffer | string;
interface RecordFields {
  offsetDelta: number;
  timestampDelta: number | KafkajsLong;
  key: Buffer | string | null;
  value: Buffer | string | null;
  headers?: Record<string, HeaderValue | HeaderValue[]>;
}
interface KafkajsLong {
  toString(): string;
}
interface BatchFields {
  compression?: number;
  firstOffset?: KafkajsLong;
  firstTimestamp?: number | KafkajsLong;
  maxTimestamp?: number | KafkajsLong;
  transactional?: boolean;
  lastOffsetDelta?: number;
  records: unknown[];
}

const Decoder = require('kafkajs/src/protocol/decoder.js') as new (buffer: Buffer) => KafkajsDecoder;
const Long = require('kafkajs/src/utils/long.js') as { fromValue(value: string | number): KafkajsLong };
const Record = require('kafkajs/src/protocol/recordBatch/record/v0/index.js') as (fields: RecordFields) => unknown;
const { RecordBatch } = require('kafkajs/src/protocol/recordBatch/v0/index.js') as { RecordBatch(fields: BatchFields): Promise<{ buffer: Buffer }> };
const kafkajsDecode = kafkajsOwn<(decoder: KafkajsDecoder) => Promise<RecordBatch>>(RECORD_BATCH_DECODER_MODULE);

/** Where a batch's attributes sit: after the first offset, length, leader epoch, magic byte and CRC. */
const ATTRIBUTES_AT = 8 + 4 + 4 + 1 + 4;
const LOG_APPEND_TIME = 0x8;
const CONTROL = 0x20;
const GZIP = 1;

let seed = 20_261_207;
const next = (): number => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
const pick = <T>(options: readonly T[]): T => options[Math.floor(next() * options.length)]!;
const text = (max: number): string => Array.from({ length: Math.floor(next() * max) }, () => pick(['a', 'é', '7', '"', '€', '\u0000', 'z'])).join('');

function randomRecord(i: number): unknown {
  const headers: Record<string, HeaderValue | HeaderValue[]> = {};
  for (let h = Math.floor(next() * 3) - (next() < 0.6 ? 2 : 0); h > 0; h--) {
    const name = pick(['source', 'trace', 'é', 'null']);
    headers[name] = next() < 0.3 ? [text(6), Buffer.from(text(4)), ''] : pick([text(8), Buffer.alloc(0)]);
  }
  return Record({
    offsetDelta: i,
    timestampDelta: pick([0, i, -i, Math.floor(next() * 2 ** 40), -Math.floor(next() * 2 ** 30)]),
    key: pick([null, `model-${Math.floor(next() * 100)}`, Buffer.alloc(0)]),
    value: pick([null, JSON.stringify({ i, s: text(40) }), Buffer.from(text(20)), Buffer.alloc(0)]),
    headers,
  });
}

async function randomBatch(): Promise<Buffer> {
  const count = pick([0, 1, 2, 5, 40, 300]);
  const firstTimestamp = pick([1_764_000_000_000 + Math.floor(next() * 1e9), -1, 0]);
  const batch = await RecordBatch({
    compression: next() < 0.25 ? GZIP : 0,
    firstOffset: Long.fromValue(pick([0, 7, 123_456_789, 2 ** 52 - 1000])),
    firstTimestamp,
    maxTimestamp: firstTimestamp + 999,
    transactional: next() < 0.2,
    lastOffsetDelta: Math.max(0, count - 1),
    records: Array.from({ length: count }, (_, i) => randomRecord(i)),
  });
  const buffer = Buffer.from(batch.buffer);
  const flags = (next() < 0.3 ? LOG_APPEND_TIME : 0) | (next() < 0.1 ? CONTROL : 0);
  buffer.writeInt16BE(buffer.readInt16BE(ATTRIBUTES_AT) | flags, ATTRIBUTES_AT);
  return buffer;
}

/**
 * What a decode gives, field by field in key order (JSON keeps the order; buffers as their
 * bytes), or the error it throws, and where it leaves the fetch response's decoder.
 */
async function outcome(decode: (decoder: KafkajsDecoder) => Promise<RecordBatch>, bytes: Buffer): Promise<string> {
  const decoder = new Decoder(Buffer.from(bytes));
  try {
    const batch = await decode(decoder);
    return JSON.stringify({ batch, next: decoder.offset });
  } catch (error) {
    return JSON.stringify({ error: `${(error as Error).name}: ${(error as Error).message}` });
  }
}

describe('one-pass record batch decoder', () => {
  it('gives kafkajs\'s records, field for field, on 300 random batches', async () => {
    for (let run = 0; run < 300; run++) {
      const bytes = await randomBatch();
      const expected = await outcome(kafkajsDecode, bytes);
      expect(expected).not.toContain('"error"');
      expect(await outcome(decodeRecordBatch, bytes), `batch ${run}`).toBe(expected);
    }
  });

  it('reads consecutive batches of one fetch response and stops at a partial one as kafkajs does', async () => {
    const whole = Buffer.concat([await randomBatch(), await randomBatch(), await randomBatch()]);
    const cut = whole.subarray(0, whole.length - 10);
    const readAll = async (decode: (decoder: KafkajsDecoder) => Promise<RecordBatch>): Promise<string> => {
      const decoder = new Decoder(cut);
      const batches: string[] = [];
      try {
        while (decoder.offset < cut.length) batches.push(JSON.stringify(await decode(decoder)));
      } catch (error) {
        batches.push((error as Error).name);
      }
      return JSON.stringify({ batches, at: decoder.offset });
    };
    const expected = await readAll(kafkajsDecode);
    expect(expected).toContain('KafkaJSPartialMessageError');
    expect(await readAll(decodeRecordBatch)).toBe(expected);
  });

  it('leaves to kafkajs the batches numbers cannot hold exactly: offsets and timestamps past 2^53, 8-byte timestamp deltas', async () => {
    const cases: BatchFields[] = [
      { firstOffset: Long.fromValue('9007199254740990'), records: [Record({ offsetDelta: 0, timestampDelta: 0, key: 'k', value: 'a' }), Record({ offsetDelta: 5, timestampDelta: 1, key: 'k', value: 'b' })] },
      { firstOffset: Long.fromValue('9223372036854775000'), records: [Record({ offsetDelta: 3, timestampDelta: 0, key: null, value: 'c' })] },
      { firstTimestamp: Long.fromValue('9007199254740000'), maxTimestamp: Long.fromValue('9007199254740000'), records: [Record({ offsetDelta: 0, timestampDelta: 5000, key: 'k', value: 'd' })] },
      { firstTimestamp: 0, records: [Record({ offsetDelta: 0, timestampDelta: Long.fromValue('1152921504606846976'), key: 'k', value: 'e' })] },
      // A delta past 2^53 whose sum is small: a number would round the delta, not the sum.
      { firstTimestamp: Long.fromValue('-9007199254740991'), records: [Record({ offsetDelta: 0, timestampDelta: Long.fromValue('9007199254740993'), key: 'k', value: 'f' })] },
    ];
    for (const fields of cases) {
      const bytes = Buffer.from((await RecordBatch(fields)).buffer);
      const expected = await outcome(kafkajsDecode, bytes);
      expect(expected).not.toContain('"error"');
      expect(await outcome(decodeRecordBatch, bytes)).toBe(expected);
    }
  });

  it('keeps kafkajs\'s reduction of headers, a repeated key\'s values in an array and a "__proto__" key as its own property', async () => {
    const headers: Record<string, HeaderValue | HeaderValue[]> = { trace: ['a', 'b', ''] };
    Object.defineProperty(headers, '__proto__', { value: 'x', enumerable: true });
    const bytes = Buffer.from((await RecordBatch({ records: [Record({ offsetDelta: 0, timestampDelta: 0, key: 'k', value: 'v', headers })] })).buffer);
    const [ours, theirs] = [(await decodeRecordBatch(new Decoder(bytes))).records[0]!, (await kafkajsDecode(new Decoder(bytes))).records[0]!];
    expect(Object.getOwnPropertyNames(ours.headers)).toEqual(Object.getOwnPropertyNames(theirs.headers));
    expect(ours.headers['trace']).toEqual([Buffer.from('a'), Buffer.from('b'), Buffer.alloc(0)]);
    expect(JSON.stringify(ours)).toBe(JSON.stringify(theirs));
  });

  it('ends as kafkajs ends on damaged bytes: the same records or the same error', async () => {
    let damaged = 0;
    for (let run = 0; run < 400; run++) {
      const bytes = await randomBatch();
      // Damage the records, not the header (kafkajs reads the header the same way in both).
      for (let flips = 1 + Math.floor(next() * 3); flips > 0; flips--) {
        const at = 61 + Math.floor(next() * Math.max(1, bytes.length - 61));
        if (at < bytes.length) bytes[at] = Math.floor(next() * 256);
      }
      const expected = await outcome(kafkajsDecode, bytes);
      if (expected.includes('"error"')) damaged++;
      expect(await outcome(decodeRecordBatch, bytes), `batch ${run}`).toBe(expected);
    }
    // Some of the damage must have made kafkajs fail, or this compares only clean decodes.
    expect(damaged).toBeGreaterThan(0);
  });

  it('is what kafkajs\'s Fetch responses load when the library or the Kafka job is imported', () => {
    for (const entry of ['src/index.ts', 'src/runner/kafka-job.ts']) {
      expect(moduleCacheAfterImport(entry, [RECORD_BATCH_DECODER_MODULE], ['kafkajs']), entry).toEqual({
        exports: { [RECORD_BATCH_DECODER_MODULE]: 'decodeRecordBatch' },
        loaded: { kafkajs: true },
      });
    }
  });
});
