/**
 * kafkajs's consumer wraps each partition's fetched records in a `Batch` whose constructor
 * drops the records before the fetched offset by parsing every record's offset string into a
 * `Long` and comparing (`Long.fromValue(message.offset).gte(...)`): a string parse and two
 * objects per record, for a filter that almost never drops anything.
 *
 * `FetchedBatch` is kafkajs 2.2.4's `Batch` with that filter on numbers: the offsets kafkajs's
 * decoders write (and `record-batch-decoder.ts`) are decimal integers, and with a fetched offset
 * below 2^53 comparing them as numbers is exact (see `withinOffset`); past it, the batch filters
 * as kafkajs does. Everything else (aborted transactions,
 * control records, and every method, inherited from kafkajs's `Batch.prototype`) is
 * kafkajs's; `test/kafka/fetch-decoding/fetched-batch.test.ts` compares the two on random
 * batches. It goes into Node's module cache before kafkajs's consumer loads, as the record
 * batch decoder does (`../kafkajs.ts`).
 */
import { createRequire } from 'node:module';
import { replaceKafkajsModule } from '../kafkajs-module-cache.js';

const require = createRequire(import.meta.url);

export const BATCH_MODULE = 'kafkajs/src/consumer/batch.js';
/** The module that holds `Batch` from its load on. */
const CONSUMER_GROUP_MODULE = 'kafkajs/src/consumer/consumerGroup.js';

/** What a `Batch` reads of a fetched record. */
interface FetchedMessage {
  readonly offset: string;
  readonly isControlRecord?: boolean;
}

interface PartitionData {
  readonly partition: number;
  readonly highWatermark: string;
  readonly abortedTransactions?: readonly unknown[];
  readonly messages: readonly FetchedMessage[];
}

interface Long {
  gte(other: Long): boolean;
}

const Long = require('kafkajs/src/utils/long.js') as { fromValue(value: string): Long };
const filterAbortedMessages = require('kafkajs/src/consumer/filterAbortedMessages.js') as (args: {
  messages: readonly FetchedMessage[];
  abortedTransactions?: readonly unknown[];
}) => readonly FetchedMessage[];

/** kafkajs's `Batch` class (its methods are what a `FetchedBatch` inherits). */
type KafkajsBatchClass = new (topic: string, fetchedOffset: string, partitionData: PartitionData) => object;

/** kafkajs's `Batch`, with the records before the fetched offset dropped by comparing numbers. */
export class FetchedBatch {
  readonly fetchedOffset: string;
  readonly topic: string;
  readonly partition: number;
  readonly highWatermark: string;
  readonly rawMessages: readonly FetchedMessage[];
  readonly messagesWithinOffset: readonly FetchedMessage[];
  readonly messages: readonly FetchedMessage[];

  constructor(topic: string, fetchedOffset: string, partitionData: PartitionData) {
    // kafkajs's fields, in kafkajs's order.
    this.fetchedOffset = fetchedOffset;
    const { abortedTransactions, messages } = partitionData;
    this.topic = topic;
    this.partition = partitionData.partition;
    this.highWatermark = partitionData.highWatermark;
    this.rawMessages = messages;
    this.messagesWithinOffset = withinOffset(messages, fetchedOffset);
    this.messages = withoutControlRecords(filterAbortedMessages({ messages: this.messagesWithinOffset, abortedTransactions }));
  }
}

/*
 * Both filters below return the list itself when they drop nothing (almost every fetch: a
 * record before the fetched offset only comes in a compressed batch that began before it, a
 * control record only in transactional input), where kafkajs builds a new array of the same
 * records every time (~60 bytes per record). The three lists of a batch are then one array;
 * kafkajs's methods and this project's consumer only read them.
 */

/** The messages at or after `fetchedOffset`, as kafkajs's `Long` comparison keeps them. */
function withinOffset(messages: readonly FetchedMessage[], fetchedOffset: string): readonly FetchedMessage[] {
  const from = Number(fetchedOffset);
  // With the fetched offset exact, comparing numbers is exact too: an offset below it is below
  // 2^53 and exact itself, and rounding a larger one to a number never takes it below.
  if (Number.isSafeInteger(from)) return keepAll(messages, (message) => Number(message.offset) >= from);
  const longFrom = Long.fromValue(fetchedOffset);
  return keepAll(messages, (message) => Long.fromValue(message.offset).gte(longFrom));
}

/** The messages that are not control records (transaction markers). */
const withoutControlRecords = (messages: readonly FetchedMessage[]): readonly FetchedMessage[] => keepAll(messages, (message) => !message.isControlRecord);

/** `list.filter(keep)`, or `list` itself when `keep` keeps every item. */
function keepAll<T>(list: readonly T[], keep: (item: T) => boolean): readonly T[] {
  for (let i = 0; i < list.length; i++) if (!keep(list[i]!)) return list.filter(keep);
  return list;
}

/** Puts `FetchedBatch` where kafkajs's consumer will load its `Batch`; whether it will. */
export const installFetchedBatch = (): boolean =>
  // Every method is kafkajs's: they read only the fields the constructor sets.
  replaceKafkajsModule<unknown>(BATCH_MODULE, CONSUMER_GROUP_MODULE, FetchedBatch, (own) => Object.setPrototypeOf(FetchedBatch.prototype, (own as KafkajsBatchClass).prototype));

installFetchedBatch();
