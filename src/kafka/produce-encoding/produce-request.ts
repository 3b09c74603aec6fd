/**
 * A Produce request body (versions 3 to 7: they share one layout) encoded in one pass
 * into one buffer of its exact size: the same bytes as kafkajs 2.2.4's
 * `protocol/requests/produce/v3/request.js`, at a seventh of its CPU.
 *
 * Why: a window end fires a result per key at once (1,000 keys: 1,000 messages), and
 * kafkajs spends ~18 µs of CPU on each: every record is encoded into its own
 * zero-filled buffer that grows by copying, varints are built as arrays, 64-bit values
 * go through BigInt, then the records are copied into the batch, the batch into the
 * request, and checksummed a byte at a time. That is most of the latency of a window's
 * results (README, "Latency: where the time goes").
 *
 * Layout (Kafka's `ProduceRequest` v3, record batch magic 2, uncompressed):
 *
 *     transactional_id:NULLABLE_STRING acks:INT16 timeout:INT32 [topic:STRING [partition:INT32 records:RECORDS]]
 *     RECORDS = size:INT32 base_offset:INT64 length:INT32 leader_epoch:INT32 magic:INT8 crc:UINT32
 *               attributes:INT16 last_offset_delta:INT32 first_timestamp:INT64 max_timestamp:INT64
 *               producer_id:INT64 producer_epoch:INT16 base_sequence:INT32 [record]   (crc: attributes to the end)
 *     record  = length:VARINT attributes:INT8 timestamp_delta:VARLONG offset_delta:VARINT
 *               key:VARINT-BYTES value:VARINT-BYTES [header_key:VARINT-STRING header_value:VARINT-BYTES]
 *
 * Only the shapes our producers send take this path: keys, values and header values that
 * are strings, Buffers or absent, and integer timestamps. Anything else makes
 * `encodeProduceRequest` answer `undefined`, and the caller lets kafkajs encode it (and
 * report the error kafkajs would).
 */
import { crc32c } from './crc32c.js';

/** A message as kafkajs hands it to the request (its `Message`). */
export interface ProduceMessage {
  readonly key?: unknown;
  readonly value?: unknown;
  readonly headers?: unknown;
  readonly timestamp?: unknown;
}

export interface ProducePartitionData {
  readonly partition: number | string;
  /** The idempotent producer's sequence of the batch's first record (0 otherwise). */
  readonly firstSequence?: number;
  readonly messages: readonly ProduceMessage[];
}

export interface ProduceTopicData {
  readonly topic: string;
  readonly partitions: readonly ProducePartitionData[];
}

export interface ProduceRequestFields {
  readonly transactionalId: string | null;
  readonly acks: number;
  readonly timeout: number;
  readonly producerId: bigint;
  readonly producerEpoch: number;
  readonly topicData: readonly ProduceTopicData[];
}

/** Bytes of a record batch before its records: base offset to the record count. */
const BATCH_HEADER_BYTES = 8 + 4 + 4 + 1 + 4 + 2 + 4 + 8 + 8 + 8 + 2 + 4 + 4;
/** A batch's base offset and length: the length counts the bytes after them. */
const BATCH_LENGTH_EXCLUDES = 8 + 4;
/** Where the checksummed part starts within a batch: after base offset, length, leader epoch, magic and crc. */
const CRC_REGION_OFFSET = 8 + 4 + 4 + 1 + 4;
const MAGIC = 2;
const TRANSACTIONAL_ATTRIBUTE = 0x10;

/** A message's key, value and header bytes as measured in the first pass, for the second. */
interface MeasuredMessage {
  keyBytes: number;
  valueBytes: number;
  headersBytes: number;
  timestampDelta: number;
}

/** A partition's batch as measured: record sizes, timestamps, total bytes. */
interface MeasuredBatch {
  readonly messages: MeasuredMessage[];
  readonly firstTimestamp: number;
  readonly maxTimestamp: number;
  /** Records' bytes (each with its length varint). */
  readonly recordsBytes: number;
}

/**
 * The request body's bytes, or `undefined` when a message is not of a shape this encoder takes.
 * With `headroom`, the body is allocated with that many free bytes before it (for its frame).
 */
export function encodeProduceRequest(fields: ProduceRequestFields, headroom = 0): Buffer | undefined {
  const batches: MeasuredBatch[] = [];
  let size = nullableStringBytes(fields.transactionalId) + 2 + 4 + 4;
  for (const topic of fields.topicData) {
    size += stringBytes(topic.topic) + 4;
    for (const partition of topic.partitions) {
      const batch = measureBatch(partition.messages);
      if (batch === undefined) return undefined;
      batches.push(batch);
      size += 4 + 4 + BATCH_HEADER_BYTES + batch.recordsBytes; // partition, RECORDS size, the batch
    }
  }

  const out = new Writer(headroom === 0 ? Buffer.allocUnsafe(size) : Buffer.allocUnsafe(headroom + size).subarray(headroom));
  out.nullableString(fields.transactionalId);
  out.int16(fields.acks);
  out.int32(fields.timeout);
  out.int32(fields.topicData.length);
  const attributes = fields.transactionalId ? TRANSACTIONAL_ATTRIBUTE : 0;
  let b = 0;
  for (const topic of fields.topicData) {
    out.nullableString(topic.topic);
    out.int32(topic.partitions.length);
    for (const partition of topic.partitions) {
      const batch = batches[b++]!;
      const batchBytes = BATCH_HEADER_BYTES + batch.recordsBytes;
      out.int32(Number(partition.partition));
      out.int32(batchBytes);
      const batchStart = out.position;
      out.int64(0n);
      out.int32(batchBytes - BATCH_LENGTH_EXCLUDES);
      out.int32(0); // partition leader epoch: set by the broker
      out.int8(MAGIC);
      const crcAt = out.position;
      out.int32(0);
      out.int16(attributes);
      out.int32(partition.messages.length - 1);
      out.int64(BigInt(batch.firstTimestamp));
      out.int64(BigInt(batch.maxTimestamp));
      out.int64(fields.producerId);
      out.int16(fields.producerEpoch);
      out.int32(partition.firstSequence ?? 0);
      out.int32(partition.messages.length);
      writeRecords(out, partition.messages, batch.messages);
      out.buffer.writeUInt32BE(crc32c(out.buffer, batchStart + CRC_REGION_OFFSET, out.position), crcAt);
    }
  }
  if (out.position !== size) throw new Error(`produce request encoding: wrote ${out.position} bytes, measured ${size}`);
  return out.buffer;
}

function writeRecords(out: Writer, messages: readonly ProduceMessage[], measured: readonly MeasuredMessage[]): void {
  for (let i = 0; i < messages.length; i++) {
    const message = messages[i]!;
    const m = measured[i]!;
    out.varint(recordBodyBytes(m, i));
    out.int8(0); // record attributes: none are defined
    out.varlong(m.timestampDelta);
    out.varint(i);
    out.varintBytes(message.key as string | Buffer | null | undefined, m.keyBytes);
    out.varintBytes(message.value as string | Buffer | null | undefined, m.valueBytes);
    writeHeaders(out, message.headers as HeaderMap | undefined);
  }
}

type HeaderValue = string | Buffer;
type HeaderMap = Readonly<Record<string, HeaderValue | readonly HeaderValue[]>>;

function writeHeaders(out: Writer, headers: HeaderMap | undefined): void {
  if (headers === undefined) {
    out.varint(0);
    return;
  }
  let count = 0;
  for (const name of Object.keys(headers)) {
    const value = headers[name]!;
    count += Array.isArray(value) ? value.length : 1;
  }
  out.varint(count);
  for (const name of Object.keys(headers)) {
    const value = headers[name]!;
    for (const one of Array.isArray(value) ? (value as readonly HeaderValue[]) : [value as HeaderValue]) {
      out.varintBytes(name, Buffer.byteLength(name));
      out.varintBytes(one, typeof one === 'string' ? Buffer.byteLength(one) : one.length);
    }
  }
}

/** Sizes, deltas and timestamps of a partition's messages, as kafkajs computes them; `undefined` off the fast path. */
function measureBatch(messages: readonly ProduceMessage[]): MeasuredBatch | undefined {
  const now = Date.now();
  // kafkajs sorts the messages' timestamps as strings (`Array.prototype.sort` without a
  // comparator) and takes the first and last: the same here, so that the bytes match.
  const timestamps: unknown[] = [];
  for (const message of messages) {
    if (message.timestamp == null) continue;
    if (!isIntegerTimestamp(message.timestamp)) return undefined;
    timestamps.push(message.timestamp);
  }
  timestamps.sort();
  const first = timestamps.length === 0 ? now : Number(timestamps[0]);
  const max = timestamps.length === 0 ? now : Number(timestamps[timestamps.length - 1]);

  const measured: MeasuredMessage[] = new Array(messages.length);
  let recordsBytes = 0;
  for (let i = 0; i < messages.length; i++) {
    const message = messages[i]!;
    const keyBytes = byteLength(message.key);
    const valueBytes = byteLength(message.value);
    const headersBytes = measureHeaders(message.headers);
    if (keyBytes === undefined || valueBytes === undefined || headersBytes === undefined) return undefined;
    // `timestamp || now`: kafkajs's expression (a timestamp of 0 means "now" there too).
    const own = message.timestamp as number | string | null | undefined;
    const m: MeasuredMessage = { keyBytes, valueBytes, headersBytes, timestampDelta: (own ? Number(own) : now) - first };
    measured[i] = m;
    const body = recordBodyBytes(m, i);
    recordsBytes += varintBytes(body) + body;
  }
  return { messages: measured, firstTimestamp: first, maxTimestamp: max, recordsBytes };
}

/** A record's bytes after its length varint. */
function recordBodyBytes(m: MeasuredMessage, offsetDelta: number): number {
  return 1 + varlongBytes(m.timestampDelta) + varintBytes(offsetDelta) + bytesField(m.keyBytes) + bytesField(m.valueBytes) + m.headersBytes;
}

/** A VARINT-BYTES field's size: its length varint and its bytes (-1: null, one byte). */
function bytesField(bytes: number): number {
  return bytes < 0 ? 1 : varintBytes(bytes) + bytes;
}

function measureHeaders(headers: unknown): number | undefined {
  if (headers === undefined) return 1;
  if (headers === null || typeof headers !== 'object') return undefined;
  let count = 0;
  let bytes = 0;
  for (const [name, value] of Object.entries(headers as Record<string, unknown>)) {
    for (const one of Array.isArray(value) ? (value as unknown[]) : [value]) {
      const valueBytes = one == null ? undefined : byteLength(one);
      if (valueBytes === undefined || valueBytes < 0) return undefined;
      bytes += bytesField(Buffer.byteLength(name)) + bytesField(valueBytes);
      count++;
    }
  }
  return varintBytes(count) + bytes;
}

/** UTF-8 bytes of a string, a Buffer's length, -1 for null or undefined, `undefined` for anything else. */
function byteLength(value: unknown): number | undefined {
  if (typeof value === 'string') return Buffer.byteLength(value);
  if (value == null) return -1;
  if (Buffer.isBuffer(value)) return value.length;
  return undefined;
}

function isIntegerTimestamp(value: unknown): boolean {
  if (typeof value === 'number') return Number.isSafeInteger(value);
  return typeof value === 'string' && /^-?\d{1,15}$/.test(value);
}

function stringBytes(value: string): number {
  return 2 + Buffer.byteLength(value);
}

function nullableStringBytes(value: string | null): number {
  return value === null ? 2 : stringBytes(value);
}

const zigzag = (value: number): number => (value >= 0 ? value * 2 : -value * 2 - 1);

/** Bytes of a zigzag varint (Kafka's VARINT and VARLONG: the same encoding, up to 5 and 10 bytes). */
function varintBytes(value: number): number {
  let z = zigzag(value);
  let bytes = 1;
  while (z >= 0x80) {
    z = Math.floor(z / 0x80);
    bytes++;
  }
  return bytes;
}

const varlongBytes = varintBytes;

/** Big-endian fields and zigzag varints written in place into a buffer of the request's exact size. */
class Writer {
  position = 0;

  constructor(readonly buffer: Buffer) {}

  int8(value: number): void {
    this.buffer[this.position++] = value & 0xff;
  }

  int16(value: number): void {
    this.buffer.writeInt16BE(value, this.position);
    this.position += 2;
  }

  int32(value: number): void {
    this.buffer.writeInt32BE(value, this.position);
    this.position += 4;
  }

  int64(value: bigint): void {
    this.buffer.writeBigInt64BE(value, this.position);
    this.position += 8;
  }

  nullableString(value: string | null): void {
    if (value === null) {
      this.int16(-1);
      return;
    }
    const bytes = Buffer.byteLength(value);
    this.int16(bytes);
    this.position += this.buffer.write(value, this.position, bytes, 'utf8');
  }

  varint(value: number): void {
    let z = zigzag(value);
    const buffer = this.buffer;
    while (z >= 0x80) {
      buffer[this.position++] = (z % 0x80) | 0x80;
      z = Math.floor(z / 0x80);
    }
    buffer[this.position++] = z;
  }

  varlong(value: number): void {
    this.varint(value);
  }

  /** A VARINT-BYTES field whose byte length (-1: null) was measured. */
  varintBytes(value: string | Buffer | null | undefined, bytes: number): void {
    this.varint(bytes);
    if (value == null) return;
    if (typeof value === 'string') this.buffer.write(value, this.position, bytes, 'utf8');
    else value.copy(this.buffer, this.position);
    this.position += bytes;
  }
}
