import type { Observable } from 'rxjs';
import type { ProcessorConfig } from '../config/index.js';
import { errorMessage, type DeadLetterReason, type FeedbackEvent } from '../events/index.js';
import type { ProcessorMetrics } from '../observability/index.js';
import { feedbackPipeline, type FeedbackPipelineHooks, type FeedbackWindowResult } from '../pipeline/feedback-pipeline.js';
import type { Barrier, StreamElement, WindowedRecord } from '@llm-feedback/stream-operators';
import type { JobOutputs } from './outputs.js';
import type { JobStats } from './job-stats.js';
import { serialisedEvent } from '../parallel/parsed-batch.js';
import { whenAborted } from './when-aborted.js';

export interface PipelineRunOptions {
  readonly config: ProcessorConfig;
  readonly outputs: JobOutputs;
  readonly stats: JobStats;
  readonly metrics?: ProcessorMetrics;
  /** Wall clock for `emitted_at`. Default `Date.now`. */
  readonly now?: () => number;
  readonly hooks?: Omit<FeedbackPipelineHooks, 'late' | 'recordError'>;
  /** Called after each result is written, with the output's acknowledgement where it gives one. */
  readonly onResult?: (result: FeedbackWindowResult, acknowledged: Promise<void> | undefined) => void;
  /** Called with each barrier once every element before it has been written to the outputs. */
  readonly onBarrier?: (barrier: Barrier) => void;
}

/** What the pipeline's output elements turn into: results and too-late dead letters written, watermarks observed. */
export interface PipelineWriter {
  /** A too-late record: the `late` side output. */
  late(record: WindowedRecord<FeedbackEvent>): void;
  /** A record whose aggregation threw: a `processing_error` dead letter (the pipeline goes on). */
  recordError(record: WindowedRecord<FeedbackEvent>, error: unknown): void;
  /** An element out of the pipeline (results, watermarks, barriers). */
  element(element: StreamElement<FeedbackWindowResult>): void;
}

/** Writes a pipeline's output to `options.outputs` and counts it in `options.stats`. */
export function pipelineWriter(options: PipelineRunOptions): PipelineWriter {
  const { outputs, stats, metrics } = options;
  const now = options.now ?? Date.now;
  // A parsed record is re-serialised as its dead letter's raw; the parser's depth
  // limit keeps JSON.stringify's recursion shallow, and the outputs cap the size.
  const writeRecord = (reason: DeadLetterReason, record: WindowedRecord<FeedbackEvent>, error?: string): void =>
    outputs.writeDeadLetter({ reason, raw: serialisedEvent(record.value), extra: { error, partition: record.partition, offset: record.offset } });
  return {
    late(record) {
      stats.late++;
      writeRecord('too_late', record);
    },
    recordError(record, error) {
      stats.countInvalid('processing_error');
      writeRecord('processing_error', record, errorMessage(error));
    },
    element(element) {
      switch (element.kind) {
        case 'record': {
          if (element.value.early === true) stats.earlyResults++;
          else stats.windowsEmitted++;
          if (element.value.revision > 0) stats.updates++;
          const acknowledged = outputs.writeResult(element.value, now());
          options.onResult?.(element.value, acknowledged);
          break;
        }
        case 'watermark':
          metrics?.observeWatermark(element.time);
          break;
        case 'barrier':
          options.onBarrier?.(element);
          break;
      }
    },
  };
}

/**
 * Runs the feedback pipeline over parsed records and writes what comes out:
 * results to the outputs, too-late records as dead letters. Resolves when the
 * input completes and everything is flushed; rejects on the first error.
 * Unsubscribing (`signal`) stops the pipeline without flushing windows.
 */
export function runPipeline(records: Observable<StreamElement<FeedbackEvent>>, options: PipelineRunOptions, signal?: AbortSignal): Promise<void> {
  const { config, outputs } = options;
  const writer = pipelineWriter(options);
  return new Promise<void>((resolve, reject) => {
    const subscription = records.pipe(feedbackPipeline(config, { ...options.hooks, late: { next: writer.late }, recordError: writer.recordError })).subscribe({
      next: writer.element,
      error: reject,
      complete: () => outputs.flush().then(resolve, reject),
    });
    if (signal === undefined) return;
    whenAborted(signal, () => {
      subscription.unsubscribe();
      outputs.flush().then(resolve, reject);
    });
  });
}
