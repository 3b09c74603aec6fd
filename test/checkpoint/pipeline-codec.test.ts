import { describe, expect, it } from 'vitest';
import { decodePipelineState, encodePipelineState } from '../../src/checkpoint/pipeline-codec.js';
import { parseConfig } from '../../src/config/index.js';
import type { FeedbackEvent } from '../../src/events/index.js';
import { feedbackMetrics, type FeedbackAccumulator, type PipelineSnapshot } from '../../src/pipeline/feedback-pipeline.js';
import { withKeyFields } from '../../src/pipeline/keyed-aggregator.js';
import { mulberry32 } from '../aggregation/random.js';

const config = parseConfig({ processor: {} }, {});

/** Feedback events of one model: decimals, integers, odd doubles, −0, sometimes a missing metric. */
function events(seed: number, n: number, model: string): FeedbackEvent[] {
  const rnd = mulberry32(seed);
  return Array.from({ length: n }, (_, i) => {
    const metrics: Record<string, number | null> = { latency_ms: Math.round(Math.exp(6 + rnd()) * 10) / 10, tokens: 50 + Math.floor(rnd() * 1500) };
    if (rnd() < 0.8) metrics['cost_usd'] = seed % 2 === 0 ? Math.round(rnd() * 6000) / 1e6 : rnd() / 100;
    if (rnd() < 0.3) metrics['rating'] = i % 17 === 0 ? -0 : 1 + Math.floor(rnd() * 5);
    return { event_id: `e-${seed}-${i}`, timestamp: '2026-11-26T10:00:00.000Z', event_type: 'inference', model, metrics } as FeedbackEvent;
  });
}

/** Windows with 0 to 2,000 values: exact ones, and ones whose percentiles moved to the digest. */
const SIZES = [0, 1, 7, 50, 256, 257, 300, 2000];

function snapshot(): PipelineSnapshot {
  const agg = withKeyFields(feedbackMetrics(config), ['model']);
  const windows = SIZES.map((n, i) => {
    const model = `model-${i}`;
    const accumulator: FeedbackAccumulator = agg.create();
    for (const e of events(i + 1, n, model)) agg.add(accumulator, e);
    return { key: model, start: 3_600_000 * i, end: 3_600_000 * (i + 1), count: n, revision: i % 3, accumulator };
  });
  return {
    watermarks: { watermark: 1234, partitions: [{ partition: 0, maxEventTime: 5678 }, { partition: 3, maxEventTime: 9 }] },
    specs: [{ spec: 'tumbling', state: { watermark: 1000, windowType: 'tumbling', windows, nextId: 42 } }],
  };
}

describe('pipeline state codec', () => {
  it('stores windows under the partition that opened them, and restores them in their original order', () => {
    const metrics = feedbackMetrics(config);
    const original = snapshot();
    // Windows 0, 3, 6 of partition 3, windows 1, 4, 7 of partition 0, the others without a partition.
    const partitioned: PipelineSnapshot = {
      ...original,
      specs: [
        {
          spec: 'tumbling',
          state: { ...original.specs[0]!.state, windows: original.specs[0]!.state.windows.map((w, i) => (i % 3 === 2 ? w : { ...w, partition: i % 3 === 0 ? 3 : 0 })) },
        },
      ],
    };
    const encoded = encodePipelineState(partitioned, metrics);
    expect(Object.keys(encoded.partitions).sort()).toEqual(['0', '3']);
    expect(Object.keys(encoded.partitions['3']!).sort()).toEqual(['watermark', 'windows/tumbling']);
    const restored = decodePipelineState(encoded, metrics);
    // The identity the next window gets survives, so a restored job numbers windows as before.
    expect(restored.specs[0]!.state.nextId).toBe(42);
    expect(restored.specs[0]!.state.windows.map((w) => [w.key, w.partition])).toEqual(partitioned.specs[0]!.state.windows.map((w) => [w.key, w.partition]));
    expect(restored.specs[0]!.state.windows.map((w) => metrics.result(w.accumulator.inner))).toEqual(
      partitioned.specs[0]!.state.windows.map((w) => metrics.result(w.accumulator.inner)),
    );
  });

  it('restores every window, and restored windows go on exactly like the originals', () => {
    const agg = withKeyFields(feedbackMetrics(config), ['model']);
    const metrics = feedbackMetrics(config);
    const original = snapshot();
    const encoded = encodePipelineState(original, metrics);
    // A stored blob comes back as a copy, maybe at an address that is not 8-byte aligned.
    const stored = (b: Uint8Array): Uint8Array => {
      const copy = new Uint8Array(b.length + 3).subarray(3);
      copy.set(b);
      return copy;
    };
    const restored = decodePipelineState(
      {
        operators: Object.fromEntries(Object.entries(encoded.operators).map(([k, v]) => [k, stored(v)])),
        partitions: encoded.partitions,
      },
      metrics,
    );
    expect(restored.watermarks).toEqual(original.watermarks);
    expect(restored.specs[0]!.state.watermark).toBe(1000);
    expect(restored.specs[0]!.state.windowType).toBe('tumbling');
    expect(restored.specs[0]!.state.windows).toHaveLength(SIZES.length);
    restored.specs[0]!.state.windows.forEach((win, i) => {
      const before = original.specs[0]!.state.windows[i]!;
      expect({ ...win, accumulator: undefined }).toEqual({ ...before, accumulator: undefined });
      expect(agg.result(win.accumulator)).toStrictEqual(agg.result(before.accumulator));
      // Continued: the same events into both, past the exact limit, then identical results and bytes.
      events(100 + i, 400, before.key).forEach((e, j) => {
        agg.add(before.accumulator, e);
        agg.add(win.accumulator, e);
        if (j % 50 === 0) expect(agg.result(win.accumulator)).toStrictEqual(agg.result(before.accumulator));
      });
      expect(agg.result(win.accumulator)).toStrictEqual(agg.result(before.accumulator));
      expect(metrics.serialise(win.accumulator.inner)).toEqual(metrics.serialise(before.accumulator.inner));
    });
    // And the state encodes to the same bytes again.
    expect(encodePipelineState(restored, metrics)).toEqual(encodePipelineState(original, metrics));
  });

  it('refuses a state written with another percentile configuration or a truncated one', () => {
    const encoded = encodePipelineState(snapshot(), feedbackMetrics(config));
    const noPercentiles = parseConfig({ processor: { aggregation: { enabled: ['count', 'sum'] } } }, {});
    expect(() => decodePipelineState(encoded, feedbackMetrics(noPercentiles))).toThrow(/percentile configuration/);
    const windows = encoded.operators['windows/tumbling']!;
    expect(() => decodePipelineState({ ...encoded, operators: { ...encoded.operators, 'windows/tumbling': windows.subarray(0, windows.length - 5) } }, feedbackMetrics(config))).toThrow(RangeError);
  });
});
