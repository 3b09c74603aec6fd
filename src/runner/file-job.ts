import type { Observable } from 'rxjs';
import type { ProcessorConfig } from '../config/index.js';
import { createEventParser, formatDeadLetter, formatParseDeadLetter, formatWindowResult, toWindowOutput, type FeedbackEvent } from '../events/index.js';
import { fileSource, stdinSource, type LineBatch, type LineSink } from '../io/index.js';
import { feedbackPipeline, type FeedbackPipelineHooks } from '../pipeline/feedback-pipeline.js';
import type { WindowedRecord } from '../stream/elements.js';
import { openLineSink } from './line-sinks.js';
import { parseLines } from './parse-lines.js';

export interface JobSummary {
  /** Input lines read (every one ends in exactly one of the three outcomes below). */
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
  /** Processing-time clock for `emitted_at`. Default `Date.now`. */
  readonly now?: () => number;
  readonly hooks?: Omit<FeedbackPipelineHooks, 'late'>;
}

/**
 * Runs the pipeline over a line source (an NDJSON file or stdin) to line sinks,
 * until the input ends: then every window is flushed, the sinks are flushed and
 * closed, and the summary is returned.
 */
export async function runLineJob(options: LineJobOptions): Promise<JobSummary> {
  const { config } = options;
  const now = options.now ?? Date.now;
  const started = now();
  const results = openLineSink(config.sink);
  const deadLetters = openLineSink(config.dead_letter);
  const counts = { recordsIn: 0, late: 0, invalid: 0, windowsEmitted: 0 };

  const parser = createEventParser({
    timeField: config.event.time_field,
    keyFields: config.event.key_fields,
    metricFields: config.event.metric_fields,
  });
  const parse: typeof parser = (raw, position) => {
    counts.recordsIn++;
    return parser(raw, position);
  };
  const late = {
    next: (record: WindowedRecord<FeedbackEvent>) => {
      counts.late++;
      deadLetters.write(formatDeadLetter('too_late', JSON.stringify(record.value), { offset: record.offset, partition: record.partition }));
    },
  };
  const backpressure = () =>
    results.linesInFlight + deadLetters.linesInFlight > config.buffer_size ? Promise.all([results.flush(), deadLetters.flush()]) : undefined;

  try {
    await new Promise<void>((resolve, reject) => {
      lineSource(config, backpressure)
        .pipe(
          parseLines(parse, (deadLetter) => {
            counts.invalid++;
            deadLetters.write(formatParseDeadLetter(deadLetter));
          }),
          feedbackPipeline(config, { idleness: config.source.type !== 'file', ...options.hooks, late }),
        )
        .subscribe({
          next: (element) => {
            if (element.kind !== 'record') return;
            counts.windowsEmitted++;
            results.write(formatWindowResult(toWindowOutput(element.value, now())));
          },
          error: reject,
          complete: resolve,
        });
    });
  } finally {
    await closeAll([results, deadLetters]);
  }
  return {
    ...counts,
    aggregated: counts.recordsIn - counts.invalid - counts.late,
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

/** Closes every sink even if one fails, then reports the first failure. */
async function closeAll(sinks: LineSink[]): Promise<void> {
  const outcomes = await Promise.allSettled(sinks.map((sink) => sink.close()));
  const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
  if (failed !== undefined) throw failed.reason;
}
