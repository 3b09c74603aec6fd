/**
 * Seeded random data for tests and benchmarks (never Math.random: results
 * must be reproducible). mulberry32: tiny, fast, good enough for test data.
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export type Distribution = 'uniform' | 'lognormal' | 'pareto' | 'duplicates' | 'integers';
export const DISTRIBUTIONS: readonly Distribution[] = ['uniform', 'lognormal', 'pareto', 'duplicates', 'integers'];

/**
 * A generator of one distribution: uniform, latency-like lognormal, heavy-tailed
 * Pareto (α=1.1), a dozen distinct values (ratings-like), whole-number latencies.
 */
export function sampler(dist: Distribution, seed: number): () => number {
  const u = mulberry32(seed);
  switch (dist) {
    case 'uniform':
      return () => u() * 1000;
    case 'lognormal':
      return () => {
        // Box–Muller; 1 − u() keeps the log argument in (0, 1].
        const z = Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());
        return Math.exp(6.5 + 0.6 * z);
      };
    case 'pareto':
      return () => 10 / Math.pow(1 - u(), 1 / 1.1);
    case 'duplicates':
      return () => Math.floor(u() * u() * 12);
    case 'integers':
      // Whole-millisecond latencies: many distinct values, each repeated a few times.
      return () => Math.round(Math.exp(6 + 0.5 * Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u())));
  }
}

export function sample(dist: Distribution, seed: number, n: number): Float64Array {
  const next = sampler(dist, seed);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = next();
  return out;
}

/**
 * Rank error of `estimate` as a quantile-q answer over ascending `sorted`, as a
 * fraction of n: distance from q·n to the range of ranks the value occupies
 * (ties make that a range), 0 when q·n lies inside it.
 */
export function rankError(sorted: Float64Array, q: number, estimate: number): number {
  const n = sorted.length;
  const below = lowerBound(sorted, estimate, false);
  const atOrBelow = lowerBound(sorted, estimate, true);
  const target = q * n;
  if (target < below) return (below - target) / n;
  if (target > atOrBelow) return (target - atOrBelow) / n;
  return 0;
}

/** Count of values < x (or ≤ x when `inclusive`). */
function lowerBound(sorted: Float64Array, x: number, inclusive: boolean): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const v = sorted[mid] as number;
    if (v < x || (inclusive && v === x)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
