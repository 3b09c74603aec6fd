import { Subject, timer } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { aggregate, type AggregateState } from '../operators/aggregate.js';
import type { WindowChanges } from '../operators/internal/windowState.js';
import { sessionWindow } from '../operators/sessionWindow.js';
import { slidingWindow } from '../operators/slidingWindow.js';
import { tumblingWindow } from '../operators/tumblingWindow.js';
import type { WindowCursor, WindowPage, WindowStateSnapshot } from '../operators/internal/windowState.js';
import { barrier, type StreamElement, type WindowedRecord } from '../operators/stream/elements.js';
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
      { watermark: -Infinity, windowType: 'tumbling', windows: [{ id: 0, key: 'k', start: 0, end: 10, accumulator: { count: 1, sum: 1 }, count: 1, revision: -1 }], nextId: 1 },
    ]);
  });

  it('with trackChanges, reports the windows changed and removed since the last takeChanges', () => {
    let state: AggregateState<CountSum, CountSum> | undefined;
    const changes: WindowChanges<CountSum>[] = [];
    testScheduler().run(({ cold, expectObservable }) => {
      // [0,10) opens (id 0), [10,20) opens (id 1); W 20 fires both and purges [0,10) (lateness 5).
      const source = cold(timeline('a', 'b', '', 'w', '|'), { a: rec(1), b: rec(12), w: wm(20) });
      const op = aggregate({ aggregator: countSum, allowedLatenessMs: 5, trackChanges: true, onState: (s) => (state = s) });
      expectObservable(source.pipe(tumblingWindow({ sizeMs: 10 }), op)).toBe(
        timeline('', '', '', '(rsw)', '|'),
        { r: result('k', T, 0, 10, 0, 1), s: result('k', T, 10, 20, 0, 1), w: wm(20) },
      );
      // Taken between b and w, then between w and the end (completion clears the state).
      cold('20ms x 14ms y').subscribe(() => changes.push(structuredClone(state!.takeChanges())));
    });
    expect(changes[0]!.changed.map((w) => [w.id, w.count, w.revision])).toEqual([[0, 1, -1], [1, 1, -1]]);
    expect(changes[0]!.removed).toEqual([]);
    // After the watermark: [0,10) fired and was purged, [10,20) fired.
    expect(changes[1]!.changed.map((w) => [w.id, w.revision])).toEqual([[1, 0]]);
    expect(changes[1]!.removed).toEqual([0]);
  });

  it('with onAccumulate, logs each accumulated record and reports only opened and reshaped windows', () => {
    let state: AggregateState<CountSum, CountSum> | undefined;
    const changes: WindowChanges<CountSum>[] = [];
    const logged: [number, number][] = [];
    testScheduler().run(({ cold, expectObservable }) => {
      // [0,10) opens (id 0) with a and b; then c grows it; W 10 fires it; rewrite asked for [10,20) (id 1).
      const source = cold(timeline('a', 'b', 'c', 'd', 'w', '|'), { a: rec(1, 'k', undefined, 1), b: rec(2, 'k', undefined, 2), c: rec(3, 'k', undefined, 3), d: rec(12, 'k', undefined, 4), w: wm(10) });
      const op = aggregate({ aggregator: countSum, allowedLatenessMs: 5, trackChanges: true, onState: (s) => (state = s), onAccumulate: (id, v: Reading) => logged.push([id, v.n]) });
      expectObservable(source.pipe(tumblingWindow({ sizeMs: 10 }), op)).toBe(timeline('', '', '', '', '(rw)', '(s|)'), {
        r: result('k', T, 0, 10, 0, 3, 6),
        w: wm(10),
        s: result('k', T, 10, 20, 0, 1, 4),
      });
      cold('15ms x 20ms y 9ms z').subscribe(() => changes.push(structuredClone(state!.takeChanges(changes.length === 2 ? [1] : []))));
    });
    expect(logged).toEqual([[0, 1], [0, 2], [0, 3], [1, 4]]);
    // After b: [0,10) opened. After d: [0,10) only grew (in the log), [10,20) opened.
    expect(changes[0]!.changed.map((w, i) => [w.id, changes[0]!.kinds![i]])).toEqual([[0, 'opened']]);
    expect(changes[1]!.changed.map((w, i) => [w.id, changes[1]!.kinds![i]])).toEqual([[1, 'opened']]);
    // After the watermark: [0,10) fired (reshaped); [10,20), unchanged, is rewritten as asked.
    expect(changes[2]!.changed.map((w, i) => [w.id, w.count, changes[2]!.kinds![i]])).toEqual([[0, 3, 'reshaped'], [1, 1, 'reshaped']]);
  });

  it('restores a snapshot and continues as if it had never stopped', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const initialState: WindowStateSnapshot<CountSum> = {
        watermark: 10,
        windowType: 'tumbling',
        windows: [
          { id: 0, key: 'k', start: 0, end: 10, accumulator: { count: 2, sum: 2 }, count: 2, revision: 0 },
          { id: 1, key: 'k', start: 10, end: 20, accumulator: { count: 1, sum: 1 }, count: 1, revision: -1 },
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

  it('pages open windows in (key, start) order: every window exactly once, by key, with no result computed beyond the page', () => {
    const input = new Subject<StreamElement<Reading>>();
    let state: AggregateState<CountSum, CountSum> | undefined;
    let results = 0;
    const counting = { ...countSum, result: (acc: CountSum) => (results++, countSum.result(acc)) };
    input.pipe(tumblingWindow({ sizeMs: 10 }), aggregate({ aggregator: counting, onState: (s) => (state = s) })).subscribe();
    // 2,000 keys × 10 windows, inserted in an order that is neither key nor start order.
    for (let t = 95; t >= 0; t -= 10) for (let k = 0; k < 2000; k++) input.next(rec(t, `key-${(k * 7919) % 2000}`));
    expect(state!.openWindows).toBe(20_000);

    const seen: string[] = [];
    let after: WindowCursor | undefined;
    let pages = 0;
    do {
      results = 0;
      const page: WindowPage<CountSum> = state!.peekPage({ limit: 1000, ...(after === undefined ? {} : { after }) });
      expect(results).toBe(0);
      for (const r of page.windows) seen.push(`${r.key}@${r.window.start}`);
      expect(results).toBe(page.next === undefined ? 20_000 % 1000 || 1000 : 1000);
      after = page.next;
      pages++;
    } while (after !== undefined);
    expect(pages).toBe(20);
    const expected = [...state!.peek()].map((r) => [r.key, r.window.start] as const)
      .sort(([a, s], [b, t]) => (a < b ? -1 : a > b ? 1 : s - t)).map(([k, st]) => `${k}@${st}`);
    expect(seen).toEqual(expected);

    const byKey = state!.peekPage({ key: 'key-7', limit: 4 });
    expect([...byKey.windows].map((r) => r.window.start)).toEqual([0, 10, 20, 30]);
    expect(byKey.next).toEqual({ key: 'key-7', start: 30 });
    expect([...state!.peekPage({ key: 'key-7', limit: 100, after: byKey.next }).windows].map((r) => r.window.start)).toEqual([40, 50, 60, 70, 80, 90]);
    expect([...state!.peekPage({ key: 'none', limit: 5 }).windows]).toEqual([]);
    expect(() => state!.peekPage({ limit: 0 })).toThrow(RangeError);
  });

  it('pages session windows by key and start', () => {
    const input = new Subject<StreamElement<Reading>>();
    let state: AggregateState<CountSum, CountSum> | undefined;
    input.pipe(sessionWindow({ gapMs: 5 }), aggregate({ aggregator: countSum, onState: (s) => (state = s) })).subscribe();
    for (const [t, key] of [[20, 'b'], [0, 'b'], [3, 'b'], [50, 'a'], [10, 'a']] as const) input.next(rec(t, key));
    const first = state!.peekPage({ limit: 2 });
    expect([...first.windows].map((r) => [r.key, r.window.start, r.count])).toEqual([['a', 10, 1], ['a', 50, 1]]);
    const rest = state!.peekPage({ limit: 2, after: first.next! });
    expect([...rest.windows].map((r) => [r.key, r.window.start, r.count])).toEqual([['b', 0, 2], ['b', 20, 1]]);
    expect(rest.next).toBeUndefined();
  });

  it('rejects a negative allowed lateness', () => {
    expect(() => aggregate({ aggregator: countSum, allowedLatenessMs: -1 })).toThrow(RangeError);
  });
});
