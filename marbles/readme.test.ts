/**
 * The README's marble-testing example ("Marble-testing the operators"), kept in step
 * with it: it imports what a user imports, from the `./operators` entry.
 */
import { TestScheduler } from 'rxjs/testing';
import { expect, it } from 'vitest';
import { aggregate, assignWatermarks, record, results, tumblingWindow, type Aggregator } from '../operators/index.js';

const count: Aggregator<{ n: number }, number, number> = {
  create: () => 0,
  add: (c) => c + 1,
  merge: (a, b) => a + b,
  result: (c) => c,
};

it('fires the last window of a quiet, never-ending input through the idle timeout', () => {
  new TestScheduler((actual, expected) => expect(actual).toEqual(expected)).run(({ cold, expectObservable }) => {
    const source = cold('a -', { a: record({ n: 1 }, 3, { key: 'k' }) }); // never completes
    const output = source.pipe(
      assignWatermarks({ idleTimeoutMs: 5 }),
      tumblingWindow({ sizeMs: 10 }),
      aggregate({ aggregator: count }),
      results(),
    );
    // Quiet from 5 ms, W follows the clock: 8 at 10 ms, 13 at 15 ms fires [0, 10).
    // '^ 30ms !' ends the subscription: the idle check reschedules itself, so without it run() never returns.
    expectObservable(output, '^ 30ms !').toBe('15ms r', {
      r: { key: 'k', window: { type: 'tumbling', start: 0, end: 10 }, revision: 0, count: 1, result: 1 },
    });
  });
});
