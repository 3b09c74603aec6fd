import type { ByteReader, ByteWriter } from './binary.js';

/**
 * The one seam between the statistics and the percentile estimator, so the
 * estimator can be swapped by benchmark without touching the aggregators.
 */
export interface QuantileSketch {
  /** Number of values added (including those merged in). */
  readonly count: number;
  /** Adds one finite value. Hot path: must not allocate in the common case. */
  add(value: number): void;
  /** Folds `other` into this sketch. `other` may be mutated and must not be used afterwards. */
  merge(other: QuantileSketch): void;
  /**
   * Value at quantile `q` in [0, 1]; NaN when empty. Exact (numpy's default
   * 'linear' method) while the sketch still holds every value.
   */
  quantile(q: number): number;
  /** A self-contained binary form; `SketchCodec.deserialise` restores an equal sketch. */
  serialise(): Uint8Array;
  /**
   * The same without the version byte, appended to a larger blob (a
   * checkpoint writes millions of sketches into one buffer); the container
   * records `SketchCodec.formatVersion`. `SketchCodec.deserialiseFrom` reads it.
   */
  serialiseInto(writer: ByteWriter): void;
}

/** Creates and restores sketches of one implementation and configuration. */
export interface SketchCodec {
  /**
   * When set, a sketch of this codec answers exactly (numpy 'linear') while
   * it holds at most this many values, so a caller may keep up to that many
   * raw values itself and only create a sketch beyond (MetricStats does).
   */
  readonly exactLimit?: number;
  /** Version of the layout `serialiseInto` writes. */
  readonly formatVersion: number;
  create(): QuantileSketch;
  deserialise(bytes: Uint8Array): QuantileSketch;
  deserialiseFrom(reader: ByteReader): QuantileSketch;
}

/**
 * numpy's default ('linear') quantile of the first `length` values of an
 * ascending array: h = (n − 1)·q, interpolated between the closest ranks.
 */
export function sortedQuantile(sorted: ArrayLike<number>, length: number, q: number): number {
  if (length === 0) return NaN;
  const h = (length - 1) * q;
  const lo = Math.floor(h);
  const hi = Math.ceil(h);
  const a = sorted[lo] as number;
  const b = sorted[hi] as number;
  // a === b also covers hi === lo and avoids Infinity − Infinity.
  return a === b ? a : a + (h - lo) * (b - a);
}
