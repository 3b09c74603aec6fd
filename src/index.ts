/**
 * The package's main entry (`llm-feedback-stream-processor`): everything beyond the
 * operators (`llm-feedback-stream-processor/operators`) that an application embedding
 * the processor uses — the stream model, aggregations, parsing and formats,
 * configuration, sources and sinks, checkpoint state, the configured pipeline, the jobs.
 */
export * from '../operators/index.js';
export * from './aggregation/index.js';
export * from './config/index.js';
// The config and the stream model both name the window kinds; they are the same union.
export type { WindowType } from './stream/elements.js';
export * from './events/index.js';
export * from './io/index.js';
export * from './kafka/index.js';
export * from './state/index.js';
export * from './observability/index.js';
export { feedbackPipeline, feedbackMetrics, type FeedbackPipelineHooks, type FeedbackWindowResult, type PipelineSnapshot } from './pipeline/feedback-pipeline.js';
export { windowingFromConfig, type Windowing } from './pipeline/windowing.js';
export { runLineJob, type LineJobOptions } from './runner/file-job.js';
export type { JobSummary } from './runner/job-stats.js';
export { runKafkaJob, type KafkaJobOptions } from './runner/kafka-job.js';
export { runService, type ServiceOptions } from './service/service.js';
