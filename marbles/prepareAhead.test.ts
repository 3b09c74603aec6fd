/** `aggregate`'s `prepareAheadMs`: windows about to fire are prepared (`Aggregator.prepare`) on a scheduler. */
import { Subject, Subscription, type SchedulerAction, type SchedulerLike } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { aggregate } from '../operators/aggregate.js';
import { sessionWindow } from '../operators/sessionWindow.js';
import type { Aggregator } from '../operators/stream/aggregator.js';
import type { StreamElement } from '../operators/stream/elements.js';
import { tumblingWindow } from '../operators/tumblingWindow.js';
import { rec, result, testScheduler, timeline, wm, type CountSum, type Reading } from './helpers.js';

const T = 'tumbling' as const;

type Memo = CountSum & { memo?: CountSum | undefined };

/** `countSum` with a prepared result; `log` hears each preparation as the window's count then. */
function preparing(log: Subject<string>, fail = false): Aggregator<Reading, Memo, CountSum> {
  return {
    create: () => ({ count: 0, sum: 0 }),
    add: (acc, value) => {
      acc.count++;
      acc.sum += value.n;
      acc.memo = undefined;
      return acc;
    },
    merge: (a, b) => ({ count: a.count + b.count, sum: a.sum + b.sum }),
    result: (acc) => acc.memo ?? { count: acc.count, sum: acc.sum },
    prepare: (acc) => {
      log.next(String(acc.count));
      if (fail) throw new Error('cannot prepare');
      acc.memo = { count: acc.count, sum: acc.sum };
    },
  };
}

/** A scheduler whose work runs when the test says so. */
class ManualScheduler implements SchedulerLike {
  readonly actions: Subscription[] = [];
  private queue: (() => void)[] = [];
  now = (): number => 0;

  schedule<S>(work: (this: SchedulerAction<S>, state?: S) => void, _delay = 0, state?: S): Subscription {
    const action = new Subscription() as Subscription & SchedulerAction<S>;
    action.schedule = (next?: S) => {
      this.queue.push(() => {
        if (!action.closed) work.call(action, next);
      });
      return action;
    };
    this.actions.push(action);
    return action.schedule(state);
  }

  runOnce(): void {
    const queue = this.queue;
    this.queue = [];
    for (const run of queue) run();
  }
}

describe('aggregate: results prepared ahead', () => {
  it('prepares a window once the watermark is within prepareAheadMs of its end, again after each record, never once fired', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const log = new Subject<string>();
      // [0,10) comes within 3 ms of its end at W = 7; c opens [10,20), far from its end at W = 10.
      const source = cold(timeline('a', 'w', 'b', 'x', 'c', '|'), { a: rec(1), w: wm(7), b: rec(8), x: wm(10), c: rec(12) });
      expectObservable(source.pipe(tumblingWindow({ sizeMs: 10 }), aggregate({ aggregator: preparing(log), prepareAheadMs: 3 }))).toBe(
        timeline('', 'w', '', '(rx)', '', '(s|)'),
        { w: wm(7), r: result('k', T, 0, 10, 0, 2), x: wm(10), s: result('k', T, 10, 20, 0, 1) },
      );
      // Prepared with one record at W = 7, with two after b; nothing after the firing.
      expectObservable(log).toBe(timeline('', '1', '2'));
    });
  });

  it('leaves unprepared a window that takes records more often than once per prepareAheadMs', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const log = new Subject<string>();
      // Key x: one record in [0,10); key y: four. At W = 6 both are within 5 ms of the end, but
      // y has taken a record every 1.5 ms (6 ms / 4): it would likely take more, and is left to fire.
      const source = cold(timeline('(abcde)', 'w', 'v', 'z', '|'), { a: rec(1, 'x'), b: rec(1, 'y'), c: rec(2, 'y'), d: rec(3, 'y'), e: rec(4, 'y'), w: wm(6), v: wm(9), z: wm(10) });
      expectObservable(source.pipe(tumblingWindow({ sizeMs: 10 }), aggregate({ aggregator: preparing(log), prepareAheadMs: 5 }))).toBe(
        timeline('', 'w', 'v', '(xyz)', '|'),
        { w: wm(6), v: wm(9), x: result('x', T, 0, 10, 0, 1), y: result('y', T, 0, 10, 0, 4), z: wm(10) },
      );
      expectObservable(log).toBe(timeline('', '1'));
    });
  });

  it('precomputes, once, a window that takes records too often to prepare; a precompute that throws changes nothing', () => {
    for (const fail of [false, true]) {
      testScheduler().run(({ cold, expectObservable }) => {
        const log = new Subject<string>();
        // As above, y is busy at W = 6: precomputed with its four records (`c4`), and not again
        // after f, its fifth; x, quiet, is prepared (`1`).
        const aggregator: Aggregator<Reading, Memo, CountSum> = {
          ...preparing(log),
          precompute: (acc) => {
            log.next(`c${acc.count}`);
            if (fail) throw new Error('cannot precompute');
          },
        };
        const source = cold(timeline('(abcde)', 'w', 'f', 'v', 'z', '|'), {
          a: rec(1, 'x'), b: rec(1, 'y'), c: rec(2, 'y'), d: rec(3, 'y'), e: rec(4, 'y'), w: wm(6), f: rec(7, 'y'), v: wm(9), z: wm(10),
        });
        expectObservable(source.pipe(tumblingWindow({ sizeMs: 10 }), aggregate({ aggregator, prepareAheadMs: 5 }))).toBe(
          timeline('', 'w', '', 'v', '(xyz)', '|'),
          { w: wm(6), v: wm(9), x: result('x', T, 0, 10, 0, 1), y: result('y', T, 0, 10, 0, 5), z: wm(10) },
        );
        expectObservable(log).toBe(timeline('', '(ab)'), { a: 'c4', b: '1' });
      });
    }
  });

  it('prepares a session within the horizon, and not once a record moves its end out of it', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const log = new Subject<string>();
      // Gap 5: a(1) makes [1,6); at W = 4 it is within 2 ms of its end; b(3) extends it to [1,8).
      const source = cold(timeline('a', 'w', 'b', 'x', '|'), { a: rec(1), w: wm(4), b: rec(3), x: wm(8) });
      expectObservable(source.pipe(sessionWindow({ gapMs: 5 }), aggregate({ aggregator: preparing(log), prepareAheadMs: 2 }))).toBe(
        timeline('', 'w', '', '(rx)', '|'),
        { w: wm(4), r: result('k', 'session', 1, 8, 0, 2), x: wm(8) },
      );
      // Extended to [1,8), the session is 4 ms past W = 4, out of the horizon: not prepared again
      // before W = 8 fires it (with the record b added, not the result prepared before).
      expectObservable(log).toBe(timeline('', '1'));
    });
  });

  it('gives the results it would give without preparing, with a prepare that throws too', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const log = new Subject<string>();
      const source = cold(timeline('a', 'w', 'b', 'x', '|'), { a: rec(1), w: wm(8), b: rec(9), x: wm(10) });
      expectObservable(source.pipe(tumblingWindow({ sizeMs: 10 }), aggregate({ aggregator: preparing(log, true), prepareAheadMs: 3 }))).toBe(
        timeline('', 'w', '', '(rx)', '|'),
        { w: wm(8), r: result('k', T, 0, 10, 0, 2), x: wm(10) },
      );
      expectObservable(log).toBe(timeline('', '1', '2'));
    });
  });

  it('prepares a restored window within the horizon when subscribed', () => {
    const log: string[] = [];
    const logged = new Subject<string>();
    logged.subscribe((count) => log.push(count));
    const scheduler = new ManualScheduler();
    const initialState = {
      watermark: 8,
      windowType: T,
      windows: [{ id: 0, key: 'k', start: 0, end: 10, accumulator: { count: 2, sum: 2 }, count: 2, revision: -1 }],
    };
    const source = new Subject<StreamElement<Reading>>();
    source.pipe(tumblingWindow({ sizeMs: 10 }), aggregate({ aggregator: preparing(logged), prepareAheadMs: 3, prepareScheduler: scheduler, initialState })).subscribe();
    scheduler.runOnce();
    expect(log).toEqual(['2']);
  });

  it('prepares in slices of 64 windows, one slice per turn of its scheduler', () => {
    const log: string[] = [];
    const logged = new Subject<string>();
    logged.subscribe((count) => log.push(count));
    const scheduler = new ManualScheduler();
    const source = new Subject<StreamElement<Reading>>();
    source.pipe(tumblingWindow({ sizeMs: 10 }), aggregate({ aggregator: preparing(logged), prepareAheadMs: 5, prepareScheduler: scheduler })).subscribe();
    source.next(wm(6));
    for (let i = 0; i < 100; i++) source.next(rec(1, `k${i}`));
    scheduler.runOnce();
    expect(log).toHaveLength(64);
    scheduler.runOnce();
    expect(log).toHaveLength(100);
    scheduler.runOnce();
    expect(log).toHaveLength(100);
  });

  it('cancels a preparation it scheduled when unsubscribed', () => {
    const log = new Subject<string>();
    let prepared = 0;
    log.subscribe(() => prepared++);
    const scheduler = new ManualScheduler();
    const source = new Subject<StreamElement<Reading>>();
    const subscription = source.pipe(tumblingWindow({ sizeMs: 10 }), aggregate({ aggregator: preparing(log), prepareAheadMs: 5, prepareScheduler: scheduler })).subscribe();
    source.next(wm(6));
    source.next(rec(7));
    expect(scheduler.actions.filter((a) => !a.closed)).toHaveLength(1);
    subscription.unsubscribe();
    expect(scheduler.actions.every((a) => a.closed)).toBe(true);
    scheduler.runOnce();
    expect(prepared).toBe(0);
  });

  it('rejects a negative horizon', () => {
    expect(() => aggregate({ aggregator: preparing(new Subject()), prepareAheadMs: -1 })).toThrow(RangeError);
  });
});
