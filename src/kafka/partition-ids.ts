import type { TopicPartition } from './source.js';

/**
 * Kafka partitions of several topics get distinct numbers in the stream model (watermarks
 * and checkpoints key on a record's `partition`): topic index × 1,000,000 + partition.
 */
const PARTITIONS_PER_TOPIC = 1_000_000;

export class PartitionIds {
  private readonly index: ReadonlyMap<string, number>;

  constructor(private readonly topics: readonly string[]) {
    this.index = new Map(topics.map((topic, i) => [topic, i]));
  }

  id(topic: string, partition: number): number {
    return (this.index.get(topic) ?? 0) * PARTITIONS_PER_TOPIC + partition;
  }

  topicPartition(id: number): TopicPartition {
    return { topic: this.topics[Math.floor(id / PARTITIONS_PER_TOPIC)] ?? '', partition: id % PARTITIONS_PER_TOPIC };
  }
}
