/**
 * kafkajs decodes every fetched record through a fresh `Decoder` over a copy-free slice of it,
 * parses the batch's first offset and first timestamp from their strings into `Long`s twice
 * per record, adds the deltas as `Long`s (the timestamp's varlong is itself built from a
 * `Long` per byte) and reduces the headers through an object spread: ~10 allocations and two
 * string parses per record, the largest source of garbage in a consuming job (README,
 * "Latency: where the time goes") and ~8% of its CPU.
 *
 * `decodeRecordBatch` is kafkajs 2.2.4's `recordBatch/v0/decoder` with the records read in
 * one pass over the batch's buffer: offsets and timestamps as numbers (exact below 2^53),
 * key and value as views of the fetched bytes as kafkajs gives them, the headers reduced as
 * kafkajs reduces them. It returns kafkajs's objects, field for field and in the same order
 * (test/kafka/fetch-decoding/record-batch-decoder.test.ts compares them on random batches).
 * A batch it cannot read exactly that way (offsets or timestamps past 2^53, a record longer
 * than the batch) is handed to kafkajs's own decoder whole.
 *
 * kafkajs's fetch response holds the decoder from its load on, so, like the linear grouping
 * (../produce-encoding/linear-grouping.ts), it goes into Node's module cache before kafkajs
 * loads: `../kafkajs.ts` imports this module ahead of kafkajs. Where kafkajs was loaded first,
 * its own decoder stays: slower, the same records.
 */
import { createRequire } from 'node:module';
import { replaceKafkajsModule } from '../kafkajs-module-cache.js';

const require = createRequire(import.meta.url);

export const RECORD_BATCH_DECODER_MODULE = 'kafkajs/src/protocol/recordBatch/v0/decoder.js';
/** The module that holds the record batch decoder from its load on (the Fetch responses of v4 and later). */
const DECODE_MESSAGES_MODULE = 'kafkajs/src/protocol/requests/fetch/v4/decodeMessages.js';

/** The parts of kafkajs's `Decoder` used here. */
export interface KafkajsDecoder {
  readonly buffer: Buffer;
  offset: number;
  readInt8(): number;
  readInt16(): number;
  readInt32(): number;
  readInt64(): { toString(): string };
  readAll(): Buffer;
  slice(size: number): KafkajsDecoder;
  forward(size: number): void;
}

type Headers = Record<string, Buffer | null | (Buffer | null)[]>;

/** kafkajs's record context of a batch (the first offset and timestamps as decimal strings). */
interface RecordContext {
  readonly firstOffset: string;
  readonly firstTimestamp: string;
  readonly partitionLeaderEpoch: number;
  readonly inTransaction: boolean;
  readonly isControlBatch: boolean;
  readonly lastOffsetDelta: number;
  readonly producerId: string;
  readonly producerEpoch: number;
  readonly firstSequence: number;
  readonly maxTimestamp: string;
  readonly timestampType: number;
}

type BatchContext = RecordContext & { readonly magicByte: number };

/** One record as kafkajs's record decoder gives it. */
export interface DecodedRecord {
  readonly magicByte: number;
  readonly attributes: number;
  readonly timestamp: string;
  readonly offset: string;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: Headers;
  readonly isControlRecord: boolean;
  readonly batchContext: BatchContext;
}

export type RecordBatch = RecordContext & { readonly records: DecodedRecord[] };

interface Codec {
  decompress(buffer: Buffer): Promise<Buffer>;
}

const { KafkaJSPartialMessageError } = require('kafkajs/src/errors.js') as { KafkaJSPartialMessageError: new (message: string) => Error };
const { lookupCodecByAttributes } = require('kafkajs/src/protocol/message/compression/index.js') as { lookupCodecByAttributes(attributes: number): Codec | null };
const TimestampTypes = require('kafkajs/src/protocol/timestampTypes.js') as { LOG_APPEND_TIME: number; CREATE_TIME: number };

const TIMESTAMP_TYPE_FLAG_MASK = 0x8;
const TRANSACTIONAL_FLAG_MASK = 0x10;
const CONTROL_FLAG_MASK = 0x20;

/** A batch this decoder leaves to kafkajs's. */
class NotExact extends Error {}
const NOT_EXACT = new NotExact('record batch not decodable with numbers');

/** kafkajs's `recordBatch/v0/decoder`, loaded from its file the first time a batch is left to it. */
let kafkajsDecodeRecordBatch: ((decoder: KafkajsDecoder) => Promise<RecordBatch>) | undefined;

/** kafkajs's record batch decoder, with the records read in one pass (see the module comment). */
export async function decodeRecordBatch(fetchDecoder: KafkajsDecoder): Promise<RecordBatch> {
  const start = fetchDecoder.offset;
  try {
    return await decodeExactly(fetchDecoder);
  } catch (error) {
    if (!(error instanceof NotExact)) throw error;
    fetchDecoder.offset = start;
    return kafkajsDecoder()(fetchDecoder);
  }
}

function kafkajsDecoder(): (decoder: KafkajsDecoder) => Promise<RecordBatch> {
  if (kafkajsDecodeRecordBatch === undefined) kafkajsDecodeRecordBatch = loadKafkajsOwn();
  return kafkajsDecodeRecordBatch;
}

/** kafkajs's decoder from its file, whatever the module cache holds for it. */
function loadKafkajsOwn(): (decoder: KafkajsDecoder) => Promise<RecordBatch> {
  const path = require.resolve(RECORD_BATCH_DECODER_MODULE);
  const cached = require.cache[path];
  delete require.cache[path];
  try {
    return require(path) as (decoder: KafkajsDecoder) => Promise<RecordBatch>;
  } finally {
    if (cached !== undefined) require.cache[path] = cached;
  }
}

async function decodeExactly(fetchDecoder: KafkajsDecoder): Promise<RecordBatch> {
  // The batch header, read as kafkajs reads it.
  const firstOffset = fetchDecoder.readInt64().toString();
  const length = fetchDecoder.readInt32();
  const decoder = fetchDecoder.slice(length);
  fetchDecoder.forward(length);
  const remainingBytes = Buffer.byteLength(decoder.buffer);
  if (remainingBytes < length) {
    throw new KafkaJSPartialMessageError(`Tried to decode a partial record batch: remainingBytes(${remainingBytes}) < recordBatchLength(${length})`);
  }
  const partitionLeaderEpoch = decoder.readInt32();
  const magicByte = decoder.readInt8();
  decoder.readInt32(); // CRC: kafkajs does not check it either
  const attributes = decoder.readInt16();
  const lastOffsetDelta = decoder.readInt32();
  const firstTimestamp = decoder.readInt64().toString();
  const maxTimestamp = decoder.readInt64().toString();
  const producerId = decoder.readInt64().toString();
  const producerEpoch = decoder.readInt16();
  const firstSequence = decoder.readInt32();
  const recordContext: RecordContext = {
    firstOffset,
    firstTimestamp,
    partitionLeaderEpoch,
    inTransaction: (attributes & TRANSACTIONAL_FLAG_MASK) > 0,
    isControlBatch: (attributes & CONTROL_FLAG_MASK) > 0,
    lastOffsetDelta,
    producerId,
    producerEpoch,
    firstSequence,
    maxTimestamp,
    timestampType: (attributes & TIMESTAMP_TYPE_FLAG_MASK) > 0 ? TimestampTypes.LOG_APPEND_TIME : TimestampTypes.CREATE_TIME,
  };
  const codec = lookupCodecByAttributes(attributes);
  const batchContext: BatchContext = { ...recordContext, magicByte };

  let count = decoder.readInt32();
  let buffer = decoder.buffer;
  let position = decoder.offset;
  if (codec !== null) {
    if (count <= 0) return { ...recordContext, records: [] };
    buffer = await codec.decompress(decoder.readAll());
    position = 0;
  } else if (count === -1) {
    count = 0;
  }
  return { ...recordContext, records: decodeRecords(buffer, position, count, batchContext) };
}

/** `count` records from `buffer` at `position`, as kafkajs's record decoder gives them. */
function decodeRecords(buffer: Buffer, position: number, count: number, context: BatchContext): DecodedRecord[] {
  const baseOffset = exactNumber(context.firstOffset);
  // kafkajs stamps every record of a LogAppendTime batch with the batch's max timestamp.
  const appendTime = context.timestampType === TimestampTypes.LOG_APPEND_TIME && context.maxTimestamp !== '' ? context.maxTimestamp : undefined;
  const baseTimestamp = appendTime === undefined ? exactNumber(context.firstTimestamp) : 0;
  const { magicByte, isControlBatch } = context;
  const records: DecodedRecord[] = new Array(count);
  const reader = new VarReader(buffer, position);
  for (let i = 0; i < count; i++) {
    const length = reader.varInt();
    const next = reader.position + length;
    if (length < 0 || next > buffer.length) throw NOT_EXACT;
    const attributes = (buffer[reader.position++]! << 24) >> 24;
    const timestampDelta = reader.varLong();
    const offsetDelta = reader.varInt();
    const key = reader.bytes();
    const value = reader.bytes();
    const headers = reader.headers();
    // kafkajs reads a record within its length prefix: fields running past it read other bytes here.
    if (reader.position > next) throw NOT_EXACT;
    records[i] = {
      magicByte,
      attributes,
      timestamp: appendTime ?? exactSum(baseTimestamp, timestampDelta),
      offset: exactSum(baseOffset, offsetDelta),
      key,
      value,
      headers,
      isControlRecord: isControlBatch,
      batchContext: context,
    };
    // The fields may take less than the length prefix says: kafkajs skips the rest.
    reader.position = next;
  }
  return records;
}

/** A decimal string of an integer as a number, when that is exact. */
function exactNumber(text: string): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value)) throw NOT_EXACT;
  return value;
}

/** `base + delta` as kafkajs's `Long` writes it, when the sum is exact as a number. */
function exactSum(base: number, delta: number): string {
  const sum = base + delta;
  if (!Number.isSafeInteger(sum)) throw NOT_EXACT;
  return String(sum);
}

/** Kafka's varint fields of a record, read as kafkajs's `Decoder` reads them. */
class VarReader {
  constructor(
    private readonly buffer: Buffer,
    public position: number,
  ) {}

  /** kafkajs's `readVarInt`, step for step (it sums the shifted 7-bit groups, then undoes the zigzag). */
  varInt(): number {
    const buffer = this.buffer;
    let byte: number;
    let result = 0;
    let shift = 0;
    do {
      byte = buffer[this.position++]!;
      result += (byte & 0x7f) << shift;
      shift += 7;
    } while (byte >= 0x80);
    return (result >>> 1) ^ -(result & 1);
  }

  /** kafkajs's `readVarLong` as a number: exact up to 7 bytes (49 bits), past that the batch goes to kafkajs. */
  varLong(): number {
    const buffer = this.buffer;
    let byte: number;
    let result = 0;
    let scale = 1;
    let bytes = 0;
    do {
      if (++bytes > 7) throw NOT_EXACT;
      byte = buffer[this.position++]!;
      result += (byte & 0x7f) * scale;
      scale *= 128;
    } while (byte >= 0x80);
    // Zigzag: even values are the non-negative numbers, odd ones the negative.
    return result % 2 === 0 ? result / 2 : -(result + 1) / 2;
  }

  /** kafkajs's `readVarIntBytes`: a view of the bytes, or null for length −1. */
  bytes(): Buffer | null {
    const length = this.varInt();
    if (length === -1) return null;
    const start = this.position;
    this.position += length;
    return this.buffer.subarray(start, this.position);
  }

  /** kafkajs's `readVarIntString` (UTF-8). */
  private string(): string | null {
    const length = this.varInt();
    if (length === -1) return null;
    const start = this.position;
    this.position += length;
    return this.buffer.toString('utf8', start, this.position);
  }

  /** The record's headers, reduced as kafkajs reduces them: a repeated key gathers its values in an array. */
  headers(): Headers {
    const count = this.varInt();
    // kafkajs's `readVarIntArray` gives [] for −1 and 0, and throws on other negatives (its error, from its decoder).
    if (count < -1) throw NOT_EXACT;
    if (count <= 0) return {};
    const pairs = new Array<{ key: string | null; value: Buffer | null }>(count);
    for (let i = 0; i < count; i++) pairs[i] = { key: this.string(), value: this.bytes() };
    // kafkajs's reduce, spreads and computed keys included: a "__proto__" key stays an own property.
    return pairs.reduce<Headers>((obj, { key, value }) => {
      const name = String(key);
      const known = obj[name];
      return { ...obj, [name]: known === undefined ? value : Array.isArray(known) ? known.concat([value]) : [known, value] };
    }, {});
  }
}

/**
 * Puts `decodeRecordBatch` where kafkajs's Fetch responses will load it; whether they will.
 * The batches this one hands back go to kafkajs's own decoder, loaded from its file (`kafkajsDecoder`).
 */
export const installRecordBatchDecoder = (): boolean => replaceKafkajsModule(RECORD_BATCH_DECODER_MODULE, DECODE_MESSAGES_MODULE, decodeRecordBatch);

installRecordBatchDecoder();
