import { describe, expect, it } from 'vitest';
import { bufferedDigestCodec, type BufferedDigest } from '../../operators/aggregation/buffered-digest.js';
import { bruteQuantile } from '../support/brute-force.js';
import { DISTRIBUTIONS, mulberry32, rankError, sample } from './random.js';

const codec = bufferedDigestCodec();
const QS = [0, 0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1];

function filled(values: ArrayLike<number>): BufferedDigest {
  const s = codec.create() as BufferedDigest;
  for (let i = 0; i < values.length; i++) s.add(values[i] as number);
  return s;
}

describe('BufferedDigest: exact phase', () => {
  it('is NaN when empty', () => {
    expect(codec.create().quantile(0.5)).toBeNaN();
  });

  it.each(DISTRIBUTIONS)('matches numpy linear interpolation for every n up to the exact limit (%s)', (dist) => {
    for (const n of [1, 2, 3, 7, 20, 64, 200, 256]) {
      const xs = sample(dist, n * 31, n);
      const s = filled(xs);
      expect(s.exact).toBe(true);
      for (const q of QS) expect(s.quantile(q)).toBe(bruteQuantile(xs, q));
      // Answering must not disturb later adds.
      s.add(xs[0] as number);
      expect(s.count).toBe(n + 1);
    }
  });

  it('stays exact when merging small sketches', () => {
    const xs = sample('lognormal', 5, 100);
    const a = filled(xs.subarray(0, 37));
    a.merge(filled(xs.subarray(37)));
    expect(a.exact).toBe(true);
    for (const q of QS) expect(a.quantile(q)).toBe(bruteQuantile(xs, q));
  });

  it('becomes a digest past the limit', () => {
    const s = filled(sample('uniform', 1, 257));
    expect(s.exact).toBe(false);
  });
});

describe('BufferedDigest: sketch phase', () => {
  it.each(DISTRIBUTIONS)('rank error below 1 percent at n = 1k, 20k, 200k (%s)', (dist) => {
    for (const n of [1000, 20_000, 200_000]) {
      const xs = sample(dist, n + 17, n);
      const s = filled(xs);
      const sorted = xs.slice().sort();
      for (const q of QS) {
        const err = rankError(sorted, q, s.quantile(q));
        expect(err, `${dist} n=${n} q=${q}`).toBeLessThan(0.01);
      }
      expect(s.quantile(0)).toBe(sorted[0]);
      expect(s.quantile(1)).toBe(sorted[n - 1]);
    }
  });

  it('keeps a bounded number of centroids', () => {
    const s = filled(sample('lognormal', 3, 500_000));
    expect(s.size).toBeGreaterThan(10);
    expect(s.size).toBeLessThan(200);
  });

  it.each(DISTRIBUTIONS)('merged sketches answer within 1 percent rank error of the union (%s)', (dist) => {
    const n = 60_000;
    const xs = sample(dist, 99, n);
    const rnd = mulberry32(7);
    const parts = Array.from({ length: 12 }, () => codec.create());
    // Uneven, interleaved parts: some stay exact, some become digests.
    for (let i = 0; i < n; i++) parts[Math.floor(rnd() * rnd() * 12)]!.add(xs[i] as number);
    parts.push(filled(xs.subarray(0, 10)));
    const merged = parts[0]!;
    for (const p of parts.slice(1)) merged.merge(p);
    expect(merged.count).toBe(n + 10);
    const all = new Float64Array(n + 10);
    all.set(xs);
    all.set(xs.subarray(0, 10), n);
    const sorted = all.sort();
    for (const q of QS) expect(rankError(sorted, q, merged.quantile(q)), `q=${q}`).toBeLessThan(0.01);
  });
});

describe('BufferedDigest: serialisation and determinism', () => {
  it.each([0, 5, 256, 257, 1000, 50_000])('round-trips exactly with %i values', (n) => {
    const xs = sample('pareto', n, n);
    const s = filled(xs);
    const copy = codec.deserialise(s.serialise());
    expect(copy.count).toBe(s.count);
    for (const q of QS) expect(Object.is(copy.quantile(q), s.quantile(q))).toBe(true);
    // The restored sketch also evolves exactly like the original.
    const more = sample('uniform', 1, 300);
    for (const x of more) {
      s.add(x);
      copy.add(x);
    }
    expect(copy.serialise()).toEqual(s.serialise());
  });

  it('rejects a truncated blob', () => {
    const bytes = filled(sample('uniform', 1, 50)).serialise();
    expect(() => codec.deserialise(bytes.subarray(0, bytes.length - 3))).toThrow(RangeError);
  });

  it('answers quantiles without changing what it answers later (results computed early: prepared, early, queried)', () => {
    for (const seed of [1, 2, 3]) {
      const xs = sample('lognormal', seed, 3_000);
      const asked = codec.create() as BufferedDigest;
      const quiet = codec.create() as BufferedDigest;
      const next = mulberry32(seed);
      for (const x of xs) {
        asked.add(x);
        quiet.add(x);
        // Asked now and then, with values waiting in its buffer or not.
        if (next() < 0.05) for (const q of QS) asked.quantile(q);
      }
      for (const q of QS) expect(Object.is(asked.quantile(q), quiet.quantile(q))).toBe(true);
    }
  });

  it('gives identical results for identical input', () => {
    const xs = sample('lognormal', 11, 30_000);
    expect(filled(xs).serialise()).toEqual(filled(xs).serialise());
  });
});
