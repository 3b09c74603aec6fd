import { statSync } from 'node:fs';
import type { ProcessorConfig } from '../config/index.js';
import type { AggregateView, WindowPageQuery } from '@llm-feedback/stream-operators';
import {
  createProcessorMetrics,
  createProgressReporter,
  startHttpServer,
  type HealthState,
  type Logger,
  type ProcessorMetrics,
  type WindowsPage,
} from '../observability/index.js';
import type { FeedbackResult } from '../pipeline/feedback-pipeline.js';
import { createPipeline } from '../builder/create-pipeline.js';
import type { JobSummary } from '../runner/job-stats.js';
import { toWindowOutput } from '../events/index.js';

export interface ServiceOptions {
  readonly config: ProcessorConfig;
  readonly logger: Logger;
  /** Aborted on SIGTERM/SIGINT: stop taking input, checkpoint, flush, exit. */
  readonly signal: AbortSignal;
  readonly metrics?: ProcessorMetrics;
}

/**
 * The processor as a service: metrics and health endpoints around one job
 * chosen by `source.type`, stopped by the signal.
 */
export async function runService(options: ServiceOptions): Promise<JobSummary> {
  const { config, logger } = options;
  if (config.parallelism > 1 && config.source.type === 'kafka') return runWorkerThreads(options);
  if (config.parallelism > 1) {
    // A file or stdin input is one task (DESIGN.md "Tasks"): its records pass one watermark in order.
    logger.warn({ parallelism: config.parallelism, source: config.source.type }, 'parallelism applies to Kafka sources; a file or stdin input is one task and runs on one thread');
  }
  const metrics = options.metrics ?? createProcessorMetrics();
  let health: HealthState = { ready: false, reason: 'starting' };
  let windows: AggregateView<FeedbackResult> | undefined;

  const server = await startHttpServer({
    port: config.metrics.port,
    host: config.metrics.host,
    metrics,
    health: () => health,
    queryWindows: (query) => (windows === undefined ? { windows: [], next: undefined } : windowsPage(windows, query)),
    logger: logger.child({ component: 'http' }),
  });
  logger.info({ host: config.metrics.host, port: server.port }, 'http endpoint listening (/metrics, /healthz, /readyz, /windows)');

  const refresh = setIntervalUnref(() => {
    if (windows !== undefined) metrics.windowsOpen.set(windows.openWindows);
  }, 1000);
  const hooks = {
    onWindowState: (state: AggregateView<FeedbackResult>) => {
      windows = state;
    },
  };
  let brokersReachable = true;
  let started = false;
  const updateHealth = (): void => {
    health = !started ? health : brokersReachable ? { ready: true } : { ready: false, reason: 'Kafka brokers unreachable' };
  };
  const onBrokerReachable = (reachable: boolean): void => {
    brokersReachable = reachable;
    updateHealth();
  };
  const onReady = (): void => {
    started = true;
    updateHealth();
    logger.info({ windows: windows?.openWindows ?? 0, sinceStartMs: Math.round(performance.now()) }, 'ready: state restored, reading input');
  };
  try {
    health = { ready: false, reason: config.source.type === 'kafka' ? 'restoring state, waiting for partitions' : 'restoring state' };
    // The one way a job is assembled: the builder, here from the validated YAML.
    const job = createPipeline().withConfig(config).build();
    if (config.source.type === 'kafka') {
      const summary = await job.run({ metrics, logger, signal: options.signal, onWindows: hooks.onWindowState, onReady, onBrokerReachable });
      logger.info(summary, 'stopped');
      return summary;
    }
    const progress =
      config.source.type === 'file' ? createProgressReporter({ totalBytes: statSync(config.source.path).size }) : undefined;
    const summary = await job.run({ metrics, logger, progress, signal: options.signal, onReady, onWindows: hooks.onWindowState });
    if (windows !== undefined) metrics.windowsOpen.set(windows.openWindows);
    progress?.finish({ ...summary, seconds: summary.durationMs / 1000 });
    logger.info(summary, 'job finished');
    return summary;
  } finally {
    clearInterval(refresh);
    health = { ready: false, reason: 'stopping' };
    await server.close();
  }
}

/**
 * `processor.parallelism` > 1 with a Kafka source: the job runs in that many worker threads,
 * each a member of the consumer group; this thread serves the HTTP endpoint for all of them.
 */
async function runWorkerThreads(options: ServiceOptions): Promise<JobSummary> {
  const { config, logger } = options;
  const { startWorkerPool } = await import('../parallel/worker-pool.js');
  const pool = startWorkerPool(config, logger);
  let stopping = false;
  const stop = (): void => {
    stopping = true;
    pool.stop();
  };
  if (options.signal.aborted) stop();
  else options.signal.addEventListener('abort', stop, { once: true });
  const server = await startHttpServer({
    port: config.metrics.port,
    host: config.metrics.host,
    metrics: { registry: pool.registry },
    health: () => (stopping ? { ready: false, reason: 'stopping' } : pool.health()),
    queryWindows: (query) => pool.windows(query),
    logger: logger.child({ component: 'http' }),
  });
  logger.info({ host: config.metrics.host, port: server.port, workers: config.parallelism }, 'http endpoint listening (/metrics, /healthz, /readyz, /windows)');
  try {
    const summary = await pool.done;
    logger.info(summary, 'stopped');
    return summary;
  } finally {
    options.signal.removeEventListener('abort', stop);
    await server.close();
  }
}

/** A page of `/windows` in the output format; each result is computed as the HTTP server iterates it. */
export function windowsPage(
  state: Pick<AggregateView<FeedbackResult>, 'peekPage'>,
  query: WindowPageQuery,
): WindowsPage {
  const page = state.peekPage(query);
  const now = Date.now();
  return {
    windows: { *[Symbol.iterator]() { for (const result of page.windows) yield toWindowOutput(result, now); } },
    next: page.next,
  };
}

function setIntervalUnref(fn: () => void, ms: number): NodeJS.Timeout {
  const timer = setInterval(fn, ms);
  timer.unref();
  return timer;
}
