import { pipe, type ObservableInput, type OperatorFunction, type SchedulerLike } from 'rxjs';
import { aggregate, type AggregateState, type LateRecordObserver } from '../../operators/aggregate.js';
import { assignWatermarks, type WatermarkSnapshot } from '../../operators/assignWatermarks.js';
import type { WindowStateSnapshot } from '../../operators/internal/windowState.js';
import { metricsAggregator, type MetricsAccumulator, type MetricsAggregator, type MetricsResult } from '../aggregation/index.js';
import type { ProcessorConfig } from '../config/index.js';
import type { FeedbackEvent } from '../events/index.js';
import type { StreamElement, WindowedRecord, WindowResult } from '../stream/elements.js';
import { withKeyFields, type KeyFields, type KeyedAccumulator } from './keyed-aggregator.js';
import { windowingFromConfig } from './windowing.js';

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
 * `assignWatermarks → <window assigner> → aggregate`.
 */
export function feedbackPipeline(
  config: ProcessorConfig,
  hooks: FeedbackPipelineHooks = {},
): OperatorFunction<StreamElement<FeedbackEvent>, StreamElement<FeedbackWindowResult>> {
  const windowing = windowingFromConfig<FeedbackEvent>(config.windows);
  const aggregator = withKeyFields<FeedbackEvent, MetricsAccumulator, MetricsResult>(feedbackMetrics(config), config.event.key_fields);
  // assignWatermarks sees each barrier before aggregate does: pair them up by id.
  const pendingWatermarks = new Map<number, WatermarkSnapshot>();
  const onBarrier = hooks.onBarrier;
  return pipe(
    assignWatermarks<FeedbackEvent>({
      maxOutOfOrdernessMs: config.watermark.max_out_of_orderness_secs * 1000,
      idleTimeoutMs: hooks.idleness === false ? undefined : config.watermark.idle_timeout_secs * 1000,
      scheduler: hooks.scheduler,
      assigned: hooks.assignedPartitions,
      caughtUp: hooks.caughtUp,
      onState: hooks.onWatermarkState,
      initialState: hooks.initialState?.watermarks,
      onBarrier: onBarrier && ((id, snapshot) => pendingWatermarks.set(id, snapshot)),
    }),
    windowing.assign,
    aggregate<FeedbackEvent, FeedbackAccumulator, FeedbackResult>({
      aggregator,
      allowedLatenessMs: windowing.allowedLatenessMs,
      late: hooks.late,
      onRecordError: hooks.recordError,
      onState: hooks.onWindowState,
      initialState: hooks.initialState?.windows,
      trackChanges: hooks.trackChanges,
      onAccumulate: hooks.onAccumulate,
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
