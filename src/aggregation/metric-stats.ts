import { ByteReader, ByteWriter } from './binary.js';
import { bufferedDigestCodec } from './buffered-digest.js';
import type { QuantileSketch, SketchCodec } from './quantile-sketch.js';

/** Aggregation names as in the config's `aggregation.enabled`. */
export type AggregationKind = 'count' | 'sum' | 'average' | 'min' | 'max' | 'percentile' | 'stddev';

export const ALL_AGGREGATIONS: readonly AggregationKind[] = ['count', 'sum', 'average', 'min', 'max', 'percentile', 'stddev'];
export const DEFAULT_PERCENTILES: readonly number[] = [50, 95, 99];

/**
 * One metric's statistics for one window, in this key order: `count`, `sum`,
 * `avg`, `min`, `max`, `stddev`, then percentiles as `p50`, `p99.9`, … (only
 * the enabled ones). A plain record so it fits any `Record<string, number>`.
 */
export type MetricSummary = Readonly<Record<string, number>>;

export interface StatsOptions {
  /** Subset of ALL_AGGREGATIONS to report (default: all). */
  readonly enabled?: readonly AggregationKind[];
  /** Percentiles in [0, 100] (default 50, 95, 99). */
  readonly percentiles?: readonly number[];
  /** Quantile sketch implementation (default: exact-then-t-digest). */
  readonly sketch?: SketchCodec;
}

/**
 * Resolved options shared by every MetricStats of one aggregator, so each
 * accumulator carries one pointer instead of its own copy of the config.
 */
export class StatsSpec {
  readonly count: boolean;
  readonly sum: boolean;
  readonly avg: boolean;
  readonly min: boolean;
  readonly max: boolean;
  readonly stddev: boolean;
  /** Null when no percentile is reported: then no sketch is kept at all. */
  readonly sketch: SketchCodec | null;
  readonly percentileKeys: readonly `p${string}`[];
  readonly quantiles: readonly number[];

  constructor(options: StatsOptions = {}) {
    const enabled = new Set<string>(options.enabled ?? ALL_AGGREGATIONS);
    for (const kind of enabled) {
      if (!(ALL_AGGREGATIONS as readonly string[]).includes(kind)) {
        throw new RangeError(`unknown aggregation "${kind}", expected one of ${ALL_AGGREGATIONS.join(', ')}`);
      }
    }
    this.count = enabled.has('count');
    this.sum = enabled.has('sum');
    this.avg = enabled.has('average');
    this.min = enabled.has('min');
    this.max = enabled.has('max');
    this.stddev = enabled.has('stddev');
    const percentiles = enabled.has('percentile') ? (options.percentiles ?? DEFAULT_PERCENTILES) : [];
    this.percentileKeys = percentiles.map(percentileKey);
    this.quantiles = percentiles.map((p) => p / 100);
    this.sketch = percentiles.length > 0 ? (options.sketch ?? bufferedDigestCodec()) : null;
  }
}

/** Output key of a percentile: 50 → `p50`, 99.9 → `p99.9`. */
export function percentileKey(p: number): `p${string}` {
  if (!Number.isFinite(p) || p < 0 || p > 100) throw new RangeError(`percentile ${p} is not a number in [0, 100]`);
  return `p${String(p)}`;
}

const FORMAT_VERSION = 1;

/**
 * count, sum, avg, min, max, population stddev and percentiles of one numeric
 * metric. The variance uses Welford's online update and Chan et al.'s
 * pairwise formula for merges: the textbook sumSq/n − mean² loses every
 * significant digit when values are large and close together (timestamps,
 * latencies around 1e6 ms).
 */
export class MetricStats {
  count = 0;
  sum = 0;
  mean = 0;
  /** Sum of squared deviations from the mean. */
  m2 = 0;
  min = Infinity;
  max = -Infinity;
  private sketch: QuantileSketch | null;

  constructor(readonly spec: StatsSpec) {
    this.sketch = spec.sketch === null ? null : spec.sketch.create();
  }

  /** Adds one finite value (callers filter out null, NaN and ±Infinity). */
  add(x: number): void {
    const n = ++this.count;
    this.sum += x;
    const delta = x - this.mean;
    this.mean += delta / n;
    this.m2 += delta * (x - this.mean);
    if (x < this.min) this.min = x;
    if (x > this.max) this.max = x;
    if (this.sketch !== null) this.sketch.add(x);
  }

  /** Folds `other` (same spec) into this; `other` must not be used afterwards. */
  merge(other: MetricStats): void {
    if (other.count === 0) return;
    if (this.count === 0) {
      this.count = other.count;
      this.sum = other.sum;
      this.mean = other.mean;
      this.m2 = other.m2;
      this.min = other.min;
      this.max = other.max;
      this.sketch = other.sketch;
      return;
    }
    const a = this.count;
    const b = other.count;
    const n = a + b;
    const delta = other.mean - this.mean;
    this.mean += (delta * b) / n;
    this.m2 += other.m2 + ((delta * delta * a) / n) * b;
    this.count = n;
    this.sum += other.sum;
    if (other.min < this.min) this.min = other.min;
    if (other.max > this.max) this.max = other.max;
    if (this.sketch !== null && other.sketch !== null) this.sketch.merge(other.sketch);
  }

  /** The enabled statistics, in the output format's key order. Needs count > 0. */
  result(): MetricSummary {
    const spec = this.spec;
    const out: Record<string, number> = {};
    if (spec.count) out['count'] = this.count;
    if (spec.sum) out['sum'] = this.sum;
    if (spec.avg) out['avg'] = this.mean;
    if (spec.min) out['min'] = this.min;
    if (spec.max) out['max'] = this.max;
    // m2 can come out a hair below zero after cancellation in merges.
    if (spec.stddev) out['stddev'] = Math.sqrt(Math.max(0, this.m2) / this.count);
    const sketch = this.sketch;
    if (sketch !== null) {
      for (let i = 0; i < spec.quantiles.length; i++) {
        out[spec.percentileKeys[i] as string] = sketch.quantile(spec.quantiles[i] as number);
      }
    }
    return out;
  }

  serialise(): Uint8Array {
    const w = new ByteWriter()
      .u8(FORMAT_VERSION)
      .f64(this.count)
      .f64(this.sum)
      .f64(this.mean)
      .f64(this.m2)
      .f64(this.min)
      .f64(this.max)
      .u8(this.sketch === null ? 0 : 1);
    if (this.sketch !== null) w.blob(this.sketch.serialise());
    return w.finish();
  }

  static deserialise(spec: StatsSpec, bytes: Uint8Array): MetricStats {
    const r = new ByteReader(bytes);
    if (r.u8() !== FORMAT_VERSION) throw new RangeError('unknown metric stats format version');
    const stats = new MetricStats(spec);
    stats.count = r.f64();
    stats.sum = r.f64();
    stats.mean = r.f64();
    stats.m2 = r.f64();
    stats.min = r.f64();
    stats.max = r.f64();
    const hasSketch = r.u8() === 1;
    if (hasSketch !== (spec.sketch !== null)) {
      throw new RangeError('checkpoint was written with a different percentile configuration');
    }
    if (spec.sketch !== null) stats.sketch = spec.sketch.deserialise(r.blob());
    r.end();
    return stats;
  }
}
