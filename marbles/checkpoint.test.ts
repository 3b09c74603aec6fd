import { describe, expect, it } from 'vitest';
import { aggregate } from '../operators/aggregate.js';
import { assignWatermarks, type WatermarkSnapshot } from '../operators/assignWatermarks.js';
import { checkpoint } from '../operators/checkpoint.js';
import type { WindowStateSnapshot } from '../operators/internal/windowState.js';
import { tumblingWindow } from '../operators/tumblingWindow.js';
import { barrier, type StreamRecord } from '../operators/stream/elements.js';
import { countSum, rec, result, testScheduler, timeline, wm, type CountSum, type Reading } from './helpers.js';

const at = (timestamp: number, partition: number, offset: string): StreamRecord<Reading> => ({ ...rec(timestamp, 'k', partition), offset });

describe('checkpoint', () => {
  it('injects a barrier every interval carrying the last offset of each partition', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const a = at(1, 0, '1'), b = at(2, 1, '7'), c = at(3, 0, '2');
      const source = cold('-a-b-------c----|', { a, b, c });
      expectObservable(source.pipe(checkpoint({ intervalMs: 5 }))).toBe('-a-b-x-----c---y|', {
        a, b, c,
        x: barrier(1, { 0: '1', 1: '7' }),
        y: barrier(2, { 0: '2', 1: '7' }),
      });
    });
  });

  it('skips a barrier when nothing arrived since the previous one', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const a = at(1, 0, '1');
      const source = cold('a 20ms |', { a });
      expectObservable(source.pipe(checkpoint({ intervalMs: 5 }))).toBe('a 4ms x 15ms |', { a, x: barrier(1, { 0: '1' }) });
    });
  });

  it('injects a barrier whenever the trigger emits, numbering from firstId', () => {
    testScheduler().run(({ cold, hot, expectObservable }) => {
      const a = at(1, 0, '9');
      const trigger = hot('--t--', { t: 'stop' });
      expectObservable(cold('a---|', { a }).pipe(checkpoint({ intervalMs: 100, trigger, firstId: 42 }))).toBe('a-x-|', {
        a,
        x: barrier(42, { 0: '9' }),
      });
    });
  });

  it('starts from restored positions after recovery', () => {
    testScheduler().run(({ cold, hot, expectObservable }) => {
      const trigger = hot('-t', { t: 1 });
      expectObservable(cold<StreamRecord<Reading>>('---|').pipe(checkpoint<Reading>({ intervalMs: 100, trigger, initialPositions: { 3: '17' } }))).toBe('-x-|', {
        x: barrier(1, { 3: '17' }),
      });
    });
  });

  it('unsubscribing stops the interval and the source', () => {
    testScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const a = at(1, 0, '1');
      const source = cold('a------', { a });
      expectObservable(source.pipe(checkpoint({ intervalMs: 5 })), '^--!').toBe('a', { a });
      expectSubscriptions(source.subscriptions).toBe('^--!');
    });
  });

  it('rejects a non-positive interval', () => {
    expect(() => checkpoint({ intervalMs: 0 })).toThrow(RangeError);
  });
});

describe('barrier alignment through every operator', () => {
  it('each stateful operator snapshots exactly the records before the barrier, and the barrier keeps its place', () => {
    const watermarks: [number, WatermarkSnapshot][] = [];
    const windows: [number, WindowStateSnapshot<CountSum>][] = [];
    testScheduler().run(({ cold, expectObservable }) => {
      const a = at(3, 0, '1'), b = at(12, 0, '2'), c = at(14, 0, '3');
      const source = cold(timeline('a', 'b', '', 'c', '', '|'), { a, b, c });
      const out = source.pipe(
        checkpoint({ intervalMs: 20 }),
        assignWatermarks({ onBarrier: (id, s) => watermarks.push([id, structuredClone(s)]) }),
        tumblingWindow({ sizeMs: 10 }),
        aggregate({ aggregator: countSum, onBarrier: (id, s) => windows.push([id, structuredClone(s)]) }),
      );
      expectObservable(out).toBe(timeline('w', '(rb)', 'x', 'c', 'y', '(zi|)'), {
        w: wm(3), r: result('k', 'tumbling', 0, 10, 0, 1), b: wm(12), x: barrier(1, { 0: '2' }),
        c: wm(14), y: barrier(2, { 0: '3' }), z: result('k', 'tumbling', 10, 20, 0, 2), i: wm(Infinity),
      });
    });
    expect(watermarks).toEqual([[1, { watermark: 12, partitions: [{ partition: 0, maxEventTime: 12 }] }], [2, { watermark: 14, partitions: [{ partition: 0, maxEventTime: 14 }] }]]);
    expect(windows.map(([id, s]) => [id, s.windows.map((w) => [w.start, w.count, w.revision])])).toEqual([
      [1, [[10, 1, -1]]],
      [2, [[10, 2, -1]]],
    ]);
  });
});
