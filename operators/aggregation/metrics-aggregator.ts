import type { Aggregator } from '../stream/aggregator.js';
import { setField } from '../stream/fields.js';
import { ByteReader, ByteWriter } from './binary.js';
import { MetricStats, StatsSpec, type AggregationKind, type MetricSummary } from './metric-stats.js';
import type { SketchCodec } from './quantile-sketch.js';

/** Metric name → value; values that are not finite numbers are skipped. */
export type MetricValues = Readonly<Record<string, number | null | undefined>>;

/**
 * The part of a parsed feedback event this aggregator reads by default. A type
 * alias, not an interface, so it stays assignable to `Record<string, unknown>` bounds.
 */
export type MetricsInput = {
  readonly metrics?: MetricValues | null;
};

export interface MetricsAggregatorOptions<T = MetricsInput> {
  /**
   * Where a value keeps its metrics, for values not shaped like `{ metrics: {...} }`
   * (e.g. `(v) => ({ latency_ms: v.latency })`). Default: `value.metrics`.
   */
  readonly metrics?: (value: T) => MetricValues | null | undefined;
  /** Metric names to aggregate; empty or absent: every numeric field of `metrics`. */
  readonly metricFields?: readonly string[];
  /** Percentiles in [0, 100] (default 50, 95, 99). */
  readonly percentiles?: readonly number[];
  /** Aggregations to report (default: all). */
  readonly enabled?: readonly AggregationKind[];
  /** Quantile sketch implementation (default: exact-then-t-digest). */
  readonly sketch?: SketchCodec;
}

/**
 * One window's state: parallel arrays of metric names and their statistics.
 * Arrays, not a Map, because the common case is a handful of fields and an
 * index walk beats hashing. `fields` is shared, never mutated: the configured
 * fields, or (like V8's hidden classes) one array per first-seen order of
 * names, shared by every window that met its metrics in that order, so each
 * window owns only its `stats` and the name walk of `add` stays in cache. A
 * slot stays null until its metric gets a value.
 */
export interface MetricsAccumulator {
  eventCount: number;
  fields: readonly string[];
  stats: (MetricStats | null)[];
}

export interface MetricsResult {
  readonly eventCount: number;
  /** Metrics with at least one value, in configured (or first-seen) order. */
  readonly metrics: Readonly<Record<string, MetricSummary>>;
}

/** `T`: the value type of the pipeline's records. */
export interface MetricsAggregator<T = MetricsInput> extends Aggregator<T, MetricsAccumulator, MetricsResult> {
  /** Checkpoint form of an accumulator. */
  serialise(accumulator: MetricsAccumulator): Uint8Array;
  /** Restores an accumulator written by `serialise` under the same options. */
  deserialise(bytes: Uint8Array): MetricsAccumulator;
  /**
   * The layout versions of `serialiseInto`, written once per blob: a
   * checkpoint appends every open window's accumulator to one buffer, and
   * `readFormat` checks them (and the percentile configuration) before
   * `deserialiseFrom` reads the accumulators back.
   */
  writeFormat(writer: ByteWriter): void;
  readFormat(reader: ByteReader): void;
  serialiseInto(accumulator: MetricsAccumulator, writer: ByteWriter): void;
  deserialiseFrom(reader: ByteReader): MetricsAccumulator;
}

const FORMAT_VERSION = 2;

/** Values that count: JSON gives no NaN or Infinity, but library callers might. */
function usable(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

const metricsField = (value: MetricsInput): MetricValues | null | undefined => value.metrics;

/**
 * Per-metric statistics of each window (count, sum, avg, min, max, stddev,
 * percentiles). Values shaped `{ metrics: {...} }` need no options; any other
 * value type names its metrics with `options.metrics`, which the overloads demand.
 */
export function metricsAggregator<T extends MetricsInput = MetricsInput>(options?: MetricsAggregatorOptions<T>): MetricsAggregator<T>;
export function metricsAggregator<T>(options: MetricsAggregatorOptions<T> & { readonly metrics: (value: T) => MetricValues | null | undefined }): MetricsAggregator<T>;
export function metricsAggregator<T>(options: MetricsAggregatorOptions<T> = {}): MetricsAggregator<T> {
  // Without `metrics`, the first overload guarantees that T has the `metrics` field.
  const metricsOf = options.metrics ?? (metricsField as (value: T) => MetricValues | null | undefined);
  const spec = new StatsSpec(options);
  const fixed: string[] | null = options.metricFields !== undefined && options.metricFields.length > 0 ? [...options.metricFields] : null;
  if (fixed !== null && new Set(fixed).size !== fixed.length) throw new RangeError('metricFields contains duplicates');

  const statsAt = (acc: MetricsAccumulator, i: number): MetricStats => {
    let s = acc.stats[i];
    if (s === undefined || s === null) {
      s = new MetricStats(spec);
      acc.stats[i] = s;
    }
    return s;
  };

  /**
   * Shared field lists: for each list, the list that follows when a name is
   * appended. Capped, so events that list their metrics in ever new orders
   * cannot grow it without bound; past the cap a window gets its own list.
   */
  const transitions = new Map<readonly string[], Map<string, readonly string[]>>();
  const NO_FIELDS: readonly string[] = [];
  const MAX_SHARED_LISTS = 1024;
  let sharedLists = 0;

  const appended = (fields: readonly string[], field: string): readonly string[] => {
    const known = transitions.get(fields)?.get(field);
    if (known !== undefined) return known;
    const grown = [...fields, field];
    if (sharedLists < MAX_SHARED_LISTS) {
      sharedLists++;
      let next = transitions.get(fields);
      if (next === undefined) transitions.set(fields, (next = new Map()));
      next.set(field, grown);
    }
    return grown;
  };

  /** Slot of `field`, appended when new (only without configured fields). */
  const slotOf = (acc: MetricsAccumulator, field: string, hint: number): number => {
    // Events usually list their metrics in the same order: try the next slot first.
    if (acc.fields[hint] === field) return hint;
    const i = acc.fields.indexOf(field);
    if (i >= 0) return i;
    acc.fields = appended(acc.fields, field);
    // A copy sized to fit: a pushed-to empty array reserves 17 slots.
    acc.stats = acc.stats.concat(null);
    return acc.fields.length - 1;
  };

  const create = (): MetricsAccumulator =>
    fixed !== null ? { eventCount: 0, fields: fixed, stats: fixed.map(() => null) } : { eventCount: 0, fields: NO_FIELDS, stats: [] };

  const writeFormat = (w: ByteWriter): void => {
    w.u8(FORMAT_VERSION);
    MetricStats.writeFormat(spec, w);
  };

  const readFormat = (r: ByteReader): void => {
    if (r.u8() !== FORMAT_VERSION) throw new RangeError('unknown metrics accumulator format version');
    MetricStats.readFormat(spec, r);
  };

  const serialiseInto = (acc: MetricsAccumulator, w: ByteWriter): void => {
    w.f64(acc.eventCount);
    let present = 0;
    for (const s of acc.stats) if (s !== null) present++;
    w.u32(present);
    for (let i = 0; i < acc.fields.length; i++) {
      const s = acc.stats[i];
      if (s === null || s === undefined) continue;
      w.str(acc.fields[i] as string);
      s.serialiseInto(w);
    }
  };

  const deserialiseFrom = (r: ByteReader): MetricsAccumulator => {
    const acc = create();
    acc.eventCount = r.f64();
    const present = r.u32();
    if (fixed !== null) {
      for (let k = 0; k < present; k++) {
        const field = r.str();
        const i = fixed.indexOf(field);
        if (i < 0) throw new RangeError(`checkpoint holds metric "${field}", which is not among the configured metric fields`);
        acc.stats[i] = MetricStats.deserialiseFrom(spec, r);
      }
      return acc;
    }
    // The written slots are the window's fields in order: build the shared
    // list and a stats array of the final size at once, not slot by slot.
    let fields = NO_FIELDS;
    const stats: MetricStats[] = new Array<MetricStats>(present);
    for (let k = 0; k < present; k++) {
      const field = r.str();
      if (fields.includes(field)) throw new RangeError(`corrupt checkpoint: metric "${field}" twice in one window`);
      fields = appended(fields, field);
      stats[k] = MetricStats.deserialiseFrom(spec, r);
    }
    acc.fields = fields;
    acc.stats = stats;
    return acc;
  };

  return {
    create,

    add(acc, event) {
      acc.eventCount++;
      const metrics = metricsOf(event);
      if (metrics === undefined || metrics === null) return acc;
      if (fixed !== null) {
        for (let i = 0; i < fixed.length; i++) {
          const v = metrics[fixed[i] as string];
          if (usable(v)) statsAt(acc, i).add(v);
        }
      } else {
        let hint = 0;
        for (const field in metrics) {
          const v = metrics[field];
          if (!usable(v)) continue;
          const i = slotOf(acc, field, hint);
          statsAt(acc, i).add(v);
          hint = i + 1;
        }
      }
      return acc;
    },

    merge(a, b) {
      a.eventCount += b.eventCount;
      for (let j = 0; j < b.fields.length; j++) {
        const theirs = b.stats[j];
        if (theirs === null || theirs === undefined) continue;
        const i = fixed !== null ? j : slotOf(a, b.fields[j] as string, j);
        const ours = a.stats[i];
        if (ours === null || ours === undefined) a.stats[i] = theirs;
        else ours.merge(theirs);
      }
      return a;
    },

    precompute(acc) {
      for (const s of acc.stats) s?.precompute();
    },

    result(acc) {
      const metrics: Record<string, MetricSummary> = {};
      for (let i = 0; i < acc.fields.length; i++) {
        const s = acc.stats[i];
        if (s !== null && s !== undefined && s.count > 0) setField(metrics, acc.fields[i] as string, s.result());
      }
      return { eventCount: acc.eventCount, metrics };
    },

    serialise(acc) {
      const w = new ByteWriter();
      writeFormat(w);
      serialiseInto(acc, w);
      return w.finish();
    },

    deserialise(bytes) {
      const r = new ByteReader(bytes);
      readFormat(r);
      const acc = deserialiseFrom(r);
      r.end();
      return acc;
    },

    writeFormat,
    readFormat,
    serialiseInto,
    deserialiseFrom,
  };
}
