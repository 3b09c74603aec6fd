import { defer, pipe, type ObservableInput, type OperatorFunction, type SchedulerLike } from 'rxjs';
import { aggregate, type AggregateOptions, type AggregateState, type AggregateView, type Aggregator, assignWatermarks, type LateRecordObserver, type MetricsAccumulator, metricsAggregator, type MetricsAggregator, type StreamElement, type WatermarkSnapshot, type WindowedRecord, WindowIdentities, type WindowResult, windowSet, type WindowStateSnapshot } from '@llm-feedback/stream-operators';
import type { ProcessorConfig } from '../config/index.js';
import type { FeedbackEvent } from '../events/index.js';
import { withKeyFields, type KeyedAccumulator, type KeyedResult } from './keyed-aggregator.js';
import { immediateScheduler } from './immediate-scheduler.js';
import { specsView } from './window-pages.js';
import { windowingOf, windowSpecs, type WindowSpec } from './windowing.js';

export type FeedbackAccumulator = KeyedAccumulator<MetricsAccumulator>;
/** `spec`: the name of a named spec (`windows.specs`) whose window this is. */
export type FeedbackResult = KeyedResult & { readonly spec?: string };
export type FeedbackWindowResult = WindowResult<FeedbackResult>;

/** Hooks through which the service observes, checkpoints and restores the pipeline's state. */
export interface FeedbackPipelineHooks {
  late?: LateRecordObserver<FeedbackEvent>;
  /** A record whose aggregation threw (see `aggregate`'s `onRecordError`); the pipeline goes on without it. */
  recordError?: (record: WindowedRecord<FeedbackEvent>, error: unknown) => void;
  /** Timers for idleness; a `TestScheduler` in tests. */
  scheduler?: SchedulerLike;
  /**
   * Bounded inputs (files) need no idle timeout: their end flushes every window,
   * and leaving processing time out keeps their output deterministic.
   */
  idleness?: boolean;
  /** The partitions the source reads (a Kafka assignment): each holds the watermark back from its assignment on. */
  assignedPartitions?: ObservableInput<readonly number[]>;
  /** Whether the source has read everything a partition holds (see `assignWatermarks`'s `caughtUp`). */
  caughtUp?: (partition: number) => boolean;
  /** One view over every spec's window state (queries and the open-windows gauge), once each is subscribed. */
  onWindowState?: (state: AggregateView<FeedbackResult>) => void;
  /** Every spec's window state, in the configuration's order, once each is subscribed (checkpoints cut outside the stream). */
  onSpecStates?: (states: readonly SpecState[]) => void;
  onBarrier?: (barrierId: number, snapshot: PipelineSnapshot) => void;
  initialState?: PipelineSnapshot;
  /** Record window changes for incremental checkpoints (`AggregateState.takeChanges`). */
  trackChanges?: boolean;
  /** Each event a window accumulated, with the window's identity (unique across specs; see `aggregate`'s `onAccumulate`). */
  onAccumulate?: (windowId: number, event: FeedbackEvent) => void;
  /** A view of the watermark state, for checkpoints cut outside the stream. */
  onWatermarkState?: (state: { snapshot(): WatermarkSnapshot }) => void;
  /**
   * Where windows about to fire are prepared (their results and JSON texts computed while the
   * input is quiet; see `aggregate`'s `prepareAheadMs`). Default: Node's `setImmediate`, after
   * the pending I/O; unless given, bounded inputs (`idleness: false`), read as fast as they can
   * be, prepare nothing.
   */
  prepareScheduler?: SchedulerLike;
}

/** One spec's live window state. */
export interface SpecState {
  readonly spec: WindowSpec;
  readonly state: AggregateState<FeedbackAccumulator, FeedbackResult>;
}

/** One spec's window state at a barrier, filed under the spec's name. */
export interface SpecSnapshot {
  readonly spec: string;
  readonly state: WindowStateSnapshot<FeedbackAccumulator>;
}

/**
 * The pipeline's whole state at one barrier: the watermark clock and each spec's windows
 * (window identities are unique across specs: the specs share one `WindowIdentities`).
 */
export interface PipelineSnapshot {
  readonly watermarks: WatermarkSnapshot;
  readonly specs: readonly SpecSnapshot[];
}

/** The windows a snapshot holds, over every spec (for logs and metrics). */
export const windowCount = (snapshot: PipelineSnapshot): number => snapshot.specs.reduce((sum, s) => sum + s.state.windows.length, 0);

/** The metrics aggregator the configuration asks for (also what decodes its checkpoints). */
export const feedbackMetrics = (config: ProcessorConfig): MetricsAggregator<FeedbackEvent> =>
  metricsAggregator<FeedbackEvent>({
    metricFields: config.event.metric_fields,
    percentiles: config.aggregation.percentiles,
    enabled: config.aggregation.enabled,
  });

/** `aggregator`, its results naming spec `name` (`window.spec` of the output). */
function namedResults(aggregator: Aggregator<FeedbackEvent, FeedbackAccumulator, FeedbackResult>, name: string): Aggregator<FeedbackEvent, FeedbackAccumulator, FeedbackResult> {
  return {
    ...aggregator,
    result: (acc) => {
      // Named fields, not a spread (see withKeyFields): this runs for every result.
      const { eventCount, metrics, keyFields, texts } = aggregator.result(acc);
      return texts === undefined ? { eventCount, metrics, keyFields, spec: name } : { eventCount, metrics, keyFields, texts, spec: name };
    },
  };
}

/**
 * How far (event time) ahead of its end a window is prepared: a tenth of its size (of a
 * sliding window's slide, of a session's gap), 1 s at most. Most of a window's records come
 * before it, and only windows that took fewer than one record per horizon are prepared.
 */
function prepareAheadMs(spec: WindowSpec): number {
  const period = spec.type === 'tumbling' ? spec.sizeMs : spec.type === 'sliding' ? spec.slideMs : spec.gapMs;
  return Math.min(period / 10, 1000);
}

/**
 * Where spec `spec` starts from `restored`: its own stored windows and watermark, or, for a
 * spec the stored state lacks (added to the job), no windows at the restored watermark.
 */
function initialSpecState(restored: PipelineSnapshot | undefined, spec: WindowSpec): WindowStateSnapshot<FeedbackAccumulator> | undefined {
  if (restored === undefined) return undefined;
  const stored = restored.specs.find((s) => s.spec === spec.name);
  if (stored !== undefined) return stored.state;
  const nextId = Math.max(0, ...restored.specs.map((s) => s.state.nextId ?? 0));
  return { watermark: restored.watermarks.watermark, windowType: spec.type, windows: [], nextId };
}

/**
 * The processor's pipeline as one operator, built from the configuration:
 * `assignWatermarks → <window assigner> → aggregate`, or with several window specs
 * `assignWatermarks → windowSet(<assigner> → aggregate, …)`, every spec's `aggregate`
 * taking identities from one `WindowIdentities` (so a changelog keys windows by identity
 * alone). A checkpoint holds every spec's windows under its name; a stored spec the
 * configuration no longer has is not restored (its stored windows go at the next checkpoint).
 */
export function feedbackPipeline(
  config: ProcessorConfig,
  hooks: FeedbackPipelineHooks = {},
): OperatorFunction<StreamElement<FeedbackEvent>, StreamElement<FeedbackWindowResult>> {
  const aggregator = withKeyFields<FeedbackEvent, MetricsAccumulator>(feedbackMetrics(config), config.event.key_fields);
  // A bounded input (a file) is read as fast as it can be: early results there would only make
  // its output depend on the machine's speed (and break the byte-exact resume of its output file).
  const early = config.emit.early_interval_secs > 0 && hooks.idleness !== false ? { earlyIntervalMs: config.emit.early_interval_secs * 1000 } : {};
  const specs = windowSpecs(config.windows);
  const prepareScheduler = hooks.prepareScheduler ?? (hooks.idleness === false ? undefined : immediateScheduler);
  const prepare = (spec: WindowSpec): Pick<AggregateOptions<FeedbackEvent, FeedbackAccumulator, FeedbackResult>, 'prepareAheadMs' | 'prepareScheduler'> =>
    prepareScheduler === undefined ? {} : { prepareAheadMs: prepareAheadMs(spec), prepareScheduler };
  return (source) =>
    defer(() => {
      // assignWatermarks sees each barrier before the specs' aggregates do: pair them up by id.
      const pendingWatermarks = new Map<number, WatermarkSnapshot>();
      const pendingSpecs = new Map<number, SpecSnapshot[]>();
      const onBarrier = hooks.onBarrier;
      // Quiet input moves the watermark with processing time: it is advanced when it reaches the
      // next window end of any spec.
      const states: SpecState[] = [];
      const identities = new WindowIdentities();
      const watermarks = assignWatermarks<FeedbackEvent>({
        maxOutOfOrdernessMs: config.watermark.max_out_of_orderness_secs * 1000,
        idleTimeoutMs: hooks.idleness === false ? undefined : config.watermark.idle_timeout_secs * 1000,
        scheduler: hooks.scheduler,
        assigned: hooks.assignedPartitions,
        caughtUp: hooks.caughtUp,
        onState: hooks.onWatermarkState,
        nextDue: () => Math.min(Infinity, ...states.map(({ state }) => state.nextTimer())),
        initialState: hooks.initialState?.watermarks,
        onBarrier: onBarrier && ((id, snapshot) => pendingWatermarks.set(id, snapshot)),
      });
      // A record whose aggregation throws in one spec throws in all: one dead letter for it.
      const failed = new WeakSet<FeedbackEvent>();
      const recordError =
        hooks.recordError &&
        (specs.length === 1
          ? hooks.recordError
          : (record: WindowedRecord<FeedbackEvent>, error: unknown): void => {
              if (failed.has(record.value)) return;
              failed.add(record.value);
              hooks.recordError?.(record, error);
            });
      const branch = (spec: WindowSpec, i: number, late: LateRecordObserver<FeedbackEvent> | undefined): OperatorFunction<StreamElement<FeedbackEvent>, StreamElement<FeedbackWindowResult>> => {
        const windowing = windowingOf<FeedbackEvent>(spec);
        return pipe(
          windowing.assign,
          aggregate<FeedbackEvent, FeedbackAccumulator, FeedbackResult>({
            aggregator: spec.named ? namedResults(aggregator, spec.name) : aggregator,
            allowedLatenessMs: windowing.allowedLatenessMs,
            late,
            onRecordError: recordError,
            onState: (state) => {
              states[i] = { spec, state };
              // Once every spec's state is in (whatever order the branches subscribe in).
              if (specs.every((_, j) => states[j] !== undefined)) {
                hooks.onWindowState?.(specsView(states.map((s) => ({ name: s.spec.name, view: s.state }))));
                hooks.onSpecStates?.(states);
              }
            },
            initialState: initialSpecState(hooks.initialState, spec),
            trackChanges: hooks.trackChanges,
            onAccumulate: hooks.onAccumulate,
            identities,
            ...early,
            scheduler: hooks.scheduler,
            ...prepare(spec),
            onBarrier:
              onBarrier &&
              ((id, state) => {
                let done = pendingSpecs.get(id);
                if (done === undefined) pendingSpecs.set(id, (done = []));
                done.push({ spec: spec.name, state });
                if (done.length < specs.length) return;
                pendingSpecs.delete(id);
                const watermarkSnapshot = pendingWatermarks.get(id);
                pendingWatermarks.delete(id);
                if (watermarkSnapshot !== undefined) onBarrier(id, { watermarks: watermarkSnapshot, specs: done });
              }),
          }),
        );
      };
      if (specs.length === 1) return source.pipe(watermarks, branch(specs[0]!, 0, hooks.late));
      return source.pipe(
        watermarks,
        windowSet<FeedbackEvent, FeedbackResult>({ late: hooks.late, branches: specs.map((spec, i) => (late) => branch(spec, i, late)) }),
      );
    });
}
