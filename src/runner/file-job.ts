import { Subject, takeUntil, type Observable } from 'rxjs';
import { checkpoint, type StreamElement } from '@llm-feedback/stream-operators';
import { CheckpointCoordinator } from '../checkpoint/coordinator.js';
import { decodePipelineState, encodePipelineState } from '../checkpoint/pipeline-codec.js';
import type { ProcessorConfig } from '../config/index.js';
import type { DeadLetter, FeedbackEvent } from '../events/index.js';
import type { Source } from '../builder/plugins.js';
import { fileChunks, fileSource, stdinSource, streamChunks, type LineChunk } from '../io/index.js';
import type { Logger, ProcessorMetrics, ProgressReporter } from '../observability/index.js';
import { feedbackMetrics, windowCount, type PipelineSnapshot } from '../pipeline/feedback-pipeline.js';
import { windowSpecs } from '../pipeline/windowing.js';
import { openStateStore, type Checkpoint, type StateStore } from '../state/index.js';
import type { ParallelParse } from '../parallel/parallel-parse.js';
import { JobStats, type JobSummary } from './job-stats.js';

import { ChannelOutputs, OutputMismatchError, type CustomOutputs, type JobOutputs } from './outputs.js';
import { configuredParser, configuredParserOptions, parseLines, type BatchDone } from './parse-lines.js';
import { runPipeline, type PipelineRunOptions } from './run-pipeline.js';
import { whenAborted } from './when-aborted.js';

export interface LineJobOptions {
  readonly config: ProcessorConfig;
  /** Default: the sink and dead-letter outputs the config names. */
  readonly outputs?: JobOutputs;
  readonly metrics?: ProcessorMetrics;
  readonly logger?: Logger;
  readonly progress?: ProgressReporter;
  readonly now?: () => number;
  readonly hooks?: PipelineRunOptions['hooks'];
  /** Stops reading after a final checkpoint; open windows stay in it, not flushed. */
  readonly signal?: AbortSignal;
  /** Called once state is restored and input is about to be read. */
  readonly onReady?: () => void;
  /** Read this instead of the configured `source` (which is then ignored). */
  readonly source?: Source;
  /** Write results and dead letters here instead of the configured `sink` / `dead_letter` (without `outputs`). */
  readonly sinks?: CustomOutputs;
}

const FILE_PARTITION = '0';

/**
 * Runs the pipeline over an NDJSON file or stdin until the input ends (or the
 * signal stops it): every window is flushed at the end, the outputs are flushed
 * and closed, and the summary is returned.
 *
 * A file job with `state.backend: level` is checkpointed every
 * `checkpoint_interval_secs` (and on stop): it resumes from the last complete
 * checkpoint, truncating its output files to the length recorded there, so the
 * output of an interrupted run equals that of an uninterrupted one. It first
 * checks that each file is the one the checkpoint wrote (path and a checksum of
 * the bytes before the recorded length) and refuses to start otherwise.
 */
export async function runLineJob(options: LineJobOptions): Promise<JobSummary> {
  const { config, metrics, logger } = options;
  const now = options.now ?? Date.now;
  const started = now();
  const source = options.source ?? configuredSource(config);
  const outputs = options.outputs ?? (await ChannelOutputs.open(config, { logger, metrics }, options.sinks));
  const checkpointed = source.replayable && config.state.backend === 'level';
  let store: StateStore | undefined;
  try {
    store = checkpointed ? await openStateStore(config.state, { onWarning: (message) => logger?.warn(message) }) : undefined;
    return await runWithOutputs(options, source, outputs, store, started, now);
  } finally {
    await store?.close();
    if (options.outputs === undefined) await outputs.close();
  }
}

async function runWithOutputs(
  options: LineJobOptions,
  source: Source,
  outputs: JobOutputs,
  store: StateStore | undefined,
  started: number,
  now: () => number,
): Promise<JobSummary> {
  const { config, metrics, logger } = options;
  const stats = new JobStats();
  const metricsAggregator = feedbackMetrics(config);
  const latest = await store?.latestCheckpoint();
  const restored = latest === undefined ? undefined : decodePipelineState(latest, metricsAggregator);
  const resumedFrom = Number(latest?.positions[FILE_PARTITION] ?? 0);
  await rewindOutputs(outputs, latest, config);
  if (latest !== undefined) logger?.info({ checkpoint: latest.id, offset: resumedFrom, windows: restored === undefined ? undefined : windowCount(restored) }, 'resuming from checkpoint');

  const coordinator = store === undefined ? undefined : new CheckpointCoordinator({ store, outputs, logger, metrics });
  let position = resumedFrom;
  const onBatch = (batch: BatchDone): void => {
    stats.recordsIn += batch.lineCount;
    position = batch.end;
    options.progress?.update(stats.recordsIn, batch.end);
    if (metrics !== undefined) {
      stats.publish(metrics);
      metrics.inFlight.set(outputs.inFlight);
    }
  };
  const flushWhenFull = (): Promise<void> | undefined => (outputs.inFlight > config.buffer_size ? outputs.flush() : undefined);
  // parallelism > 1: the parse runs in worker threads, the pipeline here (see parallel-parse.ts).
  const parallel = config.parallelism > 1 && isChunked(source) ? await parallelLineParser(config, now) : undefined;
  if (parallel !== undefined) logger?.info({ parallelism: config.parallelism, parseWorkers: config.parallelism - 1 }, 'parsing in worker threads; the pipeline runs in the main thread');
  if (config.parallelism > 1 && parallel === undefined) {
    logger?.warn({ parallelism: config.parallelism }, 'a custom source is parsed on the pipeline thread: parallelism applies to the configured file and stdin sources');
  }
  const backpressure = parallel === undefined ? flushWhenFull : () => parallel.backpressure() ?? flushWhenFull();
  const writeDeadLetter = (deadLetter: DeadLetter): void => {
    stats.countInvalid(deadLetter.reason);
    outputs.writeDeadLetter({
      reason: deadLetter.reason,
      raw: deadLetter.raw,
      extra: { field: deadLetter.field, error: deadLetter.error, partition: deadLetter.partition, offset: deadLetter.offset },
    });
  };

  // A stop with durable state injects a final barrier, then ends the pipeline: open
  // windows live on in that checkpoint. Without durable state (memory, stdin) nothing
  // would keep them, so a stop ends the input instead and every window is flushed.
  const stopBarrier = new Subject<void>();
  const stopped = new AbortController();
  const endOfInput = new Subject<void>();

  let records: Observable<StreamElement<FeedbackEvent>> =
    parallel === undefined || !isChunked(source)
      ? source.read(resumedFrom, backpressure).pipe(takeUntil(endOfInput), parseLines(configuredParser(config, now), writeDeadLetter, onBatch))
      : source.chunks(resumedFrom, backpressure).pipe(takeUntil(endOfInput), parallel.parseLines(writeDeadLetter, onBatch));
  if (coordinator !== undefined) {
    records = records.pipe(
      checkpoint({
        intervalMs: config.checkpoint_interval_secs * 1000,
        firstId: (latest?.id ?? 0) + 1,
        positions: () => ({ [FILE_PARTITION]: String(position) }),
        trigger: stopBarrier,
      }),
    );
  }
  let lastBarrier = latest?.id ?? 0;
  let finalState: PipelineSnapshot | undefined;
  const done = runPipeline(
    records,
    {
      config,
      outputs,
      stats,
      metrics,
      now,
      hooks: {
        idleness: !source.bounded,
        initialState: restored,
        ...options.hooks,
        onBarrier:
          coordinator &&
          ((id, snapshot) => {
            finalState = snapshot;
            coordinator.snapshot(id, encodePipelineState(snapshot, metricsAggregator));
          }),
      },
      onBarrier: (barrier) => {
        lastBarrier = barrier.id;
        coordinator?.barrierAtSink(barrier);
      },
    },
    stopped.signal,
  );
  // Listened to once the pipeline is subscribed: a stop that came during the set-up acts now.
  if (options.signal !== undefined) {
    whenAborted(options.signal, () => {
      if (coordinator === undefined) {
        endOfInput.next();
        return;
      }
      stopBarrier.next();
      stopped.abort();
    });
  }
  // Subscribed (synchronously): state is restored, and input is read from the next tick on.
  options.onReady?.();
  await done;
  if (coordinator !== undefined && !stopped.signal.aborted) {
    // The input ended and every window fired: record that, so a restart does not redo the file.
    const watermark = Infinity;
    const partitions = finalState?.watermarks.partitions ?? restored?.watermarks.partitions ?? [];
    const done: PipelineSnapshot = {
      watermarks: { watermark, partitions },
      specs: windowSpecs(config.windows).map((spec) => ({ spec: spec.name, state: { watermark, windowType: spec.type, windows: [] } })),
    };
    await coordinator.complete(lastBarrier + 1, { [FILE_PARTITION]: String(position) }, encodePipelineState(done, metricsAggregator));
  }
  await coordinator?.drain();
  if (metrics !== undefined) stats.publish(metrics);
  return stats.summary(now() - started, resumedFrom);
}

/**
 * Cuts the outputs back to the checkpoint, refusing (with what to do) when an
 * output file is not the one the checkpoint wrote: a state folder reused with
 * another sink file must not truncate that file.
 */
async function rewindOutputs(outputs: JobOutputs, latest: Checkpoint | undefined, config: ProcessorConfig): Promise<void> {
  try {
    await outputs.rewindTo(latest);
  } catch (error) {
    if (!(error instanceof OutputMismatchError) || latest === undefined) throw error;
    const folder = config.state.backend === 'level' ? `the state folder ${config.state.path}` : 'the state store';
    throw new Error(
      `cannot resume: output file ${error.path} is not the output of checkpoint ${latest.id} in ${folder} (${error.problem}). ` +
        `The file was left untouched. Either delete ${folder} to start afresh (the input is read again and the output rewritten from the start), ` +
        `or restore the output file that the checkpointed run wrote.`,
    );
  }
}

/** A source that can also be read as chunks of whole lines (bytes), for the parse workers of `parallelism`. */
interface ChunkedSource extends Source {
  chunks(from: number, backpressure: () => PromiseLike<unknown> | undefined): Observable<LineChunk>;
}

const isChunked = (source: Source): source is ChunkedSource => typeof (source as Partial<ChunkedSource>).chunks === 'function';

/** The configured file or stdin source. */
function configuredSource(config: ProcessorConfig): ChunkedSource {
  const { source } = config;
  switch (source.type) {
    case 'file':
      return {
        bounded: true,
        replayable: true,
        read: (start, backpressure) => fileSource(source.path, { start, backpressure }),
        chunks: (start, backpressure) => fileChunks(source.path, { start, backpressure }),
      };
    case 'stdin':
      return {
        bounded: false,
        replayable: false,
        read: (_start, backpressure) => stdinSource({ backpressure }),
        chunks: (_start, backpressure) => streamChunks(process.stdin, { backpressure }),
      };
    case 'kafka':
      throw new Error('runLineJob reads files and stdin; Kafka sources run in the Kafka job');
  }
}

/**
 * The parse in `config.parallelism − 1` worker threads, the main thread (reading, the
 * pipeline, writing) being the last of the `parallelism` busy threads: on 2 cores one
 * parse worker took less CPU and time than two, which competed with the main thread.
 * Loaded on demand: single-threaded jobs do not load it.
 */
async function parallelLineParser(config: ProcessorConfig, now: () => number): Promise<ParallelParse> {
  const { parallelParse } = await import('../parallel/parallel-parse.js');
  return parallelParse({ workers: config.parallelism - 1, event: configuredParserOptions(config), now });
}
