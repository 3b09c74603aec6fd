import { describe, it } from 'vitest';
import { assignWatermarks } from '../operators/assignWatermarks.js';
import { barrier } from '../src/stream/elements.js';
import { rec, testScheduler, timeline, wm } from './helpers.js';

describe('assignWatermarks', () => {
  it('emits a watermark after each record that advances it (bounded out-of-orderness)', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const a = rec(5), b = rec(3), c = rec(8);
      const source = cold('a 9ms b 9ms c 9ms |', { a, b, c });
      expectObservable(source.pipe(assignWatermarks({ maxOutOfOrdernessMs: 2 }))).toBe(
        '(aw) 6ms b 9ms (cx) 6ms (y|)',
        { a, b, c, w: wm(3), x: wm(6), y: wm(Infinity) },
      );
    });
  });

  it('takes event time from a value field (number or ISO string) or a function', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const iso = { kind: 'record' as const, value: { at: '1970-01-01T00:00:00.010Z' }, timestamp: 0 };
      const num = { kind: 'record' as const, value: { at: 20 }, timestamp: 0 };
      const source = cold<typeof iso | typeof num>('a 9ms (b|)', { a: iso, b: num });
      expectObservable(source.pipe(assignWatermarks<{ at: string | number }>({ timestamp: 'at', flushOnComplete: false }))).toBe(
        '(aw) 6ms (bx|)',
        { a: { ...iso, timestamp: 10 }, w: wm(10), b: { ...num, timestamp: 20 }, x: wm(20) },
      );
    });
    testScheduler().run(({ cold, expectObservable }) => {
      const a = rec(0, 'k', undefined, 7);
      expectObservable(cold('(a|)', { a }).pipe(assignWatermarks({ timestamp: (v) => v.n * 1000, flushOnComplete: false }))).toBe(
        '(aw|)',
        { a: { ...a, timestamp: 7000 }, w: wm(7000) },
      );
    });
  });

  it('combines partitions by min: the slowest partition holds the watermark back', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const a = rec(10, 'k', 0), b = rec(20, 'k', 1), c = rec(15, 'k', 0), d = rec(30, 'k', 0);
      const source = cold('a 9ms b 9ms c 9ms d 9ms |', { a, b, c, d });
      expectObservable(source.pipe(assignWatermarks({ flushOnComplete: false }))).toBe(
        '(aw) 6ms b 9ms (cx) 6ms (dy) 6ms |',
        { a, b, c, d, w: wm(10), x: wm(15), y: wm(20) },
      );
    });
  });

  it('never lets the watermark decrease, and forwards barriers but not upstream watermarks', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const a = rec(10), b = rec(4), k = barrier(1), u = wm(99);
      const source = cold('a 9ms u 9ms b 9ms k 9ms |', { a, b, k, u });
      expectObservable(source.pipe(assignWatermarks({ flushOnComplete: false }))).toBe(
        '(aw) 16ms b 9ms k 9ms |',
        { a, b, k, w: wm(10) },
      );
    });
  });

  it('releases an idle partition after the idle timeout', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const a = rec(10, 'k', 0), b = rec(20, 'k', 1), c = rec(30, 'k', 1);
      // p0 sends once at 0 and goes idle at 25; p1 then moves the watermark alone.
      const source = cold('a 9ms b 9ms c -', { a, b, c });
      expectObservable(source.pipe(assignWatermarks({ idleTimeoutMs: 25 })), '^ 25ms !').toBe(
        '(aw) 6ms b 9ms c 4ms x',
        { a, b, c, w: wm(10), x: wm(30) },
      );
    });
  });

  it('advances with processing time when the whole input is quiet, so windows still fire', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const a = rec(100);
      const source = cold('a -', { a });
      expectObservable(source.pipe(assignWatermarks({ maxOutOfOrdernessMs: 3, idleTimeoutMs: 5 })), '^ 11ms !').toBe(
        '(aw) 1ms x 4ms y',
        { a, w: wm(97), x: wm(102), y: wm(107) },
      );
    });
  });

  it('a record on an idle partition makes it active again without moving the watermark back', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const a = rec(10, 'k', 0), b = rec(50, 'k', 1), c = rec(20, 'k', 0), d = rec(60, 'k', 1), e = rec(40, 'k', 0);
      // p0 idle at 25 → W = 50. c (20) re-activates p0: W stays 50. At d, min(20, 60) = 20 < 50: no change.
      // e (40) on p0 is still under 50: no watermark.
      const source = cold('a 9ms b 19ms c 9ms d 9ms e -', { a, b, c, d, e });
      expectObservable(source.pipe(assignWatermarks({ idleTimeoutMs: 25 })), '^ 52ms !').toBe(
        '(aw) 6ms b 14ms x 4ms c 9ms d 9ms e',
        { a, b, c, d, e, w: wm(10), x: wm(50) },
      );
    });
  });

  it('stops counting a released partition at once (a Kafka revocation), without waiting for idleness', () => {
    testScheduler().run(({ cold, hot, expectObservable }) => {
      const a = rec(10, 'k', 0), b = rec(50, 'k', 1), c = rec(60, 'k', 1), d = rec(20, 'k', 0);
      const released = hot(timeline('', '', '', 'r'), { r: [0] });
      const source = cold(timeline('a', 'b', '', '', '', 'c', 'd', '|'), { a, b, c, d });
      // p0 holds W at 10 until it is released; then W = 50; c moves it to 60; d (p0, tracked anew) does not lower it.
      expectObservable(source.pipe(assignWatermarks({ released, flushOnComplete: false }))).toBe(timeline('(aw)', 'b', '', 'x', '', '(cy)', 'd', '|'), {
        a, b, c, d, w: wm(10), x: wm(50), y: wm(60),
      });
    });
  });

  it('sends errors of the timestamp function to the subscriber', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const boom = new Error('bad time');
      const source = cold('a|', { a: rec(1) });
      expectObservable(source.pipe(assignWatermarks({ timestamp: () => { throw boom; } }))).toBe('#', undefined, boom);
    });
  });

  it('reports a non-numeric event time as an error', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const source = cold('a|', { a: { kind: 'record' as const, value: { at: 'not a date' }, timestamp: 0 } });
      expectObservable(source.pipe(assignWatermarks<{ at: string }>({ timestamp: 'at' }))).toBe(
        '#', undefined, new TypeError('assignWatermarks: invalid event time NaN'));
    });
  });

  it('unsubscribing releases the idle timer and the source', () => {
    testScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('a 20ms |', { a: rec(1) });
      expectObservable(source.pipe(assignWatermarks({ idleTimeoutMs: 5 })), '^ 3ms !').toBe('(aw)', { a: rec(1), w: wm(1) });
      expectSubscriptions(source.subscriptions).toBe('^ 3ms !');
    });
  });
});
