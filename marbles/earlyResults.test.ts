/** `aggregate`'s early results (`earlyIntervalMs`): speculative partial aggregates of open windows on processing time. */
import { describe, expect, it } from 'vitest';
import { aggregate } from '../operators/aggregate.js';
import { sessionWindow } from '../operators/sessionWindow.js';
import { tumblingWindow } from '../operators/tumblingWindow.js';
import type { StreamElement, StreamRecord, WindowResult } from '../operators/stream/elements.js';
import { countSum, rec, result, testScheduler, timeline, wm, type CountSum, type Reading } from './helpers.js';

const T = 'tumbling' as const;

/** `result(…)` as an early result: revision −1, flagged. */
const early = (key: string, start: number, end: number, count: number, sum = count): StreamRecord<WindowResult<CountSum>> => {
  const r = result(key, T, start, end, -1, count, sum);
  return { ...r, value: { ...r.value, early: true } };
};

describe('aggregate: early results', () => {
  it('emits each open window that changed, every interval, and fires the same final result', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const source = cold(timeline('a', 'b', 'c', '', '', 'w', '|'), { a: rec(1), b: rec(4), c: rec(8), w: wm(10) });
      // Ticks at 15 (a, b), 30 (c), 45 (nothing new: nothing emitted), then the window fires at 50.
      expectObservable(source.pipe(tumblingWindow({ sizeMs: 10 }), aggregate({ aggregator: countSum, earlyIntervalMs: 15 }))).toBe(
        '15ms x 14ms y 19ms (rw) 6ms |',
        { x: early('k', 0, 10, 2), y: early('k', 0, 10, 3), r: result('k', T, 0, 10, 0, 3), w: wm(10) },
      );
    });
  });

  it('never emits early for a fired window, even when a late record updates it', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const source = cold(timeline('a', 'w', 'b', '', '|'), { a: rec(1), w: wm(10), b: rec(5) });
      expectObservable(source.pipe(tumblingWindow({ sizeMs: 10 }), aggregate({ aggregator: countSum, allowedLatenessMs: 100, earlyIntervalMs: 15 }))).toBe(
        timeline('', '(rw)', 's', '', '|'),
        { r: result('k', T, 0, 10, 0, 1), w: wm(10), s: result('k', T, 0, 10, 1, 2) },
      );
    });
  });

  // A clock left running would make TestScheduler.run loop for ever: these tests would hang.
  it('stops its clock on completion (every open window fires then)', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const source = cold(timeline('a', '', '', '|'), { a: rec(1) });
      expectObservable(source.pipe(tumblingWindow({ sizeMs: 10 }), aggregate({ aggregator: countSum, earlyIntervalMs: 10 }))).toBe('10ms x 19ms (r|)', {
        x: early('k', 0, 10, 1),
        r: result('k', T, 0, 10, 0, 1),
      });
    });
  });

  it('stops its clock on unsubscription', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const source = cold('a', { a: rec(1) });
      expectObservable(source.pipe(tumblingWindow({ sizeMs: 10 }), aggregate({ aggregator: countSum, earlyIntervalMs: 10 })), '^ 25ms !').toBe('10ms x', {
        x: early('k', 0, 10, 1),
      });
    });
  });

  it('rejects an interval that is not positive', () => {
    expect(() => aggregate({ aggregator: countSum, earlyIntervalMs: 0 })).toThrow(RangeError);
  });

  it('with random input, sessions and lateness: the results without the early ones are those of a run without early results', () => {
    let seed = 7;
    const random = (): number => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
    for (let round = 0; round < 20; round++) {
      // 30 elements, one every 3 frames: records of two keys at random event times, and a
      // watermark 20 behind the latest time every 7th element.
      const elements: StreamElement<Reading>[] = [];
      let maxTime = 0;
      for (let i = 0; i < 30; i++) {
        const t = Math.floor(random() * 200);
        maxTime = Math.max(maxTime, t);
        elements.push(i % 7 === 6 ? wm(maxTime - 20) : rec(t, random() < 0.5 ? 'k' : 'j', undefined, Math.floor(random() * 10)));
      }
      const marble = `${elements.map((_, i) => letter(i)).join(' 2ms ')} |`;
      const values = Object.fromEntries(elements.map((e, i) => [letter(i), e]));
      const run = (earlyIntervalMs: number | undefined): StreamElement<WindowResult<CountSum>>[] => {
        const out: StreamElement<WindowResult<CountSum>>[] = [];
        testScheduler().run(({ cold, flush }) => {
          cold<StreamElement<Reading>>(marble, values)
            .pipe(sessionWindow({ gapMs: 15 }), aggregate({ aggregator: countSum, allowedLatenessMs: 30, ...(earlyIntervalMs === undefined ? {} : { earlyIntervalMs }) }))
            .subscribe((e) => out.push(e));
          flush();
        });
        return out;
      };
      const isEarly = (e: StreamElement<WindowResult<CountSum>>): boolean => e.kind === 'record' && e.value.early === true;
      const plain = run(undefined);
      const withEarly = run(7);
      const earlyOnes = withEarly.filter(isEarly);
      expect(earlyOnes.length).toBeGreaterThan(0);
      expect(earlyOnes.every((e) => e.kind === 'record' && e.value.revision === -1)).toBe(true);
      expect(withEarly.filter((e) => !isEarly(e))).toEqual(plain);
    }
  });
});

/** Marble letters for up to 52 elements. */
const letter = (i: number): string => 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'[i] as string;
