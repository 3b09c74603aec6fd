import type { Observable } from 'rxjs';
import type { ProcessorConfig } from '../config/index.js';
import { createEventParser, type FeedbackEvent } from '../events/index.js';
import { fileSource, stdinSource, type LineBatch } from '../io/index.js';
import type { ProcessorMetrics, ProgressReporter } from '../observability/index.js';
import type { StreamElement } from '../stream/elements.js';
import { JobStats } from './job-stats.js';
import { LineOutputs, type JobOutputs } from './outputs.js';
import { parseLines } from './parse-lines.js';
import { runPipeline, type PipelineRunOptions } from './run-pipeline.js';

export interface JobSummary {
  /** Input lines read (each ends in exactly one of the three outcomes below). */
  readonly recordsIn: number;
  readonly aggregated: number;
  readonly late: number;
  readonly invalid: number;
  /** Output records written (one per key, window and revision). */
  readonly windowsEmitted: number;
  readonly durationMs: number;
}

export interface LineJobOptions {
  readonly config: ProcessorConfig;
  /** Default: the sink and dead-letter outputs the config names. */
  readonly outputs?: JobOutputs;
  readonly metrics?: ProcessorMetrics;
  readonly progress?: ProgressReporter;
  readonly now?: () => number;
  readonly hooks?: PipelineRunOptions['hooks'];
  /** Stops reading; windows still open are not flushed (a checkpoint keeps them). */
  readonly signal?: AbortSignal;
}

/**
 * Runs the pipeline over an NDJSON file or stdin until the input ends: then
 * every window is flushed, the outputs are flushed and closed, and the summary
 * is returned.
 */
export async function runLineJob(options: LineJobOptions): Promise<JobSummary> {
  const { config, metrics } = options;
  const now = options.now ?? Date.now;
  const started = now();
  const outputs = options.outputs ?? LineOutputs.open(config.sink, config.dead_letter);
  const stats = new JobStats();
  const parser = createEventParser({
    timeField: config.event.time_field,
    keyFields: config.event.key_fields,
    metricFields: config.event.metric_fields,
  });
  const parse: typeof parser = (raw, position) => {
    stats.recordsIn++;
    return parser(raw, position);
  };
  // After each batch: report progress and publish metrics.
  const onBatch = (batch: LineBatch): void => {
    options.progress?.update(stats.recordsIn, batch.end);
    if (metrics !== undefined) {
      stats.publish(metrics);
      metrics.inFlight.set(outputs.inFlight);
    }
  };
  // Before reading on: wait while the outputs are behind.
  const backpressure = () => (outputs.inFlight > config.buffer_size ? outputs.flush() : undefined);
  const records: Observable<StreamElement<FeedbackEvent>> = lineSource(config, backpressure).pipe(
    parseLines(
      parse,
      (deadLetter) => {
        stats.countInvalid(deadLetter.reason);
        outputs.writeDeadLetter({
          reason: deadLetter.reason,
          raw: deadLetter.raw,
          extra: { field: deadLetter.field, partition: deadLetter.partition, offset: deadLetter.offset },
        });
      },
      onBatch,
    ),
  );
  try {
    await outputs.rewindTo({});
    await runPipeline(
      records,
      { config, outputs, stats, metrics, now, hooks: { idleness: config.source.type !== 'file', ...options.hooks } },
      options.signal,
    );
  } finally {
    if (options.outputs === undefined) await outputs.close();
    if (metrics !== undefined) stats.publish(metrics);
  }
  return {
    recordsIn: stats.recordsIn,
    aggregated: stats.aggregated,
    late: stats.late,
    invalid: stats.invalid,
    windowsEmitted: stats.windowsEmitted,
    durationMs: now() - started,
  };
}

function lineSource(config: ProcessorConfig, backpressure: () => PromiseLike<unknown> | undefined): Observable<LineBatch> {
  switch (config.source.type) {
    case 'file':
      return fileSource(config.source.path, { backpressure });
    case 'stdin':
      return stdinSource({ backpressure });
    case 'kafka':
      throw new Error('runLineJob reads files and stdin; Kafka sources run in the Kafka job');
  }
}
