import { pipe, type ObservableInput, type OperatorFunction, type SchedulerLike } from 'rxjs';
import { aggregate, type AggregateState, assignWatermarks, type LateRecordObserver, type MetricsAccumulator, metricsAggregator, type MetricsAggregator, type MetricsResult, type StreamElement, type WatermarkSnapshot, type WindowedRecord, type WindowResult, windowSet, type WindowStateSnapshot } from '@llm-feedback/stream-operators';
import type { ProcessorConfig } from '../config/index.js';
import type { FeedbackEvent } from '../events/index.js';
import { withKeyFields, type KeyFields, type KeyedAccumulator } from './keyed-aggregator.js';
import { windowTypes } from '../config/types.js';
import { windowingOf } from './windowing.js';

export type FeedbackAccumulator = KeyedAccumulator<MetricsAccumulator>;
export type FeedbackResult = MetricsResult & { readonly keyFields: KeyFields };
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
  onWindowState?: (state: AggregateState<FeedbackAccumulator, FeedbackResult>) => void;
  onBarrier?: (barrierId: number, snapshot: PipelineSnapshot) => void;
  initialState?: PipelineSnapshot;
  /** Record window changes for incremental checkpoints (`AggregateState.takeChanges`). */
  trackChanges?: boolean;
  /** Each event a window accumulated, with the window's identity (see `aggregate`'s `onAccumulate`). */
  onAccumulate?: (windowId: number, event: FeedbackEvent) => void;
  /** A view of the watermark state, for checkpoints cut outside the stream. */
  onWatermarkState?: (state: { snapshot(): WatermarkSnapshot }) => void;
}

/** The pipeline's whole state at one barrier. */
export interface PipelineSnapshot {
  readonly watermarks: WatermarkSnapshot;
  readonly windows: WindowStateSnapshot<FeedbackAccumulator>;
}

/** The metrics aggregator the configuration asks for (also what decodes its checkpoints). */
export const feedbackMetrics = (config: ProcessorConfig): MetricsAggregator<FeedbackEvent> =>
  metricsAggregator<FeedbackEvent>({
    metricFields: config.event.metric_fields,
    percentiles: config.aggregation.percentiles,
    enabled: config.aggregation.enabled,
  });

/**
 * The processor's pipeline as one operator, built from the configuration:
 * `assignWatermarks → <window assigner> → aggregate`, or with several `windows.types`
 * `assignWatermarks → windowSet(<assigner> → aggregate, …)` (no checkpoints then: the
 * configuration allows several types only where none are taken).
 */
export function feedbackPipeline(
  config: ProcessorConfig,
  hooks: FeedbackPipelineHooks = {},
): OperatorFunction<StreamElement<FeedbackEvent>, StreamElement<FeedbackWindowResult>> {
  const aggregator = withKeyFields<FeedbackEvent, MetricsAccumulator, MetricsResult>(feedbackMetrics(config), config.event.key_fields);
  // A bounded input (a file) is read as fast as it can be: early results there would only make
  // its output depend on the machine's speed (and break the byte-exact resume of its output file).
  const early = config.emit.early_interval_secs > 0 && hooks.idleness !== false ? { earlyIntervalMs: config.emit.early_interval_secs * 1000 } : {};
  const types = windowTypes(config.windows);
  // assignWatermarks sees each barrier before aggregate does: pair them up by id.
  const pendingWatermarks = new Map<number, WatermarkSnapshot>();
  const onBarrier = hooks.onBarrier;
  // Quiet input moves the watermark with processing time: it is advanced when it reaches the
  // next window end of any window type (each type's window state, by branch index).
  const windowStates: AggregateState<FeedbackAccumulator, FeedbackResult>[] = [];
  const watermarks = assignWatermarks<FeedbackEvent>({
    maxOutOfOrdernessMs: config.watermark.max_out_of_orderness_secs * 1000,
    idleTimeoutMs: hooks.idleness === false ? undefined : config.watermark.idle_timeout_secs * 1000,
    scheduler: hooks.scheduler,
    assigned: hooks.assignedPartitions,
    caughtUp: hooks.caughtUp,
    onState: hooks.onWatermarkState,
    nextDue: () => Math.min(Infinity, ...windowStates.map((state) => state.nextTimer())),
    initialState: hooks.initialState?.watermarks,
    onBarrier: onBarrier && ((id, snapshot) => pendingWatermarks.set(id, snapshot)),
  });
  if (types.length > 1) {
    if (onBarrier !== undefined || hooks.initialState !== undefined || hooks.trackChanges === true) {
      throw new Error(`windows.types ${types.join(', ')}: several window types cannot be checkpointed (one window state per checkpoint)`);
    }
    // A record whose aggregation throws in one branch throws in all: one dead letter for it.
    const failed = new WeakSet<FeedbackEvent>();
    const recordError = hooks.recordError && ((record: WindowedRecord<FeedbackEvent>, error: unknown): void => {
      if (failed.has(record.value)) return;
      failed.add(record.value);
      hooks.recordError?.(record, error);
    });
    return pipe(
      watermarks,
      windowSet<FeedbackEvent, FeedbackResult>({
        late: hooks.late,
        branches: types.map((type, i) => (late) => {
          const windowing = windowingOf<FeedbackEvent>(config.windows, type);
          return pipe(
            windowing.assign,
            aggregate<FeedbackEvent, FeedbackAccumulator, FeedbackResult>({
              aggregator,
              allowedLatenessMs: windowing.allowedLatenessMs,
              late,
              onRecordError: recordError,
              // Queries and the open-windows gauge see the first type's windows.
              onState: (state) => {
                windowStates[i] = state;
                if (i === 0) hooks.onWindowState?.(state);
              },
              ...early,
              scheduler: hooks.scheduler,
            }),
          );
        }),
      }),
    );
  }
  const windowing = windowingOf<FeedbackEvent>(config.windows, types[0] ?? config.windows.default_type);
  return pipe(
    watermarks,
    windowing.assign,
    aggregate<FeedbackEvent, FeedbackAccumulator, FeedbackResult>({
      aggregator,
      allowedLatenessMs: windowing.allowedLatenessMs,
      late: hooks.late,
      onRecordError: hooks.recordError,
      onState: (state) => {
        windowStates[0] = state;
        hooks.onWindowState?.(state);
      },
      initialState: hooks.initialState?.windows,
      trackChanges: hooks.trackChanges,
      onAccumulate: hooks.onAccumulate,
      ...early,
      scheduler: hooks.scheduler,
      onBarrier:
        onBarrier &&
        ((id, windows) => {
          const watermarks = pendingWatermarks.get(id);
          pendingWatermarks.delete(id);
          if (watermarks !== undefined) onBarrier(id, { watermarks, windows });
        }),
    }),
  );
}
