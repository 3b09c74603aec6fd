/**
 * kafkajs groups a send's messages by partition with a reduce that copies the partition's
 * list for every message (`[...current, message]`): quadratic, ~1 µs per message for a
 * window end's 1,000 results, the largest cost of a send after the encoding. kafkajs's
 * producer holds that function from its own load on, so the only way in is to have the
 * module in Node's cache before kafkajs loads: `../kafkajs.ts` imports this module ahead of
 * kafkajs, and every module here imports kafkajs's values through it. Where kafkajs was
 * loaded first (an application that imported it before this library), its own grouping stays:
 * slower, the same result.
 *
 * Only kafkajs 2.2.4 (the last release) is changed; the result is kafkajs's: an object from
 * partition to that partition's messages in send order, the partitioner called once per
 * message in order.
 */
import { replaceKafkajsModule } from '../kafkajs-module-cache.js';

export const GROUPING_MODULE = 'kafkajs/src/producer/groupMessagesPerPartition.js';
const SEND_MESSAGES_MODULE = 'kafkajs/src/producer/sendMessages.js';

export interface GroupingArguments<M> {
  readonly topic: string;
  readonly partitionMetadata: readonly unknown[];
  readonly messages: readonly M[];
  readonly partitioner: (args: { topic: string; partitionMetadata: readonly unknown[]; message: M }) => number;
}

/** kafkajs's `groupMessagesPerPartition`, in linear time. */
export function groupMessagesPerPartitionLinearly<M>({ topic, partitionMetadata, messages, partitioner }: GroupingArguments<M>): Record<number, M[]> {
  const result: Record<number, M[]> = {};
  if (partitionMetadata.length === 0) return result;
  for (const message of messages) {
    const partition = partitioner({ topic, partitionMetadata, message });
    (result[partition] ??= []).push(message);
  }
  return result;
}

/** Puts the linear grouping in Node's module cache for kafkajs to load; whether kafkajs's producer will use it. */
export const installLinearGrouping = (): boolean => replaceKafkajsModule(GROUPING_MODULE, SEND_MESSAGES_MODULE, groupMessagesPerPartitionLinearly);

installLinearGrouping();
