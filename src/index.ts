/**
 * The service package's entry (`llm-feedback-stream-processor`): everything of the
 * operators package (`@llm-feedback/stream-operators`: the operators, the stream model,
 * the aggregation engine, the checkpoint codecs), and what an application embedding the
 * processor uses beyond them — parsing and formats, configuration, sources and sinks,
 * Kafka, checkpoint state, the configured pipeline, the jobs, the service.
 */
export * from '@llm-feedback/stream-operators';
export * from './config/index.js';
export * from './events/index.js';
export * from './io/index.js';
export * from './kafka/index.js';
export * from './state/index.js';
export * from './observability/index.js';
export {
  feedbackPipeline,
  feedbackMetrics,
  type FeedbackAccumulator,
  type FeedbackPipelineHooks,
  type FeedbackResult,
  type FeedbackWindowResult,
  type PipelineSnapshot,
  type SpecSnapshot,
  type SpecState,
} from './pipeline/feedback-pipeline.js';
export { windowingFromConfig, type Windowing, type WindowSpec } from './pipeline/windowing.js';
export { runLineJob, type LineJobOptions } from './runner/file-job.js';
export type { JobStats, JobSummary } from './runner/job-stats.js';
export type { DeadLetterOut, JobOutputs } from './runner/outputs.js';
export type { PipelineRunOptions } from './runner/run-pipeline.js';
export type { RestoreSource, TaskMetrics } from './observability/metrics.js';
export type { KeyFields, KeyedAccumulator, KeyedResult } from './pipeline/keyed-aggregator.js';
export { runKafkaJob, type KafkaJobOptions } from './runner/kafka-job.js';
export { runService, type ServiceOptions } from './service/service.js';
export { createPipeline, PipelineBuilder, type KafkaSourceSpec, type Pipeline, type RunOptions, type SettingsDocument } from './builder/create-pipeline.js';
export type { PartitionChange, PartitionedRecord, PartitionedSource, Sink, Source, SourcePartition, SourcePartitionOffset } from './builder/plugins.js';
export type { CustomOutputs } from './runner/outputs.js';
