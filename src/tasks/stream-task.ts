/**
 * A task (DESIGN.md "Tasks"; Kafka Streams' StreamTask): the pipeline of one input
 * partition, with its own watermark, windows and state. Its results depend on that
 * partition's records alone, never on how fetches of other partitions interleave, so a
 * task re-run from any of its complete checkpoints emits the same results again.
 */
import { Observable, type SchedulerLike, type Subscriber, type Subscription } from 'rxjs';
import type { AggregateView, StreamRecord, WatermarkSnapshot, WindowStateSnapshot } from '@llm-feedback/stream-operators';
import type { ProcessorConfig } from '../config/index.js';
import { SourceHighWater } from '../repartition/high-water.js';
import type { SourceOffset } from '../repartition/source-position.js';
import type { FeedbackEvent } from '../events/index.js';
import { feedbackPipeline, type FeedbackAccumulator, type FeedbackResult, type PipelineSnapshot, type SpecState } from '../pipeline/feedback-pipeline.js';
import { windowSpecs } from '../pipeline/windowing.js';
import type { PipelineWriter } from '../runner/run-pipeline.js';
import type { ChangelogLineage, SpecChanges } from './changelog.js';
import { TaskChangelog } from './task-changelog.js';

export interface StreamTaskOptions {
  readonly config: ProcessorConfig;
  /** Where results and too-late records go (shared by the tasks of a job). */
  readonly writer: PipelineWriter;
  /** The state to start from (a checkpoint), or none for the partition's first record on. */
  readonly restored?: PipelineSnapshot;
  /** With `restored`: per source partition, the highest offset its repartitioned records came from. */
  readonly restoredSources?: Readonly<Record<string, number>>;
  /** With `restored`: where its state topic records stand. */
  readonly restoredLineage?: ChangelogLineage;
  /** Whether the source has read everything this partition holds (quiet input, see `assignWatermarks`). */
  readonly caughtUp: () => boolean;
  /** Timers for idleness; a `TestScheduler` in tests. */
  readonly scheduler?: SchedulerLike;
  /** The pipeline failed (a bug: bad input never fails it). */
  readonly onError: (error: unknown) => void;
  /** A repartitioned record that was aggregated before (see `process`) was dropped. */
  readonly onDuplicate?: () => void;
}

/** What one task contributes to a checkpoint. */
export interface TaskCheckpoint {
  readonly watermarks: WatermarkSnapshot;
  /** Per window spec, in the configuration's order: its header and its changes. */
  readonly specs: readonly (SpecChanges & { readonly header: Omit<WindowStateSnapshot<FeedbackAccumulator>, 'windows'> })[];
  readonly sources: Record<string, number>;
}

export class StreamTask {
  /**
   * Where `process` hands a record to the pipeline: its one subscriber, called directly. A
   * `Subject` (a multicast) costs a closure and an iterator per record in RxJS's CommonJS
   * build, which Node loads (~130 bytes of garbage per event); this input has one reader.
   */
  private input: Subscriber<StreamRecord<FeedbackEvent>> | undefined;
  private readonly subscription: Subscription;
  private windowState: AggregateView<FeedbackResult> | undefined;
  private specStates: readonly SpecState[] = [];
  private watermarkState: { snapshot(): WatermarkSnapshot } | undefined;
  private readonly sources: SourceHighWater;
  private readonly onDuplicate: (() => void) | undefined;
  /** The task's records for the state topic and the local copy. */
  readonly changelog: TaskChangelog;

  constructor(
    /** The partition's id in the stream model. */
    readonly partition: number,
    options: StreamTaskOptions,
  ) {
    const { writer } = options;
    this.sources = new SourceHighWater(options.restoredSources);
    this.onDuplicate = options.onDuplicate;
    // Restored windows of specs the configuration no longer has are not restored: their records go.
    const running = new Set(windowSpecs(options.config.windows).map((spec) => spec.name));
    const dropped = (options.restored?.specs ?? []).filter((s) => !running.has(s.spec)).flatMap((s) => s.state.windows.map((w) => w.id ?? -1));
    const changelog = new TaskChangelog({ task: partition, metricFields: options.config.event.metric_fields, lineage: options.restoredLineage, dropped });
    this.changelog = changelog;
    this.subscription = new Observable<StreamRecord<FeedbackEvent>>((subscriber) => {
      this.input = subscriber;
      return () => (this.input = undefined);
    })
      .pipe(
        feedbackPipeline(options.config, {
          initialState: options.restored,
          caughtUp: options.caughtUp,
          scheduler: options.scheduler,
          late: { next: writer.late },
          recordError: writer.recordError,
          onWindowState: (state) => (this.windowState = state),
          onSpecStates: (states) => (this.specStates = states),
          onWatermarkState: (state) => (this.watermarkState = state),
          trackChanges: true,
          onAccumulate: (id, event) => changelog.record(id, event),
        }),
      )
      .subscribe({ next: writer.element, error: options.onError });
  }

  /** Every spec's window state, in the configuration's order. */
  get specWindows(): readonly SpecState[] {
    return this.specStates;
  }

  /** The task's windows (every spec's), for queries and metrics. */
  get windows(): AggregateView<FeedbackResult> | undefined {
    return this.windowState;
  }

  /**
   * Aggregates `record`. A repartitioned record names its input position (`from`); one at
   * or below what this task already took from that input partition is a copy the
   * repartition stage produced again after a restart, and is dropped (src/repartition).
   */
  process(record: StreamRecord<FeedbackEvent>, from?: SourceOffset): void {
    if (from !== undefined && !this.sources.admit(from)) {
      this.onDuplicate?.();
      return;
    }
    this.input?.next(record);
  }

  /**
   * The task's checkpoint, cut now: between two records the synchronous pipeline is at rest,
   * so this is a consistent cut without a barrier through it. Its cost follows the changes:
   * the windows changed since the previous checkpoint (or the restore), the watermark
   * clock, each spec's window operator header and the source high-water marks. Windows
   * whose changelog records grew old are reported reshaped, so they are written whole.
   */
  checkpoint(): TaskCheckpoint {
    const watermarks = this.watermarkState;
    if (this.windowState === undefined || watermarks === undefined) throw new Error(`task ${this.partition} is closed`);
    // Identities are unique across specs: each spec rewrites those of its own windows.
    const rewrite = this.changelog.dueForRewrite();
    const specs = this.specStates.map(({ spec, state }) => {
      const header = state.header();
      return { spec: spec.name, windowType: header.windowType ?? spec.type, header, changes: state.takeChanges(rewrite) };
    });
    return { watermarks: watermarks.snapshot(), specs, sources: this.sources.snapshot() };
  }

  /** Drops the task: timers, windows and state go (another owner carries the partition on). */
  close(): void {
    this.subscription.unsubscribe();
    this.windowState = undefined;
    this.specStates = [];
  }
}
