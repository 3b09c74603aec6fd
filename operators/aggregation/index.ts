/** The aggregation engine: per-metric statistics, the quantile sketch behind them, the window aggregator. */
export { metricsAggregator } from './metrics-aggregator.js';
export type { MetricsAccumulator, MetricsAggregator, MetricsAggregatorOptions, MetricsInput, MetricsResult } from './metrics-aggregator.js';
export { ALL_AGGREGATIONS, DEFAULT_PERCENTILES, MetricStats, StatsSpec, percentileKey } from './metric-stats.js';
export type { AggregationKind, MetricSummary, StatsOptions } from './metric-stats.js';
export { sortedQuantile } from './quantile-sketch.js';
export type { QuantileSketch, SketchCodec } from './quantile-sketch.js';
export { BufferedDigest, DEFAULT_DIGEST_OPTIONS, bufferedDigestCodec } from './buffered-digest.js';
export type { BufferedDigestOptions } from './buffered-digest.js';
