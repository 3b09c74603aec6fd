import { Subject, timer } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { aggregate, type AggregateState } from '../operators/aggregate.js';
import { sessionWindow } from '../operators/sessionWindow.js';
import { slidingWindow } from '../operators/slidingWindow.js';
import { tumblingWindow } from '../operators/tumblingWindow.js';
import type { WindowStateSnapshot } from '../operators/internal/windowState.js';
import { barrier, type WindowedRecord } from '../src/stream/elements.js';
import { countSum, rec, result, testScheduler, timeline, windowed, wm, type CountSum, type Reading } from './helpers.js';

const T = 'tumbling' as const;

describe('aggregate', () => {
  it('hands a record whose processing throws to onRecordError and goes on without it', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const failing: typeof countSum = {
        ...countSum,
        add: (acc, value) => {
          if (value.n < 0) throw new RangeError('negative reading');
          return countSum.add(acc, value);
        },
      };
      const errors = new Subject<string>();
      const b = rec(4, 'k', undefined, -1);
      const source = cold(timeline('a', 'b', 'w', '|'), { a: rec(1), b, w: wm(10) });
      const onRecordError = (record: WindowedRecord<Reading>, error: unknown): void => {
        expect(record).toEqual(windowed(b, T, [{ start: 0, end: 10 }]));
        errors.next((error as Error).message);
      };
      expectObservable(source.pipe(tumblingWindow({ sizeMs: 10 }), aggregate({ aggregator: failing, onRecordError }))).toBe(
        timeline('', '', '(rw)', '|'),
        { r: result('k', T, 0, 10, 0, 1), w: wm(10) },
      );
      expectObservable(errors).toBe(timeline('', 'e'), { e: 'negative reading' });
    });
  });

  it('fails the stream on such an error without onRecordError', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const failing: typeof countSum = {
        ...countSum,
        add: () => {
          throw new RangeError('negative reading');
        },
      };
      const source = cold(timeline('a', '|'), { a: rec(1) });
      expectObservable(source.pipe(tumblingWindow({ sizeMs: 10 }), aggregate({ aggregator: failing }))).toBe('#', undefined, new RangeError('negative reading'));
    });
  });

  it('fires a window when the watermark reaches its end, in order, and flushes on completion', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const source = cold(timeline('a', 'b', 'w', 'c', '|'), { a: rec(1), b: rec(4, 'k', undefined, 5), w: wm(10), c: rec(12) });
      expectObservable(source.pipe(tumblingWindow({ sizeMs: 10 }), aggregate({ aggregator: countSum }))).toBe(
        timeline('', '', '(rw)', '', '(s|)'),
        { r: result('k', T, 0, 10, 0, 2, 6), w: wm(10), s: result('k', T, 10, 20, 0, 1) },
      );
    });
  });

  it('counts out-of-order records that arrive before the watermark passes their window', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const source = cold(timeline('a', 'b', 'c', 'w', '|'), { a: rec(15), b: rec(3), c: rec(9), w: wm(10) });
      expectObservable(source.pipe(tumblingWindow({ sizeMs: 10 }), aggregate({ aggregator: countSum }))).toBe(
        timeline('', '', '', '(rw)', '(s|)'),
        { r: result('k', T, 0, 10, 0, 2), w: wm(10), s: result('k', T, 10, 20, 0, 1) },
      );
    });
  });

  it('keeps windows per key and fires keys of one end in order of creation', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const source = cold(timeline('a', 'b', 'c', 'w', '|'), { a: rec(1, 'x'), b: rec(2, 'y'), c: rec(3, 'x'), w: wm(10) });
      expectObservable(source.pipe(tumblingWindow({ sizeMs: 10 }), aggregate({ aggregator: countSum }))).toBe(
        timeline('', '', '', '(xyw)', '|'),
        { x: result('x', T, 0, 10, 0, 2), y: result('y', T, 0, 10, 0, 1), w: wm(10) },
      );
    });
  });

  it('accepts late records within the allowed lateness as revisions 1, 2…, then sends too-late ones to the side output', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const late = new Subject<WindowedRecord<Reading>>();
      const d = rec(9, 'k', undefined, 7);
      const source = cold(timeline('a', 'b', 'w', 'c', 'x', 'e', 'y', 'd', '|'), {
        a: rec(1), b: rec(4), w: wm(10), c: rec(8), x: wm(12), e: rec(2), y: wm(15), d,
      });
      expectObservable(source.pipe(tumblingWindow({ sizeMs: 10 }), aggregate({ aggregator: countSum, allowedLatenessMs: 5, late }))).toBe(
        timeline('', '', '(rw)', 's', 'x', 't', 'y', '', '|'),
        { r: result('k', T, 0, 10, 0, 2), w: wm(10), s: result('k', T, 0, 10, 1, 3), x: wm(12), t: result('k', T, 0, 10, 2, 4), y: wm(15) },
      );
      expectObservable(late).toBe(timeline('', '', '', '', '', '', '', 'd'), { d: windowed(d, T, [{ start: 0, end: 10 }]) });
    });
  });

  it('opens a window for a late record whose window never fired, emitting revision 0 at once', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const source = cold(timeline('w', 'a', '|'), { w: wm(12), a: rec(5) });
      expectObservable(source.pipe(tumblingWindow({ sizeMs: 10 }), aggregate({ aggregator: countSum, allowedLatenessMs: 5 }))).toBe(
        timeline('w', 'r', '|'),
        { w: wm(12), r: result('k', T, 0, 10, 0, 1) },
      );
    });
  });

  it('aggregates overlapping sliding windows; a record accepted by one window is not late', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const late = new Subject<WindowedRecord<Reading>>();
      const source = cold(timeline('a', 'b', 'w', 'c', '|'), { a: rec(7), b: rec(12), w: wm(15), c: rec(11) });
      const S = 'sliding' as const;
      expectObservable(source.pipe(slidingWindow({ sizeMs: 10, slideMs: 5 }), aggregate({ aggregator: countSum, late }))).toBe(
        timeline('', '', '(xyw)', '', '(z|)'),
        { x: result('k', S, 0, 10, 0, 1), y: result('k', S, 5, 15, 0, 2), w: wm(15), z: result('k', S, 10, 20, 0, 2) },
      );
      // c (11) is too late for [5,15) but accepted by [10,20): nothing on the late output.
      expectObservable(late).toBe('');
    });
  });

  it('merges sessions that overlap or touch, including a record that bridges two sessions', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const S = 'session' as const;
      const source = cold(timeline('a', 'b', 'c', 'd', 'w', '|'), { a: rec(1), b: rec(10), c: rec(5), d: rec(40), w: wm(30) });
      expectObservable(source.pipe(sessionWindow({ gapMs: 5 }), aggregate({ aggregator: countSum }))).toBe(
        timeline('', '', '', '', '(rw)', '(s|)'),
        { r: result('k', S, 1, 15, 0, 3), w: wm(30), s: result('k', S, 40, 45, 0, 1) },
      );
    });
  });

  it('keeps sessions of different keys apart', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const S = 'session' as const;
      const source = cold(timeline('a', 'b', '|'), { a: rec(1, 'x'), b: rec(3, 'y') });
      expectObservable(source.pipe(sessionWindow({ gapMs: 5 }), aggregate({ aggregator: countSum }))).toBe(
        timeline('', '', '(xy|)'),
        { x: result('x', S, 1, 6, 0, 1), y: result('y', S, 3, 8, 0, 1) },
      );
    });
  });

  it('re-fires a session under its new bounds when a late record extends it', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const S = 'session' as const;
      // [1,6) fires at W7. A late record at 4 (within lateness 10) extends it to [1,9):
      // new bounds, so it fires again as revision 0 of [1,9) once W reaches 9.
      // A later record at 2 falls inside [1,9), already fired: revision 1.
      const source = cold(timeline('a', 'w', 'b', 'x', 'c', '|'), { a: rec(1), w: wm(7), b: rec(4), x: wm(9), c: rec(2) });
      expectObservable(source.pipe(sessionWindow({ gapMs: 5 }), aggregate({ aggregator: countSum, allowedLatenessMs: 10 }))).toBe(
        timeline('', '(rw)', '', '(sx)', 't', '|'),
        { r: result('k', S, 1, 6, 0, 1), w: wm(7), s: result('k', S, 1, 9, 0, 2), x: wm(9), t: result('k', S, 1, 9, 1, 3) },
      );
    });
  });

  it('drops a record too late for its session to the side output', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const late = new Subject<WindowedRecord<Reading>>();
      const a = rec(1);
      const source = cold(timeline('w', 'a', '|'), { w: wm(50), a });
      expectObservable(source.pipe(sessionWindow({ gapMs: 5 }), aggregate({ aggregator: countSum, allowedLatenessMs: 10, late }))).toBe(
        timeline('w', '', '|'),
        { w: wm(50) },
      );
      expectObservable(late).toBe(timeline('', 'a'), { a: windowed(a, 'session', [{ start: 1, end: 6 }]) });
    });
  });

  it('snapshots its state when a barrier passes, then forwards the barrier', () => {
    const snapshots: WindowStateSnapshot<CountSum>[] = [];
    testScheduler().run(({ cold, expectObservable }) => {
      const k = barrier(3);
      const source = cold(timeline('a', 'k', '|'), { a: rec(1), k });
      const op = aggregate({ aggregator: countSum, onBarrier: (_id, s) => snapshots.push(structuredClone(s)) });
      expectObservable(source.pipe(tumblingWindow({ sizeMs: 10 }), op)).toBe(timeline('', 'k', '(r|)'), { k, r: result('k', T, 0, 10, 0, 1) });
    });
    expect(snapshots).toEqual([
      { watermark: -Infinity, windowType: 'tumbling', windows: [{ key: 'k', start: 0, end: 10, accumulator: { count: 1, sum: 1 }, count: 1, revision: -1 }] },
    ]);
  });

  it('restores a snapshot and continues as if it had never stopped', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const initialState: WindowStateSnapshot<CountSum> = {
        watermark: 10,
        windowType: 'tumbling',
        windows: [
          { key: 'k', start: 0, end: 10, accumulator: { count: 2, sum: 2 }, count: 2, revision: 0 },
          { key: 'k', start: 10, end: 20, accumulator: { count: 1, sum: 1 }, count: 1, revision: -1 },
        ],
      };
      const source = cold(timeline('a', 'w', '|'), { a: rec(9), w: wm(20) });
      expectObservable(source.pipe(tumblingWindow({ sizeMs: 10 }), aggregate({ aggregator: countSum, allowedLatenessMs: 5, initialState }))).toBe(
        timeline('r', '(sw)', '|'),
        { r: result('k', T, 0, 10, 1, 3), s: result('k', T, 10, 20, 0, 1), w: wm(20) },
      );
    });
  });

  it('sends aggregator errors to the subscriber', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const boom = new Error('bad add');
      const failing = { ...countSum, add: () => { throw boom; } };
      expectObservable(cold('a|', { a: rec(1) }).pipe(tumblingWindow({ sizeMs: 10 }), aggregate({ aggregator: failing }))).toBe('#', undefined, boom);
    });
  });

  it('unsubscribing releases the source and drops all window state', () => {
    let state: AggregateState<CountSum, CountSum> | undefined;
    let openBeforeUnsubscribe = -1;
    testScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold(timeline('a', 'b', '', '|'), { a: rec(1), b: rec(15) });
      const op = aggregate<Reading, CountSum, CountSum>({ aggregator: countSum, onState: (s) => (state = s) });
      timer(12).subscribe(() => (openBeforeUnsubscribe = state?.openWindows ?? -1));
      expectObservable(source.pipe(tumblingWindow({ sizeMs: 10 }), op), '^ 14ms !').toBe('');
      expectSubscriptions(source.subscriptions).toBe('^ 14ms !');
    });
    expect(openBeforeUnsubscribe).toBe(2);
    expect(state?.openWindows).toBe(0);
  });

  it('rejects a negative allowed lateness', () => {
    expect(() => aggregate({ aggregator: countSum, allowedLatenessMs: -1 })).toThrow(RangeError);
  });
});
