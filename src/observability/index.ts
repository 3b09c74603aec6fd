/** Observability: Prometheus metrics, the operations HTTP endpoint, logs and file-run progress. */
export {
  CHECKPOINT_BUCKETS_SECONDS,
  createProcessorMetrics,
  type ErrorKind,
  LATENCY_BUCKETS_SECONDS,
  METRIC_PREFIX,
  type OutputSink,
  type ProcessorMetrics,
  type ProcessorMetricsOptions,
  type RecordOutcome,
  type RevisionKind,
} from './metrics.js';
export { startHttpServer, type HealthState, type HttpServer, type HttpServerOptions, type WindowsPage } from './http-server.js';
export { componentLogger, createLogger, type Logger, type LoggerOptions } from './logger.js';
export {
  createProgressReporter,
  formatDuration,
  formatRate,
  formatSummary,
  type ProgressOptions,
  type ProgressReporter,
  type ProgressStream,
  type RunSummary,
} from './progress.js';
