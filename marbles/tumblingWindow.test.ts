import { describe, expect, it } from 'vitest';
import { tumblingWindow } from '../operators/tumblingWindow.js';
import { barrier } from '../operators/stream/elements.js';
import { rec, testScheduler, windowed, wm } from './helpers.js';

describe('tumblingWindow', () => {
  it('assigns each record the epoch-aligned window [t − t mod S, … + S)', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const a = rec(3), b = rec(12), c = rec(7), d = rec(10), w = wm(15);
      expectObservable(cold('a b w c d |', { a, b, c, d, w }).pipe(tumblingWindow({ sizeMs: 10 }))).toBe('a b w c d |', {
        a: windowed(a, 'tumbling', [{ start: 0, end: 10 }]),
        b: windowed(b, 'tumbling', [{ start: 10, end: 20 }]),
        w,
        c: windowed(c, 'tumbling', [{ start: 0, end: 10 }]),
        d: windowed(d, 'tumbling', [{ start: 10, end: 20 }]),
      });
    });
  });

  it('aligns event times before the epoch too', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const a = rec(-3);
      expectObservable(cold('a|', { a }).pipe(tumblingWindow({ sizeMs: 10 }))).toBe('a|', {
        a: windowed(a, 'tumbling', [{ start: -10, end: 0 }]),
      });
    });
  });

  it('keys records with a key selector and forwards barriers', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const a = rec(1, 'ignored', undefined, 42), k = barrier(7);
      expectObservable(cold('a k |', { a, k }).pipe(tumblingWindow({ sizeMs: 5, key: (v) => `n=${v.n}` }))).toBe('a k |', {
        a: { ...windowed(a, 'tumbling', [{ start: 0, end: 5 }]), key: 'n=42' },
        k,
      });
    });
  });

  it('sends key selector errors to the subscriber and unsubscribes the source', () => {
    testScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const boom = new Error('no key');
      const source = cold('a b |', { a: rec(1), b: rec(2) });
      expectObservable(source.pipe(tumblingWindow({ sizeMs: 5, key: () => { throw boom; } }))).toBe('#', undefined, boom);
      expectSubscriptions(source.subscriptions).toBe('(^!)');
    });
  });

  it('unsubscribing releases the source', () => {
    testScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('a 5ms b |', { a: rec(1), b: rec(2) });
      expectObservable(source.pipe(tumblingWindow({ sizeMs: 5 })), '^ 2ms !').toBe('a', { a: windowed(rec(1), 'tumbling', [{ start: 0, end: 5 }]) });
      expectSubscriptions(source.subscriptions).toBe('^ 2ms !');
    });
  });

  it('rejects a non-positive size', () => {
    expect(() => tumblingWindow({ sizeMs: 0 })).toThrow(RangeError);
  });
});
