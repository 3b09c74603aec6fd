import { describe, expect, it } from 'vitest';
import { sessionWindow } from '../operators/sessionWindow.js';
import { barrier } from '../operators/stream/elements.js';
import { rec, testScheduler, windowed, wm } from './helpers.js';

describe('sessionWindow', () => {
  it('assigns each record the merging proto-session [t, t + G)', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const a = rec(1), b = rec(4), w = wm(3), k = barrier(1);
      expectObservable(cold('a w b k |', { a, b, w, k }).pipe(sessionWindow({ gapMs: 5 }))).toBe('a w b k |', {
        a: windowed(a, 'session', [{ start: 1, end: 6 }]),
        w,
        b: windowed(b, 'session', [{ start: 4, end: 9 }]),
        k,
      });
    });
  });

  it('sends key selector errors to the subscriber', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const boom = new Error('no key');
      expectObservable(cold('a|', { a: rec(1) }).pipe(sessionWindow({ gapMs: 5, key: () => { throw boom; } }))).toBe('#', undefined, boom);
    });
  });

  it('rejects a non-positive gap', () => {
    expect(() => sessionWindow({ gapMs: -1 })).toThrow(RangeError);
  });
});
