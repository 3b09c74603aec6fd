import { describe, expect, it } from 'vitest';
import { metricsAggregator, type MetricsInput } from '../../operators/aggregation/metrics-aggregator.js';
import { bruteQuantile, bruteStats, expectClose } from '../support/brute-force.js';
import { mulberry32 } from './random.js';

/** Feedback-like events: latency always, cost usually, rating sometimes null or missing. */
function events(seed: number, n: number): MetricsInput[] {
  const rnd = mulberry32(seed);
  return Array.from({ length: n }, () => {
    const metrics: Record<string, number | null> = { latency_ms: Math.round(200 + rnd() * 3000) / 10 };
    if (rnd() < 0.8) metrics['cost_usd'] = rnd() / 100;
    const r = rnd();
    if (r < 0.3) metrics['rating'] = 1 + Math.floor(rnd() * 5);
    else if (r < 0.5) metrics['rating'] = null;
    return { metrics };
  });
}

function column(evs: readonly MetricsInput[], field: string): number[] {
  return evs.flatMap((e) => {
    const v = e.metrics?.[field];
    return typeof v === 'number' ? [v] : [];
  });
}

describe('metricsAggregator', () => {
  it('aggregates every numeric metric by default, against brute force', () => {
    const agg = metricsAggregator();
    const evs = events(1, 500);
    const acc = agg.create();
    for (const e of evs) agg.add(acc, e);
    const r = agg.result(acc);
    expect(r.eventCount).toBe(500);
    expect(Object.keys(r.metrics)).toEqual(['latency_ms', 'cost_usd', 'rating']);
    for (const field of ['latency_ms', 'cost_usd', 'rating']) {
      const xs = column(evs, field);
      const m = r.metrics[field]!;
      const b = bruteStats(xs);
      expect(m['count']).toBe(b.count);
      expectClose(m['sum']!, b.sum);
      expectClose(m['avg']!, b.avg);
      expect(m['min']).toBe(b.min);
      expect(m['max']).toBe(b.max);
      expectClose(m['stddev']!, b.stddev, 1e-7);
      // ≤256 values per metric stay exact.
      if (xs.length <= 256) expect(m['p50']).toBe(bruteQuantile(xs, 0.5));
    }
  });

  it('aggregates only the configured fields, with the chosen percentiles', () => {
    const agg = metricsAggregator({ metricFields: ['rating', 'tokens'], percentiles: [10, 99.9] });
    const evs = events(2, 100);
    const acc = agg.create();
    for (const e of evs) agg.add(acc, e);
    const r = agg.result(acc);
    // `tokens` never has a value: omitted, as is everything not configured.
    expect(Object.keys(r.metrics)).toEqual(['rating']);
    const ratings = column(evs, 'rating');
    expect(Object.keys(r.metrics['rating']!)).toEqual(['count', 'sum', 'avg', 'min', 'max', 'stddev', 'p10', 'p99.9']);
    expect(r.metrics['rating']!['p10']).toBe(bruteQuantile(ratings, 0.1));
    expect(r.metrics['rating']!['p99.9']).toBe(bruteQuantile(ratings, 99.9 / 100));
  });

  it('counts events without metrics and skips nulls and non-finite values', () => {
    const agg = metricsAggregator({ enabled: ['count', 'sum'] });
    const acc = agg.create();
    const inputs: MetricsInput[] = [{}, { metrics: null }, { metrics: { a: null, b: NaN } }, { metrics: { a: 2, b: Infinity } }, { metrics: { a: 3 } }];
    for (const e of inputs) agg.add(acc, e);
    expect(agg.result(acc)).toEqual({ eventCount: 5, metrics: { a: { count: 2, sum: 5 } } });
    expect(agg.result(agg.create())).toEqual({ eventCount: 0, metrics: {} });
  });

  it.each([[[]], [['latency_ms', 'cost_usd', 'rating']]])('merges like one accumulator over the union (fields %j)', (metricFields) => {
    const agg = metricsAggregator({ metricFields });
    const evs = events(3, 3000);
    const whole = agg.create();
    for (const e of evs) agg.add(whole, e);
    // Parts see metrics in different first-seen orders (rating-only events first in one).
    const parts = [agg.create(), agg.create(), agg.create()];
    agg.add(parts[2]!, { metrics: { rating: 5 } });
    evs.forEach((e, i) => agg.add(parts[i % 3]!, e));
    const merged = agg.merge(agg.merge(parts[0]!, parts[1]!), parts[2]!);
    const a = agg.result(merged);
    const b = agg.result(whole);
    expect(a.eventCount).toBe(3001);
    const withExtra = column(evs, 'rating').concat([5]);
    expect(a.metrics['rating']!['count']).toBe(withExtra.length);
    expectClose(a.metrics['rating']!['stddev']!, bruteStats(withExtra).stddev, 1e-7);
    for (const field of ['latency_ms', 'cost_usd']) {
      for (const stat of ['count', 'sum', 'avg', 'min', 'max', 'stddev']) {
        expectClose(a.metrics[field]![stat]!, b.metrics[field]![stat]!, 1e-7);
      }
    }
  });

  it.each([[[]], [['cost_usd', 'latency_ms', 'rating']]])('round-trips accumulators through serialise (fields %j)', (metricFields) => {
    const agg = metricsAggregator({ metricFields });
    for (const n of [0, 10, 2000]) {
      const acc = agg.create();
      for (const e of events(n, n)) agg.add(acc, e);
      const copy = agg.deserialise(agg.serialise(acc));
      expect(agg.result(copy)).toEqual(agg.result(acc));
      // The copy keeps accumulating like the original.
      for (const e of events(99, 300)) {
        agg.add(acc, e);
        agg.add(copy, e);
      }
      expect(agg.result(copy)).toEqual(agg.result(acc));
    }
  });

  it('keeps each window in its own first-seen order while windows share field lists', () => {
    const agg = metricsAggregator({ enabled: ['count'] });
    const ab = agg.create();
    const ab2 = agg.create();
    const ba = agg.create();
    agg.add(ab, { metrics: { a: 1, b: 2 } });
    agg.add(ab2, { metrics: { a: 1 } });
    agg.add(ab2, { metrics: { b: 2 } });
    agg.add(ba, { metrics: { b: 2 } });
    agg.add(ba, { metrics: { a: 1, b: 3 } });
    expect(ab2.fields).toBe(ab.fields);
    // A new name moves one window to a longer list; the others keep theirs.
    agg.add(ab2, { metrics: { c: 4 } });
    expect(ab.fields).toEqual(['a', 'b']);
    expect(Object.keys(agg.result(ab2).metrics)).toEqual(['a', 'b', 'c']);
    expect(Object.keys(agg.result(ba).metrics)).toEqual(['b', 'a']);
    expect(agg.result(ba).metrics['b']).toEqual({ count: 2 });
  });

  it('stays correct past the cap on shared field lists', () => {
    const agg = metricsAggregator({ enabled: ['count', 'sum'] });
    const accs = Array.from({ length: 1100 }, (_, i) => {
      const acc = agg.create();
      agg.add(acc, { metrics: { [`m${i}`]: i, common: 1 } });
      agg.add(acc, { metrics: { common: 2, [`n${i}`]: 1 } });
      return acc;
    });
    accs.forEach((acc, i) => {
      expect(agg.result(acc).metrics).toEqual({ [`m${i}`]: { count: 1, sum: i }, common: { count: 2, sum: 3 }, [`n${i}`]: { count: 1, sum: 1 } });
    });
  });

  it('refuses a checkpoint holding a metric that is no longer configured', () => {
    const all = metricsAggregator();
    const acc = all.create();
    all.add(acc, { metrics: { other: 1 } });
    expect(() => metricsAggregator({ metricFields: ['latency_ms'] }).deserialise(all.serialise(acc))).toThrow(/"other"/);
  });
});
