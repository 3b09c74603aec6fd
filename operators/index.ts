/**
 * `@llm-feedback/stream-operators`: the public RxJS operators, each usable on its own in
 * any RxJS pipeline, and the pure pieces that go with them: the stream model's element
 * helpers, field access for names from user data, the aggregation engine (metrics
 * aggregator, statistics, quantile sketch), the checkpoint codecs. Its only dependency is
 * the peer rxjs: no I/O, Kafka client, metrics or logging (test/packaging installs it
 * alone and checks what it brings).
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
export type { WindowChangeKind, WindowChanges, WindowCursor, WindowPage, WindowPageQuery, WindowSnapshot, WindowStateSnapshot } from './internal/windowState.js';
export { WindowIdentities } from './internal/windowState.js';
export * from './stream/elements.js';
export type { Aggregator } from './stream/aggregator.js';
export { ownField, setField } from './stream/fields.js';
export * from './aggregation/index.js';
export type { MetricValues } from './aggregation/metrics-aggregator.js';
export { ByteReader, ByteWriter } from './aggregation/binary.js';
export {
  decodeWatermarkState,
  decodeWindowState,
  encodeWatermarkState,
  encodeWindowState,
  jsonAccumulatorCodec,
  readWindowSnapshot,
  writeWindowSnapshot,
  type AccumulatorCodec,
} from './checkpoint/window-state-codec.js';
