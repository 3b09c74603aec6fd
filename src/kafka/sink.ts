/**
 * The Kafka sink: messages to one topic, batched, acknowledged by all in-sync replicas
 * (`acks: -1`). One sink per topic: results go to `result_topic`, dead letters to
 * `dead_letter_topic`.
 *
 * Batching: messages accumulate in memory; a batch (at most `maxBatchMessages` and
 * `maxBatchBytes`) is sent when it reaches either, or `lingerMs` after its first message (0, the
 * default: as soon as the code writing it yields to the event loop). One send
 * is in flight at a time, so messages reach the partition in write order and whatever
 * accumulates during a send goes out together right after it (batches grow with load).
 *
 * Two ways to use it:
 * - `sink.writer(toMessages)`: an RxJS operator that writes each item's messages and
 *   re-emits the item, in input order, once the broker acknowledged all of them; the
 *   natural place to acknowledge the item's source records (see `KafkaSource.ack`).
 * - `sink.write(message)`: a promise per message, for code outside a pipeline.
 *
 * A send that fails for a transient reason (the broker unreachable, a leader moving) is
 * retried, after kafkajs's own retries, without end and with backoff, so a broker outage
 * holds results back (the unacknowledged messages keep the source paused) instead of
 * losing them; only `close()` bounds the wait. A send that fails for good fails its
 * messages and every later write: the output order could not be kept otherwise.
 * `flush()` and `close()` reject with it. With `onRejected`, a message the broker refuses
 * as such (too large, an invalid record) is dropped instead: order is kept around the
 * gap, and the sink goes on.
 */
import type { ICustomPartitioner, Message, Producer } from 'kafkajs';
import { CompressionTypes, Partitioners } from './kafkajs.js';
import { Observable, type OperatorFunction } from 'rxjs';
import { connectError, createKafka, isTransientKafkaError, type KafkaConnectionOptions } from './client.js';

export interface SinkMessage {
  /** Message key (determines the partition); none for null/undefined. */
  readonly key?: string | null;
  /** The message value; null is a tombstone (a compacted topic deletes the key). */
  readonly value: string | Buffer | null;
  /** A partition of the topic's own choosing; default: by key (murmur2), as Java producers do. */
  readonly partition?: number;
  readonly headers?: Readonly<Record<string, string>>;
}

export interface KafkaSinkOptions extends KafkaConnectionOptions {
  readonly topic: string;
  /**
   * How long the first message of a batch may wait for company, ms. Default 0: until the
   * current synchronous work yields (a `setImmediate` turn). A pipeline writes in bursts
   * (every result of a watermark step at once), so a burst still goes out as one batch,
   * and a timer would only add its delay to every result's latency.
   */
  readonly lingerMs?: number;
  /** Messages per send. Default 1,000. */
  readonly maxBatchMessages?: number;
  /** Bytes per send: keys, values and headers as encoded, plus each record's framing. Default 1,000,000 (under the broker's default `message.max.bytes`). */
  readonly maxBatchBytes?: number;
  /** Default none: on a local broker compression costs more CPU than it saves. */
  readonly compression?: CompressionTypes;
  /** Idempotent producer (no duplicates from kafkajs's own retries). Default false. */
  readonly idempotent?: boolean;
  /**
   * Set for outputs where one lost message beats a stopped job (dead letters;
   * never results): a message the broker rejects for itself (`MESSAGE_TOO_LARGE`,
   * `RECORD_LIST_TOO_LARGE`, `INVALID_RECORD`) is handed here and dropped, its
   * write resolves, and later writes go on. Any other send error still fails the sink.
   */
  readonly onRejected?: (error: unknown, message: { readonly key: string | null; readonly value: string }) => void;
  /** Told of every failed send, retried ones included (`stream_processor_errors_total{kind="send_failed"}`). */
  readonly onSendError?: (error: unknown) => void;
}

export interface KafkaSink {
  readonly topic: string;
  /** Messages written and not yet acknowledged by the broker (buffered or being sent). */
  readonly inFlight: number;
  /** Connects the producer now rather than on the first send, to fail early on a bad address. */
  connect(): Promise<void>;
  /** Writes one message; resolves when the broker acknowledged it. */
  write(message: SinkMessage): Promise<void>;
  /**
   * An operator that writes `toMessages(item)` (one message, several, or none) and emits
   * the item once all of them are acknowledged, in input order. It completes after the
   * input completed and every write was acknowledged, and errors when a send fails.
   */
  writer<T>(toMessages: (item: T) => SinkMessage | readonly SinkMessage[] | null | undefined): OperatorFunction<T, T>;
  /** Sends what is buffered; resolves when everything written so far is acknowledged. */
  flush(): Promise<void>;
  /**
   * Flushes, then disconnects the producer. Idempotent; later writes throw. Transient send
   * failures are retried for at most `timeoutMs` (default 10,000) from here on; past that
   * the unsent messages fail and `close` rejects.
   */
  close(timeoutMs?: number): Promise<void>;
}

interface Pending {
  readonly message: Message;
  /** `approxBytes(message)`, measured once: a string's UTF-8 length costs a scan of it. */
  readonly bytes: number;
  /** One of the two is called, once. */
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Broker errors about the message itself (kafkajs types, not retriable): sending it
 * again can never succeed, and it says nothing about the other messages.
 */
const MESSAGE_REJECTIONS: ReadonlySet<string> = new Set(['MESSAGE_TOO_LARGE', 'RECORD_LIST_TOO_LARGE', 'INVALID_RECORD']);

/** Whether `error`, or an error it wraps (kafkajs's retrier wraps in `cause`), is a per-message rejection. */
function isMessageRejection(error: unknown): boolean {
  for (let e = error, depth = 0; typeof e === 'object' && e !== null && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const type = (e as { type?: unknown }).type;
    if (typeof type === 'string' && MESSAGE_REJECTIONS.has(type)) return true;
  }
  return false;
}

const DEFAULT_LINGER_MS = 0;
const DEFAULT_MAX_BATCH_MESSAGES = 1_000;
/**
 * The broker refuses a partition's batch over its `message.max.bytes` (default 1,048,588) as
 * encoded: keys, values and headers, each record's framing (`RECORD_FRAMING_BYTES`) and the
 * batch header (61 bytes). The default stays under it with room for both.
 */
const DEFAULT_MAX_BATCH_BYTES = 1_000_000;
/** A record's framing at most: length, attributes, timestamp and offset deltas, key, value and header counts (varints). */
const RECORD_FRAMING_BYTES = 40;
/** Backoff between retries of a send that failed transiently: doubling up to the maximum. */
const RETRY_INITIAL_MS = 200;
const RETRY_MAX_MS = 5_000;
const DEFAULT_CLOSE_TIMEOUT_MS = 10_000;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export function kafkaSink(options: KafkaSinkOptions): KafkaSink {
  const lingerMs = options.lingerMs ?? DEFAULT_LINGER_MS;
  const maxBatchMessages = options.maxBatchMessages ?? DEFAULT_MAX_BATCH_MESSAGES;
  const maxBatchBytes = options.maxBatchBytes ?? DEFAULT_MAX_BATCH_BYTES;
  const idempotent = options.idempotent ?? false;
  const kafka = createKafka({ clientId: `stream-processor-sink-${options.topic}`, ...options });
  const producer: Producer = kafka.producer({
    // The Java client's partitioner (murmur2): keys land where Java producers put them.
    createPartitioner: cachedKeyPartitioner(Partitioners.DefaultPartitioner),
    idempotent,
    ...(idempotent ? { maxInFlightRequests: 1 } : {}),
  });

  let buffer: Pending[] = [];
  let bufferBytes = 0;
  let inFlight = 0;
  let sending: Promise<void> | undefined;
  let lingerTimer: NodeJS.Timeout | NodeJS.Immediate | undefined;
  let connecting: Promise<void> | undefined;
  let failure: unknown;
  let closing: Promise<void> | undefined;
  /** Once closing: when transient failures stop being retried. */
  let giveUpAt = Infinity;

  const connect = (): Promise<void> =>
    (connecting ??= producer.connect().catch((error: unknown) => {
      // Forget the failed attempt: the next send connects afresh.
      connecting = undefined;
      throw connectError(`kafkaSink (topic ${options.topic})`, options.brokers, error);
    }));

  /**
   * Sends `batch`, retrying transient failures (after kafkajs's own retries) until it goes
   * through or `close` gives up; resolves with the error of a send that failed for good.
   */
  async function produce(batch: Pending[]): Promise<{ error: unknown } | undefined> {
    for (let backoff = RETRY_INITIAL_MS; ; backoff = Math.min(backoff * 2, RETRY_MAX_MS)) {
      try {
        await connect();
        await producer.send({
          topic: options.topic,
          acks: -1,
          compression: options.compression ?? CompressionTypes.None,
          messages: batch.map((p) => p.message),
        });
        return undefined;
      } catch (error) {
        options.onSendError?.(error);
        if (!isTransientKafkaError(error) || Date.now() + backoff >= giveUpAt) return { error };
        await sleep(backoff);
      }
    }
  }

  /** Completes `batch`'s writes; an error also fails every later write. */
  function settle(batch: Pending[], failed?: { error: unknown }): void {
    if (failed !== undefined) failure ??= failed.error;
    inFlight -= batch.length;
    if (failed === undefined) for (const p of batch) p.resolve();
    else for (const p of batch) p.reject(failed.error);
  }

  async function send(batch: Pending[]): Promise<void> {
    const failed = await produce(batch);
    const onRejected = options.onRejected;
    if (failed === undefined || onRejected === undefined || !isMessageRejection(failed.error)) {
      settle(batch, failed);
      return;
    }
    if (batch.length === 1) {
      const { key, value } = batch[0]!.message;
      onRejected(failed.error, { key: typeof key === 'string' ? key : null, value: typeof value === 'string' ? value : '' });
      settle(batch);
      return;
    }
    // The broker refuses a whole batch for one bad message: send again one by one, in order,
    // so that only the bad ones are dropped.
    for (const p of batch) {
      if (failure === undefined) await send([p]);
      else settle([p], { error: failure });
    }
  }

  /** Starts a send of the buffered messages unless one is running (its completion starts the next). */
  function sendNow(): void {
    if (lingerTimer !== undefined) {
      if (lingerMs > 0) clearTimeout(lingerTimer as NodeJS.Timeout);
      else clearImmediate(lingerTimer as NodeJS.Immediate);
      lingerTimer = undefined;
    }
    if (sending !== undefined || buffer.length === 0) return;
    // At most `maxBatchMessages` messages and `maxBatchBytes` (but one message at least):
    // the broker refuses a partition's batch over its `message.max.bytes`.
    let take = 0;
    let bytes = 0;
    while (take < buffer.length && take < maxBatchMessages) {
      const withNext = bytes + buffer[take]!.bytes;
      if (take > 0 && withNext > maxBatchBytes) break;
      bytes = withNext;
      take++;
    }
    const batch = take === buffer.length ? buffer : buffer.slice(0, take);
    buffer = batch === buffer ? [] : buffer.slice(take);
    bufferBytes -= bytes;
    sending = send(batch).then(() => {
      sending = undefined;
      if (failure !== undefined) failBuffered();
      else sendNow();
    });
  }

  function failBuffered(): void {
    const failed = buffer;
    buffer = [];
    bufferBytes = 0;
    inFlight -= failed.length;
    for (const p of failed) p.reject(failure);
  }

  function enqueue(message: SinkMessage, resolve: Pending['resolve'], reject: Pending['reject']): void {
    if (closing !== undefined) throw new Error(`kafkaSink (topic ${options.topic}): write after close`);
    if (failure !== undefined) {
      reject(failure);
      return;
    }
    const kafkaMessage: Message = {
      key: message.key ?? null,
      value: message.value,
      ...(message.partition === undefined ? {} : { partition: message.partition }),
      ...(message.headers === undefined ? {} : { headers: { ...message.headers } }),
    };
    const bytes = approxBytes(kafkaMessage);
    buffer.push({ message: kafkaMessage, bytes, resolve, reject });
    bufferBytes += bytes;
    inFlight++;
    if (buffer.length >= maxBatchMessages || bufferBytes >= maxBatchBytes) sendNow();
    else if (lingerTimer === undefined && sending === undefined) lingerTimer = lingerMs > 0 ? setTimeout(sendNow, lingerMs) : setImmediate(sendNow);
  }

  async function flush(): Promise<void> {
    while (sending !== undefined || buffer.length > 0) {
      sendNow();
      await sending;
    }
    if (failure !== undefined) throw failure;
  }

  function writer<T>(toMessages: (item: T) => SinkMessage | readonly SinkMessage[] | null | undefined): OperatorFunction<T, T> {
    return (source) =>
      new Observable<T>((subscriber) => {
        // Items in input order with the number of their messages not yet acknowledged.
        const queue: { item: T; remaining: number }[] = [];
        let head = 0;
        let inputDone = false;
        const drain = (): void => {
          while (head < queue.length && queue[head]!.remaining === 0) subscriber.next(queue[head++]!.item);
          if (head > 1024 && head * 2 > queue.length) {
            // Drop emitted entries now and then instead of shifting on every emission.
            queue.splice(0, head);
            head = 0;
          }
          if (inputDone && head === queue.length) subscriber.complete();
        };
        const fail = (error: unknown): void => subscriber.error(error);
        const subscription = source.subscribe({
          next(item) {
            let messages: SinkMessage | readonly SinkMessage[] | null | undefined;
            try {
              messages = toMessages(item);
            } catch (error) {
              subscriber.error(error);
              return;
            }
            const list: readonly SinkMessage[] = messages == null ? [] : isMessageList(messages) ? messages : [messages];
            const entry = { item, remaining: list.length };
            queue.push(entry);
            const acknowledged = (): void => {
              entry.remaining--;
              drain();
            };
            for (const message of list) enqueue(message, acknowledged, fail);
            if (list.length === 0) drain();
          },
          error: (error: unknown) => subscriber.error(error),
          complete() {
            inputDone = true;
            // Nothing left to wait for once the buffered messages are sent now.
            sendNow();
            drain();
          },
        });
        return () => subscription.unsubscribe();
      });
  }

  return {
    topic: options.topic,
    get inFlight() {
      return inFlight;
    },
    connect,
    write(message) {
      // The promise's own functions go into the buffer: no closures per message (a window
      // end writes a thousand results at once).
      const acknowledged = new Promise<void>(capture);
      const { resolve, reject } = captured;
      try {
        enqueue(message, resolve, reject);
      } catch (error) {
        // As a throwing executor would: a write after close rejects.
        reject(error);
      }
      return acknowledged;
    },
    writer,
    flush,
    close: (timeoutMs = DEFAULT_CLOSE_TIMEOUT_MS) =>
      (closing ??= (async () => {
        giveUpAt = Date.now() + timeoutMs;
        try {
          await flush();
        } finally {
          if (connecting !== undefined) await producer.disconnect();
        }
      })()),
  };
}

/** Where `new Promise(capture)` leaves its resolving functions, read at once by the caller. */
const captured: { resolve: () => void; reject: (error: unknown) => void } = { resolve: () => undefined, reject: () => undefined };
const capture = (resolve: () => void, reject: (error: unknown) => void): void => {
  captured.resolve = resolve;
  captured.reject = reject;
};

function isMessageList(messages: SinkMessage | readonly SinkMessage[]): messages is readonly SinkMessage[] {
  return Array.isArray(messages);
}

/** A message's size in a batch: its encoded key, value and headers, and the record's framing. */
function approxBytes(message: Message): number {
  let bytes = RECORD_FRAMING_BYTES + fieldBytes(message.value) + fieldBytes(message.key);
  for (const [name, value] of Object.entries(message.headers ?? {})) bytes += 10 + Buffer.byteLength(name) + (Array.isArray(value) ? value.reduce((sum: number, v) => sum + fieldBytes(v), 0) : fieldBytes(value));
  return bytes;
}

function fieldBytes(field: unknown): number {
  return typeof field === 'string' ? Buffer.byteLength(field) : Buffer.isBuffer(field) ? field.length : 0;
}

/** Keys remembered per partition count; a bound keeps memory flat for high-cardinality keys. */
const PARTITION_CACHE_LIMIT = 100_000;

/**
 * `base` with string keys' partitions remembered. kafkajs's DefaultPartitioner filters the
 * partition list and runs murmur2 with Long arithmetic for every message, a sizeable
 * part of a send's cost, while results reuse the same keys window after window. A keyed
 * partition depends only on the key and the partition count, so the cache is exact.
 */
function cachedKeyPartitioner(base: ICustomPartitioner): ICustomPartitioner {
  return () => {
    const partitionOf = base();
    const cache = new Map<string, number>();
    let cachedFor = -1;
    return (args) => {
      const { message, partitionMetadata } = args;
      const key = message.key;
      if (typeof key !== 'string' || (message.partition !== undefined && message.partition !== null)) return partitionOf(args);
      if (partitionMetadata.length !== cachedFor || cache.size >= PARTITION_CACHE_LIMIT) {
        cache.clear();
        cachedFor = partitionMetadata.length;
      }
      let partition = cache.get(key);
      if (partition === undefined) cache.set(key, (partition = partitionOf(args)));
      return partition;
    };
  };
}
