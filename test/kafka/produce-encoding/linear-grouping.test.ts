/**
 * The linear grouping of a send's messages by partition against kafkajs 2.2.4's own, and its
 * place in Node's module cache ahead of kafkajs wherever this project's modules load kafkajs.
 */
import { describe, expect, it } from 'vitest';
import { GROUPING_MODULE, groupMessagesPerPartitionLinearly, type GroupingArguments } from '../../../src/kafka/produce-encoding/linear-grouping.js';
import { kafkajsOwn, moduleCacheAfterImport } from '../kafkajs-modules.js';

type Grouping = <M>(args: GroupingArguments<M>) => Record<number, M[]>;

describe('linear grouping by partition', () => {
  const kafkajs = kafkajsOwn<Grouping>(GROUPING_MODULE);

  it('gives kafkajs\'s grouping: partitions in its key order, messages in send order, the partitioner called in the same order', () => {
    let seed = 11;
    const next = (): number => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
    for (let run = 0; run < 200; run++) {
      const partitions = Math.floor(next() * 12);
      const partitionMetadata = Array.from({ length: partitions }, (_, partition) => ({ partitionId: partition }));
      const messages = Array.from({ length: Math.floor(next() * 400) }, (_, i) => ({ key: `k${Math.floor(next() * 50)}`, value: String(i) }));
      // Stateful (round robin) for odd runs: the calls must come in the same order.
      const partitioner = (): GroupingArguments<(typeof messages)[number]>['partitioner'] => {
        let turn = 0;
        return ({ message }) => (run % 2 === 1 ? turn++ % partitions : Number(message.key.slice(1)) % partitions);
      };
      const expected = kafkajs({ topic: 't', partitionMetadata, messages, partitioner: partitioner() });
      const actual = groupMessagesPerPartitionLinearly({ topic: 't', partitionMetadata, messages, partitioner: partitioner() });
      expect(Object.keys(actual)).toEqual(Object.keys(expected));
      expect(actual).toEqual(expected);
    }
  });

  it('is what kafkajs\'s producer loads when the library or the Kafka job (the service\'s and its worker threads\') is imported', () => {
    const sendMessages = 'kafkajs/src/producer/sendMessages.js';
    for (const entry of ['src/index.ts', 'src/runner/kafka-job.ts']) {
      expect(moduleCacheAfterImport(entry, [GROUPING_MODULE], [sendMessages]), entry).toEqual({
        exports: { [GROUPING_MODULE]: 'groupMessagesPerPartitionLinearly' },
        loaded: { [sendMessages]: true },
      });
    }
  });
});
