/**
 * A task's transactional producer (Kafka Streams' StreamsProducer, "eos-alpha": one
 * transactional id per task, `<group_id>-<topic>-<partition>`).
 *
 * kafkajs 2.2.4 sends TxnOffsetCommit v0–v1, which carry neither the consumer group's
 * generation nor the member id, so the broker cannot fence a zombie by its group
 * membership (KIP-447). A transactional id per task fences by the id instead: the task's
 * next owner initialises the same id (`init`), which bumps the producer epoch and aborts
 * whatever transaction the previous owner left open; from then on every request of the
 * previous owner's producer fails with INVALID_PRODUCER_EPOCH (`TaskMigratedError`).
 *
 * A transaction here is one checkpoint of one task: `commit` begins it, sends the
 * task's output (results, dead letters, state-topic records) in bounded batches, adds
 * the consumer offsets (`sendOffsets`, never committed apart) and commits; on any failure
 * it aborts, so nothing of it becomes visible to `read_committed` consumers.
 */
import type { Message, Producer, RetryOptions } from 'kafkajs';
import { CompressionTypes, Partitioners } from '../kafka/kafkajs.js';
import { createKafka, type KafkaConnectionOptions } from '../kafka/client.js';

export interface StreamsProducerOptions extends KafkaConnectionOptions {
  readonly transactionalId: string;
  /** The consumer group whose offsets the transactions carry. */
  readonly groupId: string;
  /** How long the broker lets a transaction stay open before aborting it. Default 60,000 ms. */
  readonly transactionTimeoutMs?: number;
}

/** A message of a transaction: its topic and, for the state topic, its partition. */
export interface TransactionMessage {
  readonly topic: string;
  readonly key: string | null;
  readonly value: string | Buffer | null;
  readonly partition?: number;
}

export interface TransactionOffset {
  readonly topic: string;
  readonly partition: number;
  /** The next offset to read. */
  readonly offset: string;
}

/** The producer's transactional id is owned by a newer producer: another instance has the task now. */
export class TaskMigratedError extends Error {
  override readonly name = 'TaskMigratedError';

  constructor(
    readonly transactionalId: string,
    cause: unknown,
  ) {
    super(`transactional id ${transactionalId} was fenced: another instance owns its task now`, { cause });
  }
}

/**
 * The transactional client's retries. kafkajs answers the first AddPartitionsToTxn after a
 * commit with CONCURRENT_TRANSACTIONS while the broker still writes the previous
 * transaction's markers (a few ms), then waits its `initialRetryTime` (300 ms by default)
 * before trying again: with 10 ms the retry lands right after the markers instead. Ten
 * retries capped at 1 s still ride out a leader move (about 5 s in all).
 */
export const TRANSACTION_RETRY: RetryOptions = { retries: 10, initialRetryTime: 10, maxRetryTime: 1_000 };

/** Messages and approximate bytes per send: a partition's record batch stays below the broker's 1 MB limit. */
const MAX_SEND_MESSAGES = 1_000;
const MAX_SEND_BYTES = 512 * 1024;
/** Broker error types that mean a newer producer owns the transactional id. */
const FENCED = new Set(['INVALID_PRODUCER_EPOCH', 'PRODUCER_FENCED', 'INVALID_PRODUCER_ID_MAPPING']);
const PRODUCER_FENCED_CODE = 90;

export class StreamsProducer {
  private readonly producer: Producer;
  private connected: Promise<void> | undefined;

  constructor(private readonly options: StreamsProducerOptions) {
    const kafka = createKafka({ clientId: `stream-processor-${options.transactionalId}`, retry: TRANSACTION_RETRY, ...options });
    this.producer = kafka.producer({
      transactionalId: options.transactionalId,
      idempotent: true,
      maxInFlightRequests: 1,
      transactionTimeout: options.transactionTimeoutMs ?? 60_000,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
  }

  get transactionalId(): string {
    return this.options.transactionalId;
  }

  /**
   * Connects and initialises the transactional id (InitProducerId), fencing every older
   * producer of it: resolves once the previous owner's open transaction is aborted or
   * complete, so the committed offsets and state read after it are final.
   */
  async init(): Promise<void> {
    this.connected ??= this.producer.connect();
    await this.connected;
    // kafkajs initialises the id at a producer's first transaction; an empty one sends nothing else.
    const empty = await this.producer.transaction().catch((error: unknown) => {
      throw this.translate(error);
    });
    await empty.abort();
  }

  /** One transaction: `messages`, then `offsets` for the group, committed together. Aborted on failure. */
  async commit(messages: readonly TransactionMessage[], offsets: readonly TransactionOffset[]): Promise<void> {
    if (this.connected === undefined) throw new Error(`StreamsProducer ${this.transactionalId}: commit before init`);
    await this.connected;
    const transaction = await this.producer.transaction().catch((error: unknown) => {
      throw this.translate(error);
    });
    try {
      for (const batch of batches(messages)) {
        await transaction.sendBatch({ acks: -1, compression: CompressionTypes.None, topicMessages: byTopic(batch) });
      }
      if (offsets.length > 0) await transaction.sendOffsets({ consumerGroupId: this.options.groupId, topics: offsetTopics(offsets) });
      await transaction.commit();
    } catch (error) {
      // A fenced producer's abort fails too; the new owner's InitProducerId aborted it already.
      if (transaction.isActive()) await transaction.abort().catch(() => undefined);
      throw this.translate(error);
    }
  }

  async close(): Promise<void> {
    if (this.connected !== undefined) await this.producer.disconnect();
  }

  private translate(error: unknown): unknown {
    return isFenced(error) ? new TaskMigratedError(this.transactionalId, error) : error;
  }
}

/** Whether `error`, or one it wraps (kafkajs's retrier wraps in `cause`), says the producer was fenced. */
export function isFenced(error: unknown): boolean {
  for (let e = error, depth = 0; typeof e === 'object' && e !== null && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof TaskMigratedError) return true;
    const { type, code } = e as { type?: unknown; code?: unknown };
    if ((typeof type === 'string' && FENCED.has(type)) || code === PRODUCER_FENCED_CODE) return true;
  }
  return false;
}

function* batches(messages: readonly TransactionMessage[]): Generator<TransactionMessage[]> {
  let batch: TransactionMessage[] = [];
  let bytes = 0;
  for (const message of messages) {
    const size = (message.value?.length ?? 0) + (message.key?.length ?? 0);
    if (batch.length > 0 && (batch.length >= MAX_SEND_MESSAGES || bytes + size > MAX_SEND_BYTES)) {
      yield batch;
      batch = [];
      bytes = 0;
    }
    batch.push(message);
    bytes += size;
  }
  if (batch.length > 0) yield batch;
}

function byTopic(messages: readonly TransactionMessage[]): { topic: string; messages: Message[] }[] {
  const topics = new Map<string, Message[]>();
  for (const { topic, key, value, partition } of messages) {
    let list = topics.get(topic);
    if (list === undefined) topics.set(topic, (list = []));
    list.push(partition === undefined ? { key, value } : { key, value, partition });
  }
  return [...topics].map(([topic, list]) => ({ topic, messages: list }));
}

function offsetTopics(offsets: readonly TransactionOffset[]): { topic: string; partitions: { partition: number; offset: string }[] }[] {
  const topics = new Map<string, { partition: number; offset: string }[]>();
  for (const { topic, partition, offset } of offsets) {
    let list = topics.get(topic);
    if (list === undefined) topics.set(topic, (list = []));
    list.push({ partition, offset });
  }
  return [...topics].map(([topic, partitions]) => ({ topic, partitions }));
}
