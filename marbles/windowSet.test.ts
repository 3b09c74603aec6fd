import { pipe, Subject } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { aggregate } from '../operators/aggregate.js';
import { sessionWindow } from '../operators/sessionWindow.js';
import { slidingWindow } from '../operators/slidingWindow.js';
import { tumblingWindow } from '../operators/tumblingWindow.js';
import { windowSet, type WindowBranch } from '../operators/windowSet.js';
import type { StreamElement, WindowResult, WindowedRecord } from '../operators/stream/elements.js';
import { countSum, rec, result, testScheduler, timeline, wm, type CountSum, type Reading } from './helpers.js';

const tumbling: WindowBranch<Reading, CountSum> = (late) => pipe(tumblingWindow({ sizeMs: 10 }), aggregate({ aggregator: countSum, allowedLatenessMs: 5, late }));
const sliding: WindowBranch<Reading, CountSum> = (late) => pipe(slidingWindow({ sizeMs: 10, slideMs: 5 }), aggregate({ aggregator: countSum, allowedLatenessMs: 5, late }));
const session: WindowBranch<Reading, CountSum> = (late) => pipe(sessionWindow({ gapMs: 4 }), aggregate({ aggregator: countSum, allowedLatenessMs: 5, late }));

describe('windowSet', () => {
  it('runs every branch over the stream; watermarks and barriers pass once, after the results they fire', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const source = cold(timeline('a', 'w', '|'), { a: rec(3), w: wm(10) });
      expectObservable(source.pipe(windowSet({ branches: [tumbling, sliding] }))).toBe(timeline('', '(tpqw)', '|'), {
        t: result('k', 'tumbling', 0, 10, 0, 1),
        p: result('k', 'sliding', -5, 5, 0, 1),
        q: result('k', 'sliding', 0, 10, 0, 1),
        w: wm(10),
      });
    });
  });

  it('sends a record to late only when it is too late for every branch', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const late = new Subject<number>();
      // At W = 16: b(4) is too late for tumbling [0,10) (purged at 15) and both its sliding windows
      // ([−5,5) purged at 10, [0,10) at 15); c(9) still fits sliding [5,15) (W < 20).
      const source = cold(timeline('a', 'w', 'b', 'c', '|'), { a: rec(3), w: wm(16), b: rec(4), c: rec(9) });
      const out = source.pipe(windowSet({ branches: [tumbling, sliding], late: { next: (r: WindowedRecord<Reading>) => late.next(r.timestamp) } }));
      expectObservable(out).toBe(timeline('', '(tpqw)', '', 'r', '|'), {
        t: result('k', 'tumbling', 0, 10, 0, 1),
        p: result('k', 'sliding', -5, 5, 0, 1),
        q: result('k', 'sliding', 0, 10, 0, 1),
        w: wm(16),
        r: result('k', 'sliding', 5, 15, 0, 1),
      });
      expectObservable(late).toBe(timeline('', '', 'b'), { b: 4 });
    });
  });

  it('rejects an empty set', () => {
    expect(() => windowSet({ branches: [] })).toThrow(RangeError);
  });

  it('equals each branch run alone (brute force over random input): results per type, and late = late for all', () => {
    let seed = 11;
    const random = (): number => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
    const branches = [tumbling, sliding, session];
    let lateSeen = 0;
    for (let round = 0; round < 30; round++) {
      const input: StreamElement<Reading>[] = [];
      let maxTime = 0;
      for (let i = 0; i < 40; i++) {
        const t = Math.floor(random() * 100);
        maxTime = Math.max(maxTime, t);
        input.push(i % 5 === 4 ? wm(maxTime - 8) : rec(t, random() < 0.5 ? 'k' : 'j', undefined, Math.floor(random() * 10)));
      }
      const run = (selected: readonly WindowBranch<Reading, CountSum>[]): { out: StreamElement<WindowResult<CountSum>>[]; late: unknown[] } => {
        const out: StreamElement<WindowResult<CountSum>>[] = [];
        const late: unknown[] = [];
        const subject = new Subject<StreamElement<Reading>>();
        subject.pipe(windowSet({ branches: selected, late: { next: (r) => late.push(r.value) } })).subscribe((e) => out.push(e));
        for (const element of input) subject.next(element);
        subject.complete();
        return { out, late };
      };
      const together = run(branches);
      const alone = branches.map((branch) => run([branch]));
      const typeOf = (e: StreamElement<WindowResult<CountSum>>): string | undefined => (e.kind === 'record' ? e.value.window.type : undefined);
      for (const [i, type] of (['tumbling', 'sliding', 'session'] as const).entries()) {
        expect(together.out.filter((e) => typeOf(e) === type)).toEqual(alone[i]!.out.filter((e) => e.kind === 'record'));
      }
      expect(together.out.filter((e) => e.kind !== 'record')).toEqual(alone[0]!.out.filter((e) => e.kind !== 'record'));
      // Too late for all three: in every alone run's late output (records are distinct objects).
      expect(together.late).toEqual(alone[0]!.late.filter((v) => alone.every((a) => a.late.includes(v))));
      lateSeen += together.late.length;
    }
    // The input does produce records too late for all three (the rule above is exercised).
    expect(lateSeen).toBeGreaterThan(0);
  });
});
