/**
 * The processor's Prometheus instruments (DESIGN.md, "Observability"), on a
 * registry of their own: prom-client's global registry is process-wide state,
 * so two processors in one process (tests, an embedding application that has
 * metrics of its own) would clash on metric names.
 *
 * Cost: every prom-client update hashes and validates its labels: measured
 * here, ~0.1 µs per `inc` and ~0.13 µs per histogram `observe`, i.e. a third
 * or more of the per-record budget of a pipeline doing 3–6 M records/s.
 * Callers therefore count in batches: one
 * `recordsIn.aggregated.inc(n)` per source batch or per watermark, never one
 * `inc()` per record. Instruments whose label values form a closed set are
 * handed out pre-bound (`recordsIn.late`, `windowsFired.first`), which also
 * types the label values and makes every series appear at 0 from the first
 * scrape, so `rate()` and `increase()` see the series start.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { DeadLetterReason } from '../events/dead-letter.js';

export const METRIC_PREFIX = 'stream_processor_';

/** Where an input record ended (DESIGN.md: exactly one of these per record). */
export type RecordOutcome = 'aggregated' | 'late' | 'dead_letter' | 'duplicate';

/** A window's first emission (revision 0, when it fires) or a late update (revision ≥ 1). */
export type RevisionKind = 'first' | 'update';

/** Where a task's state came from when it started: its local copy, the state topic, or nothing (a new task). */
export type RestoreSource = 'local' | 'state_topic' | 'empty';

/**
 * The series of each task (label `task`, `topic:partition`). A task moves between
 * instances: `remove` it when it is revoked, so that only its current owner reports it.
 */
export interface TaskMetrics {
  /**
   * `stream_processor_task_restore_seconds{task,source}`: how long the task was held
   * (partition paused) while its state was restored.
   */
  restored(task: string, source: RestoreSource, seconds: number): void;
  /**
   * `stream_processor_task_watermark_seconds{task}` (epoch seconds; -Inf before the task's
   * first watermark, +Inf at the end of a bounded input) and
   * `stream_processor_task_windows_open{task}`.
   */
  observe(task: string, watermark: number, windowsOpen: number): void;
  /** The task was revoked (or dropped): its series go. */
  remove(task: string): void;
}

/**
 * What failed, for `stream_processor_errors_total{kind}`: things the processor
 * itself did not manage, as opposed to invalid input (the producers' fault, in
 * `dead_letters_total`). `processing_error`: a record whose parsing or aggregation
 * threw (also a dead letter); `checkpoint_failed`: a checkpoint that could not be
 * completed; `commit_failed`: an offset commit the group rejected (retried);
 * `dead_letter_dropped`: a dead letter the output refused; `send_failed`: a send
 * to a Kafka output that failed, retried ones included.
 */
export type ErrorKind = 'processing_error' | 'checkpoint_failed' | 'commit_failed' | 'dead_letter_dropped' | 'send_failed';

/** The two outputs: the result sink (`processor.sink`) and the dead-letter sink (`processor.dead_letter`). */
export type OutputSink = 'results' | 'dead_letter';

/**
 * 0.1 ms … 10 s in 1–2.5–5 steps: a batch through the synchronous operators
 * takes well under a millisecond, a batch held up by a checkpoint or a slow
 * sink takes seconds.
 */
export const LATENCY_BUCKETS_SECONDS: readonly number[] = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

/** 1 ms … 60 s: a checkpoint writes from a few keys to millions of windows' state. */
export const CHECKPOINT_BUCKETS_SECONDS: readonly number[] = [
  0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
];

// A Record rather than an array so that a reason added to DeadLetterReason fails to compile here.
const DEAD_LETTER_REASONS: Readonly<Record<DeadLetterReason, true>> = {
  invalid_json: true,
  too_deep: true,
  not_an_object: true,
  missing_timestamp: true,
  invalid_timestamp: true,
  future_timestamp: true,
  invalid_metrics: true,
  invalid_metric: true,
  too_late: true,
  processing_error: true,
};

export interface ProcessorMetricsOptions {
  /** Wall clock in epoch ms, for the watermark lag; `Date.now` by default. */
  readonly now?: () => number;
}

export interface ProcessorMetrics {
  /** Holds the instruments below and the default process metrics (`process_*`, `nodejs_*`). */
  readonly registry: Registry;
  /**
   * `stream_processor_records_in_total{outcome}`: input records by where they
   * ended. `late` is a record too late for every window it belongs to (a
   * late-but-accepted record counts as `aggregated`); `dead_letter` is invalid input;
   * `duplicate` is a record the repartition stage produced again after a restart
   * (src/repartition), dropped by its task.
   */
  readonly recordsIn: Readonly<Record<RecordOutcome, Counter.Internal>>;
  /**
   * `stream_processor_dead_letters_total{reason}`: lines written to the
   * dead-letter output by reason; the sum over reasons equals
   * `records_in_total{outcome="late"}` (`too_late`) plus `{outcome="dead_letter"}`.
   */
  readonly deadLetters: Readonly<Record<DeadLetterReason, Counter.Internal>>;
  /**
   * `stream_processor_dead_letters_dropped_total`: dead letters the dead-letter
   * output refused (a Kafka broker rejecting the message, e.g. as too large),
   * logged and dropped so that the job goes on. Also counted in `dead_letters_total`.
   */
  readonly deadLettersDropped: Counter;
  /** `stream_processor_windows_open`: (key, window) pairs holding state, fired or not yet purged. */
  readonly windowsOpen: Gauge;
  /** `stream_processor_windows_fired_total{revision_kind}`: window results emitted. */
  readonly windowsFired: Readonly<Record<RevisionKind, Counter.Internal>>;
  /**
   * `stream_processor_processing_latency_seconds`: per window result, wall time from
   * the hand-over of the record that fired it to the sink's acknowledgement (Kafka mode).
   */
  readonly processingLatency: Histogram;
  /** `stream_processor_consumer_lag{topic,partition}`: messages after the last one handed over, as of the last fetch; `remove()` a partition when it is revoked. */
  readonly consumerLag: Gauge<'topic' | 'partition'>;
  /** `stream_processor_in_flight_records`: records read but not yet acknowledged by the sink. */
  readonly inFlight: Gauge;
  /** `stream_processor_paused`: 1 while the source is paused for backpressure, else 0. */
  readonly paused: Gauge;
  /** `stream_processor_checkpoint_duration_seconds`: barrier injected → checkpoint complete. */
  readonly checkpointDuration: Histogram;
  /** `stream_processor_checkpoint_size_bytes`: bytes written by the last completed checkpoint. */
  readonly checkpointSize: Gauge;
  /** `stream_processor_last_checkpoint_id`: id of the last completed checkpoint. */
  readonly lastCheckpointId: Gauge;
  /**
   * `stream_processor_state_size_bytes`: bytes the state backend holds for this instance,
   * measured after each completed checkpoint: the state folder's files on disk (`level`:
   * what fills the state volume, every retained checkpoint and LevelDB's not yet compacted
   * files), or the stored keys and values (`memory`). Not one checkpoint's size: see
   * `checkpoint_size_bytes`.
   */
  readonly stateSize: Gauge;
  /**
   * `stream_processor_errors_total{kind}`: failures by kind (see `ErrorKind`). The error
   * rate is `rate(errors_total) / rate(records_in_total)`.
   */
  readonly errors: Readonly<Record<ErrorKind, Counter.Internal>>;
  /** `stream_processor_output_records_total{sink}`: records written to each output. */
  readonly outputRecords: Readonly<Record<OutputSink, Counter.Internal>>;
  /** Per-task watermark, open windows and restore time. */
  readonly tasks: TaskMetrics;
  /**
   * Notes the combined watermark (epoch ms). `stream_processor_watermark_lag_seconds`
   * is computed at scrape time as now − watermark, so it keeps growing while the
   * watermark stalls; NaN before the first watermark, 0 once it is +∞ (end of a
   * bounded input). Cheap enough to call on every watermark.
   */
  observeWatermark(time: number): void;
}

/** Pre-binds one child per label value and sets each to 0 so the series exist from the start. */
function bindAll<V extends string>(counter: Counter<string>, label: string, values: readonly V[]): Record<V, Counter.Internal> {
  const bound = {} as Record<V, Counter.Internal>;
  for (const value of values) {
    counter.inc({ [label]: value }, 0);
    bound[value] = counter.labels({ [label]: value });
  }
  return bound;
}

export function createProcessorMetrics(options: ProcessorMetricsOptions = {}): ProcessorMetrics {
  const now = options.now ?? Date.now;
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const name = (suffix: string): string => METRIC_PREFIX + suffix;

  const recordsIn = new Counter({
    name: name('records_in_total'),
    help: 'Input records by outcome: aggregated, late (too late for every window), dead_letter (invalid), duplicate (repartitioned again, dropped).',
    labelNames: ['outcome'],
    registers,
  });
  const deadLetters = new Counter({
    name: name('dead_letters_total'),
    help: 'Records written to the dead-letter output, by reason.',
    labelNames: ['reason'],
    registers,
  });
  const windowsFired = new Counter({
    name: name('windows_fired_total'),
    help: 'Window results emitted: first (revision 0, on firing) or update (late revision).',
    labelNames: ['revision_kind'],
    registers,
  });
  const errors = new Counter({
    name: name('errors_total'),
    help: 'Failures by kind: processing_error, checkpoint_failed, commit_failed, dead_letter_dropped, send_failed.',
    labelNames: ['kind'],
    registers,
  });
  const outputRecords = new Counter({
    name: name('output_records_total'),
    help: 'Records written, by output: results or dead_letter.',
    labelNames: ['sink'],
    registers,
  });

  let watermark = Number.NaN;
  new Gauge({
    name: name('watermark_lag_seconds'),
    help: 'Processing time minus the combined event-time watermark, in seconds (NaN before the first watermark).',
    registers,
    collect() {
      this.set(watermark === Number.POSITIVE_INFINITY ? 0 : (now() - watermark) / 1000);
    },
  });

  return {
    registry,
    recordsIn: bindAll<RecordOutcome>(recordsIn, 'outcome', ['aggregated', 'late', 'dead_letter', 'duplicate']),
    deadLetters: bindAll(deadLetters, 'reason', Object.keys(DEAD_LETTER_REASONS) as DeadLetterReason[]),
    deadLettersDropped: new Counter({
      name: name('dead_letters_dropped_total'),
      help: 'Dead letters the dead-letter output rejected (e.g. too large for the Kafka broker), logged and dropped.',
      registers,
    }),
    windowsOpen: new Gauge({ name: name('windows_open'), help: '(Key, window) pairs holding state.', registers }),
    windowsFired: bindAll<RevisionKind>(windowsFired, 'revision_kind', ['first', 'update']),
    processingLatency: new Histogram({
      name: name('processing_latency_seconds'),
      help: 'Wall time from a batch leaving the source to its results reaching the sink.',
      buckets: [...LATENCY_BUCKETS_SECONDS],
      registers,
    }),
    consumerLag: new Gauge({
      name: name('consumer_lag'),
      help: 'Kafka consumer lag in records per partition: high watermark minus committed offset.',
      labelNames: ['topic', 'partition'] as const,
      registers,
    }),
    inFlight: new Gauge({ name: name('in_flight_records'), help: 'Records read but not yet acknowledged by the sink.', registers }),
    paused: new Gauge({ name: name('paused'), help: '1 while the source is paused for backpressure, else 0.', registers }),
    checkpointDuration: new Histogram({
      name: name('checkpoint_duration_seconds'),
      help: 'Time from injecting a checkpoint barrier to the checkpoint being complete.',
      buckets: [...CHECKPOINT_BUCKETS_SECONDS],
      registers,
    }),
    checkpointSize: new Gauge({ name: name('checkpoint_size_bytes'), help: 'Bytes written by the last completed checkpoint.', registers }),
    lastCheckpointId: new Gauge({ name: name('last_checkpoint_id'), help: 'Id of the last completed checkpoint.', registers }),
    stateSize: new Gauge({
      name: name('state_size_bytes'),
      help: 'Bytes the state backend holds: the state folder on disk (level) or the stored values (memory), after the last checkpoint.',
      registers,
    }),
    errors: bindAll<ErrorKind>(errors, 'kind', ['processing_error', 'checkpoint_failed', 'commit_failed', 'dead_letter_dropped', 'send_failed']),
    outputRecords: bindAll<OutputSink>(outputRecords, 'sink', ['results', 'dead_letter']),
    tasks: taskMetrics(name, registers),
    observeWatermark(time: number): void {
      watermark = time;
    },
  };
}

function taskMetrics(name: (suffix: string) => string, registers: Registry[]): TaskMetrics {
  const watermark = new Gauge({
    name: name('task_watermark_seconds'),
    help: "A task's event-time watermark in epoch seconds (-Inf before its first watermark).",
    labelNames: ['task'] as const,
    registers,
  });
  const windowsOpen = new Gauge({ name: name('task_windows_open'), help: '(Key, window) pairs holding state in a task.', labelNames: ['task'] as const, registers });
  const restore = new Gauge({
    name: name('task_restore_seconds'),
    help: 'How long a task was held while its state was restored, by where it came from: local, state_topic or empty.',
    labelNames: ['task', 'source'] as const,
    registers,
  });
  // prom-client removes a series by its full label set: remember each task's source.
  const sources = new Map<string, RestoreSource>();
  return {
    restored(task, source, seconds) {
      const previous = sources.get(task);
      if (previous !== undefined) restore.remove({ task, source: previous });
      sources.set(task, source);
      restore.set({ task, source }, seconds);
    },
    observe(task, time, open) {
      watermark.set({ task }, time / 1000);
      windowsOpen.set({ task }, open);
    },
    remove(task) {
      watermark.remove({ task });
      windowsOpen.remove({ task });
      const source = sources.get(task);
      if (source !== undefined) restore.remove({ task, source });
      sources.delete(task);
    },
  };
}
