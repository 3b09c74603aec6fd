import { describe, it } from 'vitest';
import { aggregate } from '../operators/aggregate.js';
import { assignWatermarks } from '../operators/assignWatermarks.js';
import { tumblingWindow } from '../operators/tumblingWindow.js';
import { countSum, rec, result, testScheduler, wm } from './helpers.js';

describe('assignWatermarks → tumblingWindow → aggregate', () => {
  it('fires the last window of a quiet input through the idle timeout (no completion needed)', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const source = cold('a -', { a: rec(3) });
      const pipeline = source.pipe(
        assignWatermarks({ idleTimeoutMs: 5 }),
        tumblingWindow({ sizeMs: 10 }),
        aggregate({ aggregator: countSum }),
      );
      // W = 3 after the record; quiet from 5, checked every 5 ms: 8 at 10, then 13 ≥ 10 at 15: the window fires.
      expectObservable(pipeline, '^ 16ms !').toBe('w 9ms x 4ms (ry)', { w: wm(3), x: wm(8), r: result('k', 'tumbling', 0, 10, 0, 1), y: wm(13) });
    });
  });

  it('handles out-of-order records within the bound and flushes everything at the end of a bounded input', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const source = cold('a b c d 3ms |', { a: rec(8), b: rec(12), c: rec(9), d: rec(21) });
      const pipeline = source.pipe(
        assignWatermarks({ maxOutOfOrdernessMs: 5 }),
        tumblingWindow({ sizeMs: 10 }),
        aggregate({ aggregator: countSum }),
      );
      // W: 3, 7, (c does not advance), 16 → fires [0,10) with a and c; completion: W = +∞.
      expectObservable(pipeline).toBe('a b - (rc) (sty|)', {
        a: wm(3), b: wm(7), r: result('k', 'tumbling', 0, 10, 0, 2), c: wm(16),
        s: result('k', 'tumbling', 10, 20, 0, 1), t: result('k', 'tumbling', 20, 30, 0, 1), y: wm(Infinity),
      });
    });
  });
});
