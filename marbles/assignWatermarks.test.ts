import { describe, it } from 'vitest';
import { assignWatermarks } from '../operators/assignWatermarks.js';
import { barrier, type StreamElement } from '../operators/stream/elements.js';
import { rec, testScheduler, timeline, wm, type Reading } from './helpers.js';

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

  it('a quiet partition advances with processing time from the moment it went quiet', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const a = rec(10, 'k', 0), b = rec(20, 'k', 1), c = rec(30, 'k', 1);
      // p0 sends once at 0 and is quiet from 25 on: W_p0 = 10 + (now − 25), checked every 5 ms,
      // while p1 (at 30) is still active.
      const source = cold('a 9ms b 9ms c -', { a, b, c });
      expectObservable(source.pipe(assignWatermarks({ idleTimeoutMs: 25, progressIntervalMs: 5 })), '^ 41ms !').toBe(
        '(aw) 6ms b 9ms c 9ms x 4ms y 4ms z',
        { a, b, c, w: wm(10), x: wm(15), y: wm(20), z: wm(25) },
      );
    });
  });

  it('advances with processing time when the whole input is quiet, so windows still fire', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const a = rec(100);
      const source = cold('a -', { a });
      // Quiet from 5 (W 97); checked every 5 ms (min(idle timeout, 1 s)).
      expectObservable(source.pipe(assignWatermarks({ maxOutOfOrdernessMs: 3, idleTimeoutMs: 5 })), '^ 16ms !').toBe(
        '(aw) 6ms x 4ms y',
        { a, w: wm(97), x: wm(102), y: wm(107) },
      );
    });
  });

  it('while quiet, reaches the next due time (a window end) when processing time gets there, not at the next check', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const a = rec(100);
      const source = cold('a -', { a });
      // Quiet from 5 (W 97): W reaches the due 120 at 28, between two checks 50 ms apart (5, 55, …).
      // Nothing is due after it: the next check is the periodic one at 78 (W 170).
      const options = { maxOutOfOrdernessMs: 3, idleTimeoutMs: 5, progressIntervalMs: 50, nextDue: () => 120 };
      expectObservable(source.pipe(assignWatermarks(options)), '^ 80ms !').toBe('(aw) 24ms x 49ms y', { a, w: wm(97), x: wm(120), y: wm(170) });
    });
  });

  it('counts quiet time in this subscription only: a restored state starts a new quiet spell', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      // Restored at event time 1,000,000 (a checkpoint long ago): without a record W waits
      // out the idle timeout, then grows from the restored value, never by the time in between.
      const initialState = { watermark: 999_997, partitions: [{ partition: 0, maxEventTime: 1_000_000 }] };
      const source = cold<StreamElement<Reading>>('-');
      expectObservable(source.pipe(assignWatermarks({ maxOutOfOrdernessMs: 3, idleTimeoutMs: 5, initialState })), '^ 16ms !').toBe(
        '10ms x 4ms y',
        { x: wm(1_000_002), y: wm(1_000_007) },
      );
    });
  });

  it('is not quiet while the source is behind: lag, pause or an unreachable broker never advance W', () => {
    const scheduler = testScheduler();
    scheduler.run(({ cold, expectObservable }) => {
      const a = rec(100);
      const source = cold('a -', { a });
      // Idle from 5, but the source catches up only at 12: quiet from the check at 15, W 105 at 20.
      const caughtUp = (): boolean => scheduler.now() >= 12;
      expectObservable(source.pipe(assignWatermarks({ idleTimeoutMs: 5, caughtUp })), '^ 21ms !').toBe('(aw) 16ms x', { a, w: wm(100), x: wm(105) });
    });
  });

  it('a record ends a quiet spell without moving the watermark back', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const a = rec(100), b = rec(103);
      // Quiet from 5: W 105 at 10, 110 at 15. b (103) at 17 ends the spell (W stays 110); quiet
      // again from 22, W_p = 103 + (now − 22) passes 110 only at 32.
      const source = cold('a 16ms b -', { a, b });
      expectObservable(source.pipe(assignWatermarks({ idleTimeoutMs: 5 })), '^ 33ms !').toBe(
        '(aw) 6ms x 4ms y 1ms b 14ms z',
        { a, b, w: wm(100), x: wm(105), y: wm(110), z: wm(113) },
      );
    });
  });

  it('an assigned partition holds the watermark back before its first record (a fresh start on a backlog)', () => {
    testScheduler().run(({ cold, hot, expectObservable }) => {
      const a = rec(10, 'k', 0), b = rec(20, 'k', 0), c = rec(15, 'k', 1);
      const assigned = hot('a', { a: [0, 1] });
      // p1 has delivered nothing: W stays at −∞ (no watermark) until c; then min(20, 15).
      const source = cold(timeline('a', 'b', 'c', '|'), { a, b, c });
      expectObservable(source.pipe(assignWatermarks({ assigned, flushOnComplete: false }))).toBe(timeline('a', 'b', '(cw)', '|'), { a, b, c, w: wm(15) });
    });
  });

  it('stops counting a partition that leaves the assignment at once (a Kafka revocation), without waiting for idleness', () => {
    testScheduler().run(({ cold, hot, expectObservable }) => {
      const a = rec(10, 'k', 0), b = rec(50, 'k', 1), c = rec(60, 'k', 1), d = rec(20, 'k', 0);
      const assigned = hot(timeline('a', '', '', 'r'), { a: [0, 1], r: [1] });
      const source = cold(timeline('a', 'b', '', '', '', 'c', 'd', '|'), { a, b, c, d });
      // W waits for both partitions (10 after b); p0 holds it at 10 until it is revoked; then
      // W = 50; c moves it to 60; d (p0 again) does not lower it.
      expectObservable(source.pipe(assignWatermarks({ assigned, flushOnComplete: false }))).toBe(timeline('a', '(bw)', '', 'x', '', '(cy)', 'd', '|'), {
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
