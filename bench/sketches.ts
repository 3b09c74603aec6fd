/**
 * Quantile sketch comparison (DESIGN.md "Aggregations", issue 2). Prints one
 * JSON object. For the heap figures run with the GC exposed:
 *   node --expose-gc --import tsx bench/sketches.ts
 * Not a timed test: figures vary ±15% between runs.
 */
import { DDSketch } from '@datadog/sketches-js';
import { TDigest } from 'tdigest';
import { bufferedDigestCodec } from '../operators/aggregation/buffered-digest.js';
import { MetricStats, StatsSpec, percentileKey } from '../operators/aggregation/metric-stats.js';
import { DISTRIBUTIONS, rankError, sample, sampler, type Distribution } from '../test/aggregation/random.js';

/** The operations the bench needs, adapted per candidate. */
interface Candidate {
  readonly name: string;
  /** Big inputs are skipped for candidates too slow to finish in time. */
  readonly maxN: number;
  create(): unknown;
  add(s: unknown, x: number): void;
  quantile(s: unknown, q: number): number;
  /** Folds b into a and returns the result. */
  merge(a: unknown, b: unknown): unknown;
}

function candidate<S>(c: {
  name: string;
  maxN: number;
  create(): S;
  add(s: S, x: number): void;
  quantile(s: S, q: number): number;
  merge(a: S, b: S): S;
}): Candidate {
  return c as unknown as Candidate;
}

/** npm tdigest has no merge: push the other's centroids (NOTES.md). */
function tdigestMerge(a: TDigest, b: TDigest): TDigest {
  a.push_centroid(b.toArray());
  return a;
}

/** A growable raw-value buffer: the exact baseline, also the front half of exact-then-digest. */
class RawBuffer {
  values = new Float64Array(8);
  length = 0;
  add(x: number): void {
    if (this.length === this.values.length) {
      const next = new Float64Array(this.length * 2);
      next.set(this.values);
      this.values = next;
    }
    this.values[this.length++] = x;
  }
}

const digest = bufferedDigestCodec();

const candidates: Candidate[] = [
  candidate({
    name: 'npm tdigest defaults (delta 0.01, K 25)',
    maxN: 1_000_000,
    create: () => new TDigest(),
    add: (s, x) => s.push(x),
    quantile: (s, q) => s.percentile(q),
    merge: tdigestMerge,
  }),
  candidate({
    name: 'npm tdigest tuned (delta 0.05, K 10)',
    maxN: 1_000_000,
    create: () => new TDigest(0.05, 10),
    add: (s, x) => s.push(x),
    quantile: (s, q) => s.percentile(q),
    merge: tdigestMerge,
  }),
  candidate({
    name: 'raw buffer, npm tdigest (defaults) built at query time',
    maxN: 1_000_000,
    create: () => new RawBuffer(),
    add: (s, x) => s.add(x),
    quantile: (s, q) => {
      const t = new TDigest();
      t.push(Array.from(s.values.subarray(0, s.length)));
      return t.percentile(q);
    },
    merge: (a, b) => {
      for (let i = 0; i < b.length; i++) a.add(b.values[i] as number);
      return a;
    },
  }),
  candidate({
    name: 'DDSketch relativeAccuracy 0.01',
    maxN: 1_000_000,
    create: () => new DDSketch({ relativeAccuracy: 0.01 }),
    add: (s, x) => s.accept(x),
    quantile: (s, q) => s.getValueAtQuantile(q),
    merge: (a, b) => {
      a.merge(b);
      return a;
    },
  }),
  candidate({
    name: 'BufferedDigest (exact ≤256 in a JS array, then merging t-digest δ=150 in one Float64Array)',
    maxN: 1_000_000,
    create: () => digest.create(),
    add: (s, x) => s.add(x),
    quantile: (s, q) => s.quantile(q),
    merge: (a, b) => {
      a.merge(b);
      return a;
    },
  }),
];

const QS = [0.5, 0.95, 0.99];

/** What one (window, metric) really holds: all statistics plus the chosen sketch. */
const allAggregations = new StatsSpec();
const metricStats: Candidate = candidate({
  name: 'MetricStats, all aggregations (own exact buffer ≤256, then running stats + BufferedDigest)',
  maxN: 0,
  create: () => new MetricStats(allAggregations),
  add: (s, x) => s.add(x),
  quantile: (s, q) => s.result()[percentileKey(q * 100)] ?? NaN,
  merge: (a, b) => {
    a.merge(b);
    return a;
  },
});
const gc = (globalThis as { gc?: () => void }).gc;

/** Adds per second with `sketches` sketches filled round-robin (cache-unfriendly, like many open windows). */
function addThroughput(c: Candidate, sketches: number, perSketch: number): number {
  const values = sample('lognormal', 99, 1 << 16);
  const all = Array.from({ length: sketches }, () => c.create());
  const start = process.hrtime.bigint();
  let k = 0;
  for (let round = 0; round < perSketch; round++) {
    for (let s = 0; s < sketches; s++) c.add(all[s], values[k++ & 0xffff] as number);
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return Math.round((sketches * perSketch) / seconds);
}

/** Microseconds to answer p50/p95/p99 once per sketch (window close). */
function closeCost(c: Candidate, sketches: number, perSketch: number): number {
  const next = sampler('lognormal', 5);
  const all = Array.from({ length: sketches }, () => c.create());
  for (const s of all) for (let i = 0; i < perSketch; i++) c.add(s, next());
  const start = process.hrtime.bigint();
  for (const s of all) for (const q of QS) c.quantile(s, q);
  return Number(process.hrtime.bigint() - start) / 1e3 / sketches;
}

/** Heap + array-buffer bytes per sketch holding `n` values, over many sketches. */
function bytesPerSketch(c: Candidate, n: number): number | null {
  if (gc === undefined) return null;
  const count = 20_000;
  const next = sampler('lognormal', 7);
  gc();
  gc();
  const before = process.memoryUsage();
  const all = Array.from({ length: count }, () => c.create());
  for (let i = 0; i < n; i++) for (const s of all) c.add(s, next());
  gc();
  gc();
  const after = process.memoryUsage();
  const bytes = after.heapUsed - before.heapUsed + (after.arrayBuffers - before.arrayBuffers);
  if (all.length !== count) throw new Error('unreachable: keeps `all` alive across the measurement');
  return Math.round(bytes / count);
}

/** Max rank error (fraction of n) on p50/p95/p99 over the distributions, a few seeds. */
function maxRankError(c: Candidate, n: number): Record<Distribution, number> {
  const out = {} as Record<Distribution, number>;
  for (const dist of DISTRIBUTIONS) {
    let worst = 0;
    const seeds = n >= 1_000_000 ? 1 : n >= 10_000 ? 3 : 20;
    for (let seed = 1; seed <= seeds; seed++) {
      const xs = sample(dist, seed * 1009 + n, n);
      const s = c.create();
      for (const x of xs) c.add(s, x);
      const sorted = xs.slice().sort();
      for (const q of QS) worst = Math.max(worst, rankError(sorted, q, c.quantile(s, q)));
    }
    out[dist] = round(worst);
  }
  return out;
}

/** Max rank error after merging 16 partial sketches of 100k values (uneven parts). */
function mergeRankError(c: Candidate): Record<Distribution, number> {
  const out = {} as Record<Distribution, number>;
  const n = 100_000;
  for (const dist of DISTRIBUTIONS) {
    const xs = sample(dist, 4242, n);
    const parts = Array.from({ length: 16 }, () => c.create());
    // Contiguous uneven chunks: each part sees a different slice of the stream.
    for (let i = 0; i < n; i++) c.add(parts[Math.floor(16 * Math.pow(i / n, 1.5))], xs[i] as number);
    let merged = parts[0];
    for (let p = 1; p < parts.length; p++) merged = c.merge(merged, parts[p]);
    const sorted = xs.slice().sort();
    let worst = 0;
    for (const q of QS) worst = Math.max(worst, rankError(sorted, q, c.quantile(merged, q)));
    out[dist] = round(worst);
  }
  return out;
}

function round(x: number): number {
  return Math.round(x * 1e5) / 1e5;
}

const only = process.env['SKETCH_BENCH_ONLY'];
const results = candidates.filter((c) => only === undefined || c.name.includes(only)).map((c) => ({
  name: c.name,
  adds_per_sec_2000_interleaved_1000_each: addThroughput(c, 2000, c.name.startsWith('npm tdigest') ? 100 : 1000),
  adds_per_sec_2000_interleaved_200_each: addThroughput(c, 2000, 200),
  close_us_per_sketch_p50_p95_p99_at_200: round(closeCost(c, 2000, 200)),
  bytes_per_sketch_20: bytesPerSketch(c, 20),
  bytes_per_sketch_200: bytesPerSketch(c, 200),
  max_rank_error: Object.fromEntries([10, 200, 10_000, 1_000_000].filter((n) => n <= c.maxN).map((n) => [`n_${n}`, maxRankError(c, n)])),
  merge_16_parts_100k_max_rank_error: mergeRankError(c),
}));

const perWindowMetric = {
  name: metricStats.name,
  adds_per_sec_2000_interleaved_200_each: addThroughput(metricStats, 2000, 200),
  bytes_20: bytesPerSketch(metricStats, 20),
  bytes_200: bytesPerSketch(metricStats, 200),
  bytes_256: bytesPerSketch(metricStats, 256),
  bytes_1000: bytesPerSketch(metricStats, 1000),
};

console.log(JSON.stringify({ gc_exposed: gc !== undefined, node: process.version, per_window_metric: perWindowMetric, results }, null, 2));
