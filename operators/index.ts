/** The public RxJS operators. Each is usable on its own in any RxJS pipeline. */
export { assignWatermarks, type AssignWatermarksOptions } from './assignWatermarks.js';
export { tumblingWindow, type TumblingWindowOptions } from './tumblingWindow.js';
export { slidingWindow, type SlidingWindowOptions } from './slidingWindow.js';
export { sessionWindow, type SessionWindowOptions } from './sessionWindow.js';
export { aggregate, type AggregateOptions, type AggregateState, type LateRecordObserver } from './aggregate.js';
export type { KeySelector } from './internal/assignWindows.js';
export type { WindowCursor, WindowPage, WindowPageQuery, WindowSnapshot, WindowStateSnapshot } from './internal/windowState.js';
export * from '../src/stream/elements.js';
export type { Aggregator } from '../src/stream/aggregator.js';
