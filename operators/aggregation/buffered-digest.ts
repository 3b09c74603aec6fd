import { ByteReader, ByteWriter } from './binary.js';
import { sortedQuantile, type QuantileSketch, type SketchCodec } from './quantile-sketch.js';

/**
 * Exact-then-t-digest quantile sketch.
 *
 * Why this shape (bench/sketches.ts has the figures): most windows hold few
 * values, so a sketch starts as a plain JS array of raw values (exact
 * percentiles, `add` is one push). Plain arrays, not Float64Arrays: V8 keeps
 * their doubles on the JS heap (PACKED_DOUBLE_ELEMENTS), where allocating and
 * growing is a pointer bump and dead buffers die in the young generation,
 * whereas every Float64Array above 64 bytes has an off-heap backing store
 * (malloc, ~190 bytes of bookkeeping, swept by the full GC). With 4 metrics
 * × 1,000 windows per minute each growing its buffer, the typed arrays made
 * the GC the dominant cost of the engine.
 *
 * Once it holds more than `exactLimit` values it becomes a merging t-digest
 * (Dunning's MergingDigest, k1 scale): sorted centroids followed by a buffer
 * of raw values that is merged into the centroids whenever it fills up. That
 * part is long-lived and fixed-size, so it lives in ONE Float64Array:
 *
 *   [min, max, mean₀, weight₀, mean₁, weight₁, …, raw₀, raw₁, …, free…]
 *
 * Deterministic: no randomness, ties are resolved by position.
 */

const MIN = 0;
const MAX = 1;
const HEADER = 2;
/** Version of the serialised layout; `bufferedDigestCodec().formatVersion`. */
const FORMAT_VERSION = 2;
/** Serialised modes: every value held exactly, or a digest. */
const EXACT = 0;
const DIGEST = 1;

export interface BufferedDigestOptions {
  /** t-digest compression δ: about δ/2 centroids, rank error falls as δ grows. */
  readonly compression?: number;
  /** Percentiles stay exact up to this many values. */
  readonly exactLimit?: number;
  /** Raw slots kept after the centroids once in digest mode (amortises merges). */
  readonly bufferSize?: number;
}

/** Defaults chosen by bench/sketches.ts (see the report in the commit history). */
export const DEFAULT_DIGEST_OPTIONS: Required<BufferedDigestOptions> = {
  compression: 150,
  exactLimit: 256,
  bufferSize: 64,
};

// Module-level scratch space for sorting and compression: the hot path is
// synchronous and single-threaded, so sharing it avoids allocating per call.
let scratchA: Float64Array = new Float64Array(1024);
let scratchB: Float64Array = new Float64Array(1024);
let scratchC: Float64Array = new Float64Array(1024);

function ensure(a: Float64Array, n: number): Float64Array {
  return a.length >= n ? a : new Float64Array(Math.max(n, a.length * 2));
}

/**
 * The last digest `quantile` answered with its buffer merged in (see `settle`): a result asks
 * for several percentiles in a row, and they share one merge. Keyed by the sketch and its
 * count and fill, which every `add` and merge changes.
 */
let settled: Float64Array = new Float64Array(1024);
let settledCentroids = 0;
let settledOf: BufferedDigest | undefined;
let settledTotal = -1;
let settledUsed = -1;

/** Placeholder digest storage while exact, so `data` never needs a null check. */
const NO_DATA = new Float64Array(0);

export class BufferedDigest implements QuantileSketch {
  /** Every value while exact; null once a digest. */
  private values: number[] | null = [];
  /** Digest storage (layout above); NO_DATA while exact. */
  private data: Float64Array = NO_DATA;
  /** Number of (mean, weight) centroid pairs in `data`. */
  private centroids = 0;
  /** Index of the first free slot of `data`. */
  private used = HEADER;
  private total = 0;

  constructor(private readonly params: Required<BufferedDigestOptions>) {}

  get count(): number {
    return this.total;
  }

  /** True while every value is held exactly. */
  get exact(): boolean {
    return this.values !== null;
  }

  add(value: number): void {
    const values = this.values;
    if (values !== null && values.length < this.params.exactLimit) {
      values.push(value);
      this.total++;
    } else {
      this.addToDigest(value);
    }
  }

  private addToDigest(value: number): void {
    if (this.values !== null) this.compress(null);
    else if (this.used === this.data.length) this.compress(null);
    const d = this.data;
    d[this.used++] = value;
    this.total++;
    if (value < (d[MIN] as number)) d[MIN] = value;
    if (value > (d[MAX] as number)) d[MAX] = value;
  }

  merge(other: QuantileSketch): void {
    if (!(other instanceof BufferedDigest)) throw new TypeError('can only merge sketches of the same kind');
    if (other.total === 0) return;
    const mine = this.values;
    const theirs = other.values;
    if (mine !== null && theirs !== null && this.total + other.total <= this.params.exactLimit) {
      for (let i = 0; i < theirs.length; i++) mine.push(theirs[i] as number);
      this.total += other.total;
      return;
    }
    this.compress(other);
    this.total += other.total;
  }

  /**
   * Merges centroids and raw values (this sketch's, plus `other`'s) into new
   * centroids with the k1 scale, leaving a raw buffer after them. An exact
   * sketch becomes a digest here.
   */
  private compress(other: BufferedDigest | null): void {
    let items = this.sortedPairs(true);
    let total = this.total;
    let min = scratchA[0] as number;
    let max = scratchA[2 * items - 2] as number;
    if (this.values === null) {
      min = this.data[MIN] as number;
      max = this.data[MAX] as number;
    }
    if (other !== null) {
      const theirs = other.sortedPairs(false);
      const otherMin = other.values === null ? (other.data[MIN] as number) : (scratchB[0] as number);
      const otherMax = other.values === null ? (other.data[MAX] as number) : (scratchB[2 * theirs - 2] as number);
      if (items === 0 || otherMin < min) min = otherMin;
      if (items === 0 || otherMax > max) max = otherMax;
      scratchC = ensure(scratchC, 2 * (items + theirs));
      mergePairs(scratchA, items, scratchB, theirs, scratchC);
      [scratchA, scratchC] = [scratchC, scratchA];
      items += theirs;
      total += other.total;
    }
    scratchB = ensure(scratchB, 2 * items);
    const centroids = kOneMerge(scratchA, items, total, this.params.compression, scratchB);
    this.values = null;
    this.centroids = centroids;
    this.used = HEADER + 2 * centroids;
    const wanted = this.used + this.params.bufferSize;
    // Reallocate only when the size is off by more than a buffer, so a
    // digest costs about what it holds without resizing on every merge.
    if (this.data.length < wanted || this.data.length > wanted + this.params.bufferSize) this.data = new Float64Array(wanted);
    this.data[MIN] = min;
    this.data[MAX] = max;
    this.data.set(scratchB.subarray(0, 2 * centroids), HEADER);
  }

  /**
   * Writes this sketch's content as sorted (mean, weight) pairs into scratch A
   * (or B) and returns the pair count. Sorting the raw values in place is
   * harmless: they are a multiset.
   */
  private sortedPairs(intoA: boolean): number {
    if (this.values !== null) {
      const raw = sortExact(this.values);
      const n = this.values.length;
      const out = intoA ? (scratchA = ensure(scratchA, 2 * n)) : (scratchB = ensure(scratchB, 2 * n));
      for (let i = 0; i < n; i++) {
        out[2 * i] = raw[i] as number;
        out[2 * i + 1] = 1;
      }
      return n;
    }
    const d = this.data;
    const cEnd = HEADER + 2 * this.centroids;
    const raw = d.subarray(cEnd, this.used).sort();
    const items = this.centroids + raw.length;
    const out = intoA ? (scratchA = ensure(scratchA, 2 * items)) : (scratchB = ensure(scratchB, 2 * items));
    let ci = HEADER;
    let ri = 0;
    let o = 0;
    while (ci < cEnd || ri < raw.length) {
      if (ri >= raw.length || (ci < cEnd && (d[ci] as number) <= (raw[ri] as number))) {
        out[o++] = d[ci] as number;
        out[o++] = d[ci + 1] as number;
        ci += 2;
      } else {
        out[o++] = raw[ri++] as number;
        out[o++] = 1;
      }
    }
    return items;
  }

  quantile(q: number): number {
    if (this.total === 0) return NaN;
    const values = this.values;
    if (values !== null) {
      // Results ask for several percentiles in a row: a linear check spares
      // the later sorts without adding a "dirty" store to every add.
      if (!isSorted(values)) sortExact(values);
      return sortedQuantile(values, values.length, q);
    }
    if (this.used === HEADER + 2 * this.centroids) return centroidQuantile(this.data, HEADER, this.centroids, this.total, q);
    // Raw values wait in the buffer: answer from them merged into a copy of the centroids,
    // leaving the sketch as it is, so that a result computed early (an early result, a
    // query, a result prepared ahead) never changes what later results say.
    if (settledOf !== this || settledTotal !== this.total || settledUsed !== this.used) this.settle();
    return centroidQuantile(settled, HEADER, settledCentroids, this.total, q);
  }

  /** Writes this digest with its buffer merged in to `settled` (layout of `data`, no buffer). */
  private settle(): void {
    const items = this.sortedPairs(true);
    scratchB = ensure(scratchB, 2 * items);
    settledCentroids = kOneMerge(scratchA, items, this.total, this.params.compression, scratchB);
    settled = ensure(settled, HEADER + 2 * settledCentroids);
    settled[MIN] = this.data[MIN] as number;
    settled[MAX] = this.data[MAX] as number;
    settled.set(scratchB.subarray(0, 2 * settledCentroids), HEADER);
    settledOf = this;
    settledTotal = this.total;
    settledUsed = this.used;
  }

  serialise(): Uint8Array {
    const w = new ByteWriter().u8(FORMAT_VERSION);
    this.serialiseInto(w);
    return w.finish();
  }

  /** Writes the sketch without a version byte: for containers that version their layout once. */
  serialiseInto(w: ByteWriter): void {
    const values = this.values;
    if (values !== null) {
      // Exact: the count is the number of values, and the capacity has no
      // effect on later behaviour.
      w.u8(EXACT).numbers(values, 0, values.length);
      return;
    }
    // The capacity decides when the next merge happens: restoring it makes a
    // restored sketch evolve exactly like the original (replays after a crash
    // give the same percentiles).
    w.u8(DIGEST)
      .f64(this.total)
      .u32(this.data.length)
      .u32(this.centroids)
      .u32(this.used - HEADER - 2 * this.centroids)
      .f64s(this.data, 0, this.used);
  }

  static deserialise(params: Required<BufferedDigestOptions>, bytes: Uint8Array): BufferedDigest {
    const r = new ByteReader(bytes);
    if (r.u8() !== FORMAT_VERSION) throw new RangeError('unknown digest format version');
    const sketch = BufferedDigest.deserialiseFrom(params, r);
    r.end();
    return sketch;
  }

  /** Reads what `serialiseInto` wrote. */
  static deserialiseFrom(params: Required<BufferedDigestOptions>, r: ByteReader): BufferedDigest {
    const sketch = new BufferedDigest(params);
    const mode = r.u8();
    if (mode === EXACT) {
      const values = r.numbers();
      if (values.length > params.exactLimit) throw new RangeError('corrupt digest: more exact values than the limit');
      sketch.values = values;
      sketch.total = values.length;
      return sketch;
    }
    if (mode !== DIGEST) throw new RangeError('corrupt digest: unknown mode');
    const total = r.f64();
    const capacity = r.u32();
    const centroids = r.u32();
    const raw = r.u32();
    const used = HEADER + 2 * centroids + raw;
    if (capacity < used) throw new RangeError('corrupt digest: capacity below content');
    sketch.values = null;
    sketch.total = total;
    sketch.centroids = centroids;
    sketch.used = used;
    sketch.data = new Float64Array(capacity);
    r.f64s(sketch.data, 0, used);
    return sketch;
  }

  /** Centroid count (0 in exact mode); for benchmarks and tests. */
  get size(): number {
    return this.centroids;
  }
}

/**
 * Sorts exact values ascending, in place, and returns them in a scratch
 * Float64Array too. Typed-array sort is numeric and native; Array#sort would
 * call a JS comparator per comparison.
 */
function sortExact(values: number[]): Float64Array {
  const n = values.length;
  scratchC = ensure(scratchC, n);
  const s = scratchC.subarray(0, n);
  for (let i = 0; i < n; i++) s[i] = values[i] as number;
  s.sort();
  for (let i = 0; i < n; i++) values[i] = s[i] as number;
  return s;
}

function isSorted(a: readonly number[]): boolean {
  for (let i = 1; i < a.length; i++) if ((a[i - 1] as number) > (a[i] as number)) return false;
  return true;
}

function mergePairs(a: Float64Array, na: number, b: Float64Array, nb: number, out: Float64Array): void {
  let i = 0;
  let j = 0;
  let o = 0;
  const ea = 2 * na;
  const eb = 2 * nb;
  while (i < ea || j < eb) {
    if (j >= eb || (i < ea && (a[i] as number) <= (b[j] as number))) {
      out[o++] = a[i] as number;
      out[o++] = a[i + 1] as number;
      i += 2;
    } else {
      out[o++] = b[j] as number;
      out[o++] = b[j + 1] as number;
      j += 2;
    }
  }
}

/**
 * One pass of Dunning's merging t-digest with the k1 (arcsine) scale: a
 * centroid may grow while it spans at most one unit of k(q) = δ/(2π)·asin(2q−1),
 * which keeps centroids near the tails tiny (p99 stays accurate). Writes the
 * centroids to `out` and returns how many.
 */
/**
 * A centroid made only of copies of one value ("pure") may not absorb a
 * different value once it holds this share of its allowed weight. Without it,
 * discrete data (ratings, whole milliseconds) gets centroids that mix two
 * values, and any interpolated answer between them has a large rank error;
 * with it, block boundaries become centroid boundaries. A cut centroid is at
 * least this full, so at worst it multiplies the centroid count by 1/PURE_CUT.
 */
const PURE_CUT = 0.1;

/**
 * One pass of Dunning's merging t-digest with the k1 (arcsine) scale: a
 * centroid may grow while it spans at most one unit of k(q) = δ/(2π)·asin(2q−1),
 * which keeps centroids near the tails tiny (p99 stays accurate). Weights are
 * stored positive for pure centroids and negative for mixed ones. Writes the
 * centroids to `out` and returns how many.
 */
function kOneMerge(items: Float64Array, n: number, total: number, compression: number, out: Float64Array): number {
  // k⁻¹(k(q) + 1) = (sin(asin(2q − 1) + 2π/δ) + 1) / 2, as a weight limit.
  const step = (2 * Math.PI) / compression;
  const limitAfter = (weightSoFar: number): number => {
    const angle = Math.asin(Math.min(1, (2 * weightSoFar) / total - 1)) + step;
    return angle >= Math.PI / 2 ? total : (total * (Math.sin(angle) + 1)) / 2;
  };
  let o = 0;
  let mean = items[0] as number;
  let signed = items[1] as number;
  let weight = Math.abs(signed);
  let pure = signed > 0;
  let soFar = 0;
  let limit = limitAfter(0);
  for (let i = 1; i < n; i++) {
    const x = items[2 * i] as number;
    const xSigned = items[2 * i + 1] as number;
    const w = Math.abs(xSigned);
    const fits = soFar + weight + w <= limit;
    const keepPure = pure && x !== mean && weight > 1 && weight >= PURE_CUT * (limit - soFar);
    if (fits && !keepPure) {
      weight += w;
      if (x !== mean || xSigned < 0) pure = false;
      if (x !== mean) mean += ((x - mean) * w) / weight;
    } else {
      out[o++] = mean;
      out[o++] = pure ? weight : -weight;
      soFar += weight;
      limit = limitAfter(soFar);
      mean = x;
      weight = w;
      pure = xSigned > 0;
    }
  }
  out[o++] = mean;
  out[o++] = pure ? weight : -weight;
  return o / 2;
}

/**
 * Quantile from centroids, in numpy's (n−1)-based index space. A pure centroid
 * of weight w holds its value at every index it covers; a mixed one is placed
 * at the centre of its indices. Between those anchors (and min and max at the
 * ends) values are interpolated linearly. With only pure centroids (all
 * singletons, or discrete data) this is exactly numpy's 'linear' method.
 */
function centroidQuantile(d: Float64Array, at: number, count: number, total: number, q: number): number {
  const h = q * (total - 1);
  // Means of mixed centroids drift as they absorb neighbours, so a singleton
  // can end up sorted before a centroid that holds the minimum: the ends are
  // answered from the exact min and max instead.
  if (h <= 0) return d[MIN] as number;
  if (h >= total - 1) return d[MAX] as number;
  let prevPos = 0;
  let prevVal = d[MIN] as number;
  let before = 0;
  for (let i = 0; i < count; i++) {
    const mean = d[at + 2 * i] as number;
    const signed = d[at + 2 * i + 1] as number;
    const weight = Math.abs(signed);
    const first = signed > 0 ? before : before + (weight - 1) / 2;
    const last = signed > 0 ? before + weight - 1 : first;
    if (h <= first) {
      if (first === prevPos) return mean;
      return prevVal + ((h - prevPos) / (first - prevPos)) * (mean - prevVal);
    }
    if (h <= last) return mean;
    prevPos = last;
    prevVal = mean;
    before += weight;
  }
  const lastPos = total - 1;
  if (lastPos === prevPos) return prevVal;
  return prevVal + ((h - prevPos) / (lastPos - prevPos)) * ((d[MAX] as number) - prevVal);
}

/** Codec for BufferedDigest sketches sharing one configuration. */
export function bufferedDigestCodec(options: BufferedDigestOptions = {}): SketchCodec {
  const params: Required<BufferedDigestOptions> = { ...DEFAULT_DIGEST_OPTIONS, ...options };
  if (!(params.compression >= 10)) throw new RangeError('compression must be at least 10');
  if (!(params.exactLimit >= 1) || !Number.isInteger(params.exactLimit)) throw new RangeError('exactLimit must be a positive integer');
  if (!(params.bufferSize >= 8) || !Number.isInteger(params.bufferSize)) throw new RangeError('bufferSize must be an integer ≥ 8');
  return {
    exactLimit: params.exactLimit,
    formatVersion: FORMAT_VERSION,
    create: () => new BufferedDigest(params),
    deserialise: (bytes) => BufferedDigest.deserialise(params, bytes),
    deserialiseFrom: (reader) => BufferedDigest.deserialiseFrom(params, reader),
  };
}
