/** Brute-force reference statistics, written independently of the engine. */
export interface BruteStats {
  count: number;
  sum: number;
  avg: number;
  min: number;
  max: number;
  stddev: number;
}

export function bruteStats(values: ArrayLike<number>): BruteStats {
  const n = values.length;
  let sum = 0;
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < n; i++) {
    const v = values[i] as number;
    sum += v;
    min = Math.min(min, v);
    max = Math.max(max, v);
  }
  const avg = sum / n;
  // Two-pass variance: the numerically safe textbook method.
  let ss = 0;
  for (let i = 0; i < n; i++) ss += ((values[i] as number) - avg) ** 2;
  return { count: n, sum, avg, min, max, stddev: Math.sqrt(ss / n) };
}

/** numpy.percentile(values, 100·q) with the default 'linear' method. */
export function bruteQuantile(values: ArrayLike<number>, q: number): number {
  const sorted = Array.from(values).sort((a, b) => a - b);
  const h = (sorted.length - 1) * q;
  const lo = Math.floor(h);
  const hi = Math.ceil(h);
  return (sorted[lo] as number) + (h - lo) * ((sorted[hi] as number) - (sorted[lo] as number));
}

export function expectClose(actual: number, expected: number, relTol = 1e-9): void {
  const scale = Math.max(1, Math.abs(expected));
  if (!(Math.abs(actual - expected) <= relTol * scale)) {
    throw new Error(`expected ${actual} to be within ${relTol} (relative) of ${expected}`);
  }
}
