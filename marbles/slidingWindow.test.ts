import { describe, expect, it } from 'vitest';
import { slidingWindow } from '../operators/slidingWindow.js';
import { rec, testScheduler, windowed, wm } from './helpers.js';

describe('slidingWindow', () => {
  it('assigns every window k·D ≤ t < k·D + S, earliest first', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const a = rec(7), b = rec(12), c = rec(10), w = wm(20);
      expectObservable(cold('a b c w |', { a, b, c, w }).pipe(slidingWindow({ sizeMs: 10, slideMs: 5 }))).toBe('a b c w |', {
        a: windowed(a, 'sliding', [{ start: 0, end: 10 }, { start: 5, end: 15 }]),
        b: windowed(b, 'sliding', [{ start: 5, end: 15 }, { start: 10, end: 20 }]),
        c: windowed(c, 'sliding', [{ start: 5, end: 15 }, { start: 10, end: 20 }]),
        w,
      });
    });
  });

  it('handles a slide that does not divide the size', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const a = rec(9);
      expectObservable(cold('a|', { a }).pipe(slidingWindow({ sizeMs: 10, slideMs: 4 }))).toBe('a|', {
        a: windowed(a, 'sliding', [{ start: 0, end: 10 }, { start: 4, end: 14 }, { start: 8, end: 18 }]),
      });
    });
  });

  it('equals tumbling windows when the slide is the size', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const a = rec(13);
      expectObservable(cold('a|', { a }).pipe(slidingWindow({ sizeMs: 10, slideMs: 10 }))).toBe('a|', {
        a: windowed(a, 'sliding', [{ start: 10, end: 20 }]),
      });
    });
  });

  it('sends key selector errors to the subscriber', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const boom = new Error('no key');
      expectObservable(cold('a|', { a: rec(1) }).pipe(slidingWindow({ sizeMs: 10, slideMs: 5, key: () => { throw boom; } }))).toBe('#', undefined, boom);
    });
  });

  it('rejects a slide larger than the size', () => {
    expect(() => slidingWindow({ sizeMs: 5, slideMs: 10 })).toThrow(/must not exceed/);
  });
});
