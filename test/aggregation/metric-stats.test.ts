import { describe, expect, it } from 'vitest';
import { MetricStats, StatsSpec, percentileKey } from '../../operators/aggregation/metric-stats.js';
import { bruteQuantile, bruteStats, expectClose } from '../support/brute-force.js';
import { DISTRIBUTIONS, mulberry32, rankError, sample } from './random.js';

const spec = new StatsSpec();

function filled(values: ArrayLike<number>, s: StatsSpec = spec): MetricStats {
  const m = new MetricStats(s);
  for (let i = 0; i < values.length; i++) m.add(values[i] as number);
  return m;
}

function expectStatsMatch(result: Readonly<Record<string, number>>, values: ArrayLike<number>): void {
  const b = bruteStats(values);
  expect(result['count']).toBe(b.count);
  expectClose(result['sum']!, b.sum);
  expectClose(result['avg']!, b.avg);
  expect(result['min']).toBe(b.min);
  expect(result['max']).toBe(b.max);
  expectClose(result['stddev']!, b.stddev, 1e-7);
}

describe('MetricStats', () => {
  it.each(DISTRIBUTIONS)('matches brute force, with exact percentiles for small n (%s)', (dist) => {
    for (const n of [1, 2, 10, 100]) {
      const xs = sample(dist, n, n);
      const r = filled(xs).result();
      expectStatsMatch(r, xs);
      expect(r['p50']).toBe(bruteQuantile(xs, 0.5));
      expect(r['p95']).toBe(bruteQuantile(xs, 0.95));
      expect(r['p99']).toBe(bruteQuantile(xs, 0.99));
    }
  });

  it.each(DISTRIBUTIONS)('gives exact percentiles at every size up to the exact limit (%s)', (dist) => {
    // Unordered, so answers selected lowest first still land under their own keys.
    const s = new StatsSpec({ percentiles: [50, 0, 99.9, 10, 100, 25, 95, 1, 75, 99, 90] });
    for (let n = 1; n <= 256; n += n < 40 ? 1 : 17) {
      const xs = sample(dist, 1000 + n, n);
      const m = filled(xs, s);
      const r = m.result();
      s.quantiles.forEach((q, i) => expect(r[s.percentileKeys[i]!], `n=${n} q=${q}`).toBe(bruteQuantile(xs, q)));
      // Answering leaves the buffer as it was: a second result is the same.
      expect(m.result()).toEqual(r);
    }
  });

  it.each(DISTRIBUTIONS)('matches brute force for large n, percentiles within 1 percent rank error (%s)', (dist) => {
    const xs = sample(dist, 3, 50_000);
    const r = filled(xs).result();
    expectStatsMatch(r, xs);
    const sorted = xs.slice().sort();
    for (const [key, q] of [['p50', 0.5], ['p95', 0.95], ['p99', 0.99]] as const) {
      expect(rankError(sorted, q, r[key]!)).toBeLessThan(0.01);
    }
  });

  it.each(DISTRIBUTIONS)('answers after precompute exactly as without it (%s)', (dist) => {
    // Precomputed at random points, then more values (a few: inserted; many: selected as
    // before), merges, the limit passed, and results asked along the way.
    const random = mulberry32(5);
    const spec99 = new StatsSpec({ percentiles: [0, 10, 50, 90, 95, 99, 99.9, 100] });
    for (let trial = 0; trial < 60; trial++) {
      const values = sample(dist, trial, 400);
      const plain = new MetricStats(spec99);
      const pre = new MetricStats(spec99);
      let used = 0;
      const take = (count: number): void => {
        for (const x of values.slice(used, used + count)) {
          plain.add(x);
          pre.add(x);
        }
        used += count;
      };
      take(Math.floor(random() * 40));
      pre.precompute();
      take(Math.floor(random() * 24));
      expect(pre.result()).toEqual(plain.result());
      if (random() < 0.5) {
        const other = values.slice(300, 301 + Math.floor(random() * 30));
        const [part, copy] = [filled(other, spec99), filled(other, spec99)];
        part.precompute();
        if (random() < 0.5) {
          plain.merge(copy);
          pre.merge(part);
        } else {
          // Into an empty one: it takes the other's values, and what it precomputed.
          const [emptyPlain, emptyPre] = [new MetricStats(spec99), new MetricStats(spec99)];
          emptyPlain.merge(copy);
          emptyPre.merge(part);
          expect(emptyPre.result()).toEqual(emptyPlain.result());
        }
      }
      pre.precompute();
      take(Math.floor(random() * 300));
      expect(pre.result()).toEqual(plain.result());
    }
  });

  it('keeps stddev accurate for large values close together', () => {
    // sumSq/n − mean² would cancel every digit here.
    const rnd = mulberry32(1);
    const xs = Array.from({ length: 10_000 }, () => 1e9 + rnd());
    const r = filled(xs).result();
    expectClose(r['stddev']!, bruteStats(xs).stddev, 1e-6);
    expect(r['stddev']).toBeGreaterThan(0.28);
    expect(r['stddev']).toBeLessThan(0.30);
  });

  it('has stddev 0 for a constant and for one value', () => {
    expect(filled([7, 7, 7, 7]).result()['stddev']).toBe(0);
    expect(filled([3.5]).result()).toMatchObject({ count: 1, sum: 3.5, avg: 3.5, min: 3.5, max: 3.5, stddev: 0, p50: 3.5, p99: 3.5 });
  });

  it.each(DISTRIBUTIONS)('merges like the union (%s)', (dist) => {
    const xs = sample(dist, 8, 20_000);
    const rnd = mulberry32(9);
    const parts = Array.from({ length: 7 }, () => new MetricStats(spec));
    for (const x of xs) parts[Math.floor(rnd() * rnd() * 7)]!.add(x);
    parts.push(new MetricStats(spec)); // an empty part merges as a no-op
    const merged = parts[7]!;
    for (const p of parts.slice(0, 7)) merged.merge(p);
    const r = merged.result();
    expectStatsMatch(r, xs);
    const sorted = xs.slice().sort();
    expect(rankError(sorted, 0.5, r['p50']!)).toBeLessThan(0.01);
    expect(rankError(sorted, 0.99, r['p99']!)).toBeLessThan(0.01);
  });

  it('merges small parts into exact percentiles', () => {
    const xs = sample('lognormal', 4, 90);
    const a = filled(xs.subarray(0, 30));
    a.merge(filled(xs.subarray(30)));
    const r = a.result();
    expectStatsMatch(r, xs);
    expect(r['p95']).toBe(bruteQuantile(xs, 0.95));
  });

  it.each([1, 50, 5000])('round-trips through serialise exactly (%i values)', (n) => {
    const xs = sample('pareto', n, n);
    const m = filled(xs);
    const copy = MetricStats.deserialise(spec, m.serialise());
    expect(copy.result()).toEqual(m.result());
  });

  it('reports only the enabled aggregations, in output order', () => {
    const s = new StatsSpec({ enabled: ['max', 'average', 'percentile'], percentiles: [99.9, 50] });
    const r = filled([1, 2, 3, 4], s).result();
    expect(Object.keys(r)).toEqual(['avg', 'max', 'p99.9', 'p50']);
    // The engine takes q = p / 100, so the reference does too.
    expect(r).toEqual({ avg: 2.5, max: 4, 'p99.9': bruteQuantile([1, 2, 3, 4], 99.9 / 100), p50: 2.5 });
  });

  it('keeps no sketch when percentiles are off, and refuses a mismatched checkpoint', () => {
    const off = new StatsSpec({ enabled: ['count', 'stddev'] });
    const m = filled([1, 2, 3], off);
    expect(m.result()).toEqual({ count: 3, stddev: Math.sqrt(2 / 3) });
    expect(() => MetricStats.deserialise(spec, m.serialise())).toThrow(/percentile configuration/);
  });

  it('validates its options', () => {
    expect(() => new StatsSpec({ enabled: ['median' as 'count'] })).toThrow(/unknown aggregation "median"/);
    expect(() => new StatsSpec({ percentiles: [101] })).toThrow(RangeError);
    expect(percentileKey(50)).toBe('p50');
    expect(percentileKey(99.9)).toBe('p99.9');
  });
});
