export type { KafkaConnectionOptions } from './client.js';
export { createKafka, parseBrokers } from './client.js';
export type { AssignmentChange, KafkaRecord, KafkaSource, KafkaSourceOptions, KafkaSourceStats, PartitionLag, TopicPartition, TopicPartitionOffset } from './source.js';
export { kafkaSource } from './source.js';
export type { KafkaSink, KafkaSinkOptions, SinkMessage } from './sink.js';
export { kafkaSink } from './sink.js';
export type { EnsureTopicsResult, TopicSpec } from './admin.js';
export { ensureTopics, partitionCounts, withAdmin } from './admin.js';
export { PartitionOffsets } from './offset-tracker.js';
