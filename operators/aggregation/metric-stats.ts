import { ByteReader, ByteWriter } from './binary.js';
import { bufferedDigestCodec } from './buffered-digest.js';
import { sortedQuantile, type QuantileSketch, type SketchCodec } from './quantile-sketch.js';

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
  /** Indices into `quantiles`, ascending by quantile: exact answers are selected in this order. */
  readonly quantileOrder: readonly number[];
  /** How many raw values a MetricStats keeps itself before it needs a sketch (0: none). */
  readonly exactLimit: number;

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
    this.quantileOrder = this.quantiles.map((_, i) => i).sort((a, b) => this.quantiles[a]! - this.quantiles[b]!);
    this.sketch = percentiles.length > 0 ? (options.sketch ?? bufferedDigestCodec()) : null;
    this.exactLimit = this.sketch?.exactLimit ?? 0;
  }
}

/** Output key of a percentile: 50 → `p50`, 99.9 → `p99.9`. */
export function percentileKey(p: number): `p${string}` {
  if (!Number.isFinite(p) || p < 0 || p > 100) throw new RangeError(`percentile ${p} is not a number in [0, 100]`);
  return `p${String(p)}`;
}

const FORMAT_VERSION = 2;
/** Serialised phases: raw values (exact), or running statistics and a sketch. */
const EXACT = 0;
const RUNNING = 1;

/** The running statistics of one MetricStats. */
interface Moments {
  count: number;
  sum: number;
  mean: number;
  m2: number;
  min: number;
  max: number;
}

// Module-level scratch: results are read at once and never retained, and the
// engine is single-threaded, so reusing them keeps window close allocation-free.
const moments: Moments = { count: 0, sum: 0, mean: 0, m2: 0, min: Infinity, max: -Infinity };
let sortScratch = new Float64Array(256);
let answers = new Float64Array(8);

/**
 * count, sum, avg, min, max, population stddev and percentiles of one numeric
 * metric. The variance uses Welford's online update and Chan et al.'s
 * pairwise formula for merges: the textbook sumSq/n − mean² loses every
 * significant digit when values are large and close together (timestamps,
 * latencies around 1e6 ms).
 *
 * With percentiles on and a sketch codec that is exact up to a limit, a
 * MetricStats is one object holding a plain array of its values up to that
 * limit: `add` is a push, and the statistics are folded (same Welford steps,
 * same order, so bit-identical) and percentiles selected only when asked for.
 * Most windows never pass the limit, so they never create a sketch and never
 * touch the running statistics per value: fewer objects per window and one
 * memory location written per value, which is what the engine is bound by
 * with thousands of windows open. Past the limit the values move into a
 * sketch and the running statistics take over.
 */
export class MetricStats {
  // Running statistics: cover every value once `values` is null, none before.
  private runCount = 0;
  private runSum = 0;
  private runMean = 0;
  /** Sum of squared deviations from the mean. */
  private runM2 = 0;
  private runMin = Infinity;
  private runMax = -Infinity;
  /** Every value, in arrival order, while at most `spec.exactLimit`; then null. */
  private values: number[] | null;
  private sketch: QuantileSketch | null;
  /**
   * After `precompute`: the first `sorted.length` of `values`, ascending. Values added since
   * follow them in `values`; `result` inserts those into a copy. Never checkpointed.
   */
  private sorted: Float64Array | null = null;

  constructor(readonly spec: StatsSpec) {
    this.values = spec.exactLimit > 0 ? [] : null;
    this.sketch = spec.exactLimit > 0 || spec.sketch === null ? null : spec.sketch.create();
  }

  get count(): number {
    return this.values !== null ? this.values.length : this.runCount;
  }

  get sum(): number {
    return this.moments().sum;
  }

  get mean(): number {
    return this.moments().mean;
  }

  /** Sum of squared deviations from the mean. */
  get m2(): number {
    return this.moments().m2;
  }

  get min(): number {
    return this.moments().min;
  }

  get max(): number {
    return this.moments().max;
  }

  /** Adds one finite value (callers filter out null, NaN and ±Infinity). */
  add(x: number): void {
    const values = this.values;
    if (values !== null) {
      if (values.length < this.spec.exactLimit) {
        values.push(x);
        return;
      }
      this.spill();
    }
    this.fold(x);
    if (this.sketch !== null) this.sketch.add(x);
  }

  private fold(x: number): void {
    const n = ++this.runCount;
    this.runSum += x;
    const delta = x - this.runMean;
    this.runMean += delta / n;
    this.runM2 += delta * (x - this.runMean);
    if (x < this.runMin) this.runMin = x;
    if (x > this.runMax) this.runMax = x;
  }

  /**
   * Sorts the values taken so far, for a window about to fire that still takes records
   * (`Aggregator.precompute`): its percentiles are then read off a copy of them with the
   * few values that came since inserted, instead of being selected from all the values,
   * which is most of what firing a window of tens of values costs. Only in the exact phase,
   * with percentiles, from PRECOMPUTE_MIN values on. Results are the same order statistics
   * either way (a −0 and a 0 among the values may trade places, as in a selection; JSON
   * writes both as 0).
   */
  precompute(): void {
    const values = this.values;
    if (values === null || this.spec.quantiles.length === 0 || values.length < PRECOMPUTE_MIN) return;
    this.sorted = Float64Array.from(values).sort();
  }

  /** Leaves the exact phase: the buffered values go into the running statistics and a new sketch. */
  private spill(): void {
    const values = this.values;
    if (values === null) return;
    this.values = null;
    this.sorted = null;
    const sketch = this.spec.sketch!.create();
    for (let i = 0; i < values.length; i++) {
      const x = values[i] as number;
      this.fold(x);
      sketch.add(x);
    }
    this.sketch = sketch;
  }

  /** The statistics of every value so far, in the shared scratch object. */
  private moments(): Moments {
    const m = moments;
    const values = this.values;
    if (values === null) {
      m.count = this.runCount;
      m.sum = this.runSum;
      m.mean = this.runMean;
      m.m2 = this.runM2;
      m.min = this.runMin;
      m.max = this.runMax;
      return m;
    }
    // The same steps as fold(), in arrival order: the figures do not depend on
    // whether the values were buffered or folded one by one.
    let sum = 0;
    let mean = 0;
    let m2 = 0;
    let min = Infinity;
    let max = -Infinity;
    for (let i = 0; i < values.length; i++) {
      const x = values[i] as number;
      sum += x;
      const delta = x - mean;
      mean += delta / (i + 1);
      m2 += delta * (x - mean);
      if (x < min) min = x;
      if (x > max) max = x;
    }
    m.count = values.length;
    m.sum = sum;
    m.mean = mean;
    m.m2 = m2;
    m.min = min;
    m.max = max;
    return m;
  }

  /** Folds `other` (same spec) into this; `other` must not be used afterwards. */
  merge(other: MetricStats): void {
    if (other.count === 0) return;
    if (this.count === 0) {
      this.runCount = other.runCount;
      this.runSum = other.runSum;
      this.runMean = other.runMean;
      this.runM2 = other.runM2;
      this.runMin = other.runMin;
      this.runMax = other.runMax;
      this.values = other.values;
      this.sketch = other.sketch;
      this.sorted = other.sorted;
      return;
    }
    const mine = this.values;
    const theirs = other.values;
    if (mine !== null && theirs !== null && mine.length + theirs.length <= this.spec.exactLimit) {
      for (let i = 0; i < theirs.length; i++) mine.push(theirs[i] as number);
      return;
    }
    this.spill();
    other.spill();
    const a = this.runCount;
    const b = other.runCount;
    const n = a + b;
    const delta = other.runMean - this.runMean;
    this.runMean += (delta * b) / n;
    this.runM2 += other.runM2 + ((delta * delta * a) / n) * b;
    this.runCount = n;
    this.runSum += other.runSum;
    if (other.runMin < this.runMin) this.runMin = other.runMin;
    if (other.runMax > this.runMax) this.runMax = other.runMax;
    if (this.sketch !== null && other.sketch !== null) this.sketch.merge(other.sketch);
  }

  /** The enabled statistics, in the output format's key order. Needs count > 0. */
  result(): MetricSummary {
    const spec = this.spec;
    const m = this.moments();
    const out: Record<string, number> = {};
    if (spec.count) out['count'] = m.count;
    if (spec.sum) out['sum'] = m.sum;
    if (spec.avg) out['avg'] = m.mean;
    if (spec.min) out['min'] = m.min;
    if (spec.max) out['max'] = m.max;
    // m2 can come out a hair below zero after cancellation in merges.
    if (spec.stddev) out['stddev'] = Math.sqrt(Math.max(0, m.m2) / m.count);
    const values = this.values;
    if (values !== null && spec.quantiles.length > 0) {
      // On a copy (the buffer keeps arrival order, so later adds fold exactly as
      // they would have). Up to SORT_LIMIT values an insertion sort, then each
      // quantile is two reads; beyond, quickselect, lowest quantile first, each
      // search starting at the previous rank: a few partial partitions instead of
      // a full sort (half the cost at 60 values; comparison sorts are bound by
      // branch mispredictions). After `precompute`, the sorted values with the later
      // ones inserted. All give the same order statistics.
      const n = values.length;
      if (sortScratch.length < n) sortScratch = new Float64Array(Math.max(n, 2 * sortScratch.length));
      if (answers.length < spec.quantiles.length) answers = new Float64Array(spec.quantiles.length);
      const a = sortScratch;
      const sorted = this.sorted;
      if (sorted !== null && n - sorted.length <= PRECOMPUTED_INSERTS) {
        // The values precomputed, with the ones that came since inserted: all sorted.
        a.set(sorted);
        for (let i = sorted.length; i < n; i++) insertSorted(a, i, values[i] as number);
        for (let k = 0; k < spec.quantiles.length; k++) answers[k] = sortedQuantile(a, n, spec.quantiles[k] as number);
      } else if (n <= SORT_LIMIT) {
        for (let i = 0; i < n; i++) a[i] = values[i] as number;
        insertionSort(a, n);
        for (let k = 0; k < spec.quantiles.length; k++) answers[k] = sortedQuantile(a, n, spec.quantiles[k] as number);
      } else {
        for (let i = 0; i < n; i++) a[i] = values[i] as number;
        let from = 0;
        for (const k of spec.quantileOrder) {
          // numpy 'linear', as sortedQuantile computes it.
          const h = (n - 1) * (spec.quantiles[k] as number);
          const lo = Math.floor(h);
          select(a, from, n - 1, lo);
          const below = a[lo] as number;
          let above = below;
          if (Math.ceil(h) !== lo) {
            above = a[lo + 1] as number;
            for (let i = lo + 2; i < n; i++) if ((a[i] as number) < above) above = a[i] as number;
          }
          answers[k] = below === above ? below : below + (h - lo) * (above - below);
          from = lo;
        }
      }
      for (let i = 0; i < spec.quantiles.length; i++) out[spec.percentileKeys[i] as string] = answers[i] as number;
    } else if (this.sketch !== null) {
      for (let i = 0; i < spec.quantiles.length; i++) {
        out[spec.percentileKeys[i] as string] = this.sketch.quantile(spec.quantiles[i] as number);
      }
    }
    return out;
  }

  serialise(): Uint8Array {
    const w = new ByteWriter();
    MetricStats.writeFormat(this.spec, w);
    this.serialiseInto(w);
    return w.finish();
  }

  static deserialise(spec: StatsSpec, bytes: Uint8Array): MetricStats {
    const r = new ByteReader(bytes);
    MetricStats.readFormat(spec, r);
    const stats = MetricStats.deserialiseFrom(spec, r);
    r.end();
    return stats;
  }

  /** The versions of the layouts `serialiseInto` writes: once per blob, however many stats it holds. */
  static writeFormat(spec: StatsSpec, w: ByteWriter): void {
    w.u8(FORMAT_VERSION).u8(spec.sketch?.formatVersion ?? 0);
  }

  static readFormat(spec: StatsSpec, r: ByteReader): void {
    if (r.u8() !== FORMAT_VERSION) throw new RangeError('unknown metric stats format version');
    const sketchVersion = r.u8();
    // 0: written without a sketch, so every stats blob of the checkpoint has none.
    if ((sketchVersion === 0) !== (spec.sketch === null)) throw new RangeError('checkpoint was written with a different percentile configuration');
    if (spec.sketch !== null && sketchVersion !== spec.sketch.formatVersion) throw new RangeError('unknown quantile sketch format version');
  }

  /**
   * Exact phase: just the values, in arrival order (the statistics are folded
   * from them on demand, so they come back bit-identical). Past it: the
   * running statistics and the sketch.
   */
  serialiseInto(w: ByteWriter): void {
    const values = this.values;
    if (values !== null) {
      w.u8(EXACT).numbers(values, 0, values.length);
      return;
    }
    w.u8(RUNNING).f64(this.runCount).f64(this.runSum).f64(this.runMean).f64(this.runM2).f64(this.runMin).f64(this.runMax);
    // A sketch exists exactly when the spec has a codec (readFormat checked that).
    this.sketch?.serialiseInto(w);
  }

  /** Restores exact-phase values as the same plain array, so the restored stats stay on the fast path. */
  static deserialiseFrom(spec: StatsSpec, r: ByteReader): MetricStats {
    const stats = new MetricStats(spec);
    const mode = r.u8();
    if (mode === EXACT) {
      const values = r.numbers();
      if (values.length > spec.exactLimit) throw new RangeError('checkpoint was written with a different percentile configuration');
      stats.values = values;
      return stats;
    }
    if (mode !== RUNNING) throw new RangeError('corrupt metric stats: unknown mode');
    stats.values = null;
    stats.runCount = r.f64();
    stats.runSum = r.f64();
    stats.runMean = r.f64();
    stats.runM2 = r.f64();
    stats.runMin = r.f64();
    stats.runMax = r.f64();
    stats.sketch = spec.sketch === null ? null : spec.sketch.deserialiseFrom(r);
    return stats;
  }
}

/**
 * Up to this many values an insertion sort of the copy beats quickselect for three
 * quantiles: 162 vs 235 ns per metric at 1–9 values, 1.4 vs 1.8 µs at 30–34 (a window
 * end finalises thousands of small windows, bench/firing.ts).
 */
const SORT_LIMIT = 32;

/** A `precompute`d MetricStats needs this many values to be worth sorting ahead. */
const PRECOMPUTE_MIN = 8;
/**
 * Past this many values added since `precompute`, `result` selects its percentiles as if
 * nothing was precomputed: inserting each into the sorted copy moves half of it.
 */
const PRECOMPUTED_INSERTS = 16;

/** Sorts a[0..n) ascending (values are finite, as `select` assumes). */
function insertionSort(a: Float64Array, n: number): void {
  for (let i = 1; i < n; i++) insertSorted(a, i, a[i] as number);
}

/** Puts `x` into the ascending a[0..n), making a[0..n] ascending. */
function insertSorted(a: Float64Array, n: number, x: number): void {
  let j = n - 1;
  while (j >= 0 && (a[j] as number) > x) {
    a[j + 1] = a[j] as number;
    j--;
  }
  a[j + 1] = x;
}

/**
 * Rearranges a[lo..hi] so that a[k] holds the value of rank k, with no larger
 * value before it and no smaller one after (Hoare's quickselect, median-of-3
 * pivot). The values are finite (add's contract), so `<` is a total order.
 */
function select(a: Float64Array, lo: number, hi: number, k: number): void {
  while (lo < hi) {
    const x = a[lo] as number;
    const y = a[(lo + hi) >>> 1] as number;
    const z = a[hi] as number;
    const pivot = x < y ? (y < z ? y : x < z ? z : x) : x < z ? x : y < z ? z : y;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while ((a[i] as number) < pivot) i++;
      while ((a[j] as number) > pivot) j--;
      if (i <= j) {
        const t = a[i] as number;
        a[i++] = a[j] as number;
        a[j--] = t;
      }
    }
    // a[lo..j] ≤ pivot ≤ a[i..hi], and anything between j and i equals the pivot.
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return;
  }
}
