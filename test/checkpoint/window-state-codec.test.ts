import { lastValueFrom, of, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import {
  aggregate,
  barrier,
  decodeWatermarkState,
  decodeWindowState,
  encodeWatermarkState,
  encodeWindowState,
  jsonAccumulatorCodec,
  metricsAggregator,
  record,
  results,
  tumblingWindow,
  type StreamElement,
  type WindowStateSnapshot,
} from '../../operators/index.js';

interface Reading {
  readonly latency: number;
}

describe('window state codec (library checkpoints)', () => {
  const metrics = metricsAggregator<Reading>({ metrics: (v) => ({ latency: v.latency }), percentiles: [50] });
  const input: StreamElement<Reading>[] = [
    record({ latency: 10 }, 1, { key: 'a', partition: 0 }),
    record({ latency: 30 }, 2, { key: 'a', partition: 0 }),
    record({ latency: 5 }, 12, { key: 'b' }),
    barrier(1),
  ];

  it('restores aggregate state that gives the same results as the uninterrupted run', async () => {
    let saved: Uint8Array | undefined;
    await lastValueFrom(
      of(...input).pipe(
        tumblingWindow({ sizeMs: 10 }),
        aggregate({ aggregator: metrics, onBarrier: (_, snapshot) => (saved = encodeWindowState(snapshot, metrics)) }),
        toArray(),
      ),
    );
    const restored = decodeWindowState(saved!, metrics);
    expect(restored.windows.map((w) => [w.key, w.partition, w.start, w.count])).toEqual([['a', 0, 0, 2], ['b', undefined, 10, 1]]);
    const flushed = await lastValueFrom(of<StreamElement<Reading>>().pipe(tumblingWindow({ sizeMs: 10 }), aggregate({ aggregator: metrics, initialState: restored }), results(), toArray()));
    expect(flushed.map((r) => [r.key, r.count, r.result.metrics.latency])).toEqual([
      ['a', 2, { count: 2, sum: 40, avg: 20, min: 10, max: 30, stddev: 10, p50: 20 }],
      ['b', 1, { count: 1, sum: 5, avg: 5, min: 5, max: 5, stddev: 0, p50: 5 }],
    ]);
  });

  it('rejects a blob written with percentiles by an aggregator without them', () => {
    const snapshot: WindowStateSnapshot<ReturnType<typeof metrics.create>> = { watermark: 0, windowType: 'tumbling', windows: [] };
    const other = metricsAggregator<Reading>({ metrics: (v) => ({ latency: v.latency }), enabled: ['count', 'sum'] });
    expect(() => decodeWindowState(encodeWindowState(snapshot, metrics), other)).toThrow(RangeError);
  });

  it('keeps plain accumulators through the JSON codec, identities and −∞ watermarks included', () => {
    const codec = jsonAccumulatorCodec<{ n: number }>();
    const snapshot: WindowStateSnapshot<{ n: number }> = {
      watermark: -Infinity,
      windowType: 'session',
      windows: [{ id: 4, key: '__proto__', partition: 2, start: 5, end: 9, count: 3, revision: 1, accumulator: { n: 3 } }],
      nextId: 5,
    };
    expect(decodeWindowState(encodeWindowState(snapshot, codec), codec)).toEqual(snapshot);
    const watermarks = { watermark: -Infinity, partitions: [{ partition: 1, maxEventTime: 42 }] };
    expect(decodeWatermarkState(encodeWatermarkState(watermarks))).toEqual(watermarks);
  });
});

describe('metricsAggregator over any value type', () => {
  it('reads the metrics where the option says', () => {
    const m = metricsAggregator<Reading>({ metrics: (v) => ({ latency: v.latency }), enabled: ['count', 'sum'] });
    expect(m.result(m.add(m.add(m.create(), { latency: 2 }), { latency: 3 })).metrics).toEqual({ latency: { count: 2, sum: 5 } });
    // @ts-expect-error a value without a `metrics` field needs the `metrics` option
    metricsAggregator<Reading>({ enabled: ['count'] });
  });
});
