import { describe, it } from 'vitest';
import { results } from '../operators/results.js';
import { barrier, watermark } from '../operators/stream/elements.js';
import { rec, testScheduler } from './helpers.js';

describe('results', () => {
  it('emits the values of the records and drops watermarks and barriers', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const a = rec(1, 'k', undefined, 3), b = rec(4, 'k', undefined, 7);
      const source = cold('-a-w-b-x-v-|', { a, b, w: watermark(5), x: barrier(1), v: watermark(9) });
      expectObservable(source.pipe(results())).toBe('-a---b-----|', { a: { n: 3 }, b: { n: 7 } });
    });
  });

  it('passes errors through and unsubscribes from the source', () => {
    testScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('-a-#', { a: rec(1) }, new Error('boom'));
      expectObservable(source.pipe(results())).toBe('-a-#', { a: { n: 1 } }, new Error('boom'));
      expectSubscriptions(source.subscriptions).toBe('^--!');
    });
  });
});
