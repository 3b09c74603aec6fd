/**
 * The public RxJS operators, each usable on its own in any RxJS pipeline, and the pure
 * pieces that go with them: the stream model's element helpers, the metrics aggregator,
 * the checkpoint codecs. Nothing here loads I/O, a Kafka client, metrics or logging
 * (test/packaging checks the installed package's import graph).
 */
export { assignWatermarks, type AssignWatermarksOptions, type WatermarkSnapshot } from './assignWatermarks.js';
export { tumblingWindow, type TumblingWindowOptions } from './tumblingWindow.js';
export { slidingWindow, type SlidingWindowOptions } from './slidingWindow.js';
export { sessionWindow, type SessionWindowOptions } from './sessionWindow.js';
export { windowSet, type WindowBranch, type WindowSetOptions } from './windowSet.js';
export { aggregate, type AggregateOptions, type AggregateState, type AggregateView, type LateRecordObserver } from './aggregate.js';
export { checkpoint, type CheckpointOptions } from './checkpoint.js';
export { results } from './results.js';
export type { KeySelector } from './internal/assignWindows.js';
export type { WindowChanges, WindowCursor, WindowPage, WindowPageQuery, WindowSnapshot, WindowStateSnapshot } from './internal/windowState.js';
export * from './stream/elements.js';
export type { Aggregator } from './stream/aggregator.js';
export { metricsAggregator } from './aggregation/metrics-aggregator.js';
export type { MetricsAccumulator, MetricsAggregator, MetricsAggregatorOptions, MetricsInput, MetricsResult, MetricValues } from './aggregation/metrics-aggregator.js';
export type { AggregationKind, MetricStats, MetricSummary, StatsOptions, StatsSpec } from './aggregation/metric-stats.js';
export type { QuantileSketch, SketchCodec } from './aggregation/quantile-sketch.js';
export { ByteReader, ByteWriter } from './aggregation/binary.js';
export {
  decodeWatermarkState,
  decodeWindowState,
  encodeWatermarkState,
  encodeWindowState,
  jsonAccumulatorCodec,
  type AccumulatorCodec,
} from './checkpoint/window-state-codec.js';
