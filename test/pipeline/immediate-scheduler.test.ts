/** `immediateScheduler`: RxJS work on Node's `setImmediate`, after pending I/O, cancellable. */
import { setTimeout as sleep } from 'node:timers/promises';
import { observeOn, of, toArray, firstValueFrom } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { immediateScheduler } from '../../src/pipeline/immediate-scheduler.js';

describe('immediateScheduler', () => {
  it('runs work on a later turn of the event loop, after promise jobs', async () => {
    const order: string[] = [];
    immediateScheduler.schedule(() => order.push('scheduled'));
    void Promise.resolve().then(() => order.push('microtask'));
    order.push('sync');
    await sleep(5);
    expect(order).toEqual(['sync', 'microtask', 'scheduled']);
  });

  it('passes its state and runs again when the work reschedules itself', async () => {
    const seen: number[] = [];
    immediateScheduler.schedule<number>(function (n = 0) {
      seen.push(n);
      if (n < 3) this.schedule(n + 1);
    }, 0, 0);
    await sleep(20);
    expect(seen).toEqual([0, 1, 2, 3]);
  });

  it('runs nothing once unsubscribed, rescheduled work included', async () => {
    let runs = 0;
    const action = immediateScheduler.schedule(function () {
      runs++;
      this.schedule();
    });
    await new Promise((resolve) => setImmediate(resolve));
    action.unsubscribe();
    const after = runs;
    await sleep(20);
    expect(after).toBeGreaterThanOrEqual(1);
    expect(runs).toBe(after);
    const never = immediateScheduler.schedule(() => runs++);
    never.unsubscribe();
    await sleep(5);
    expect(runs).toBe(after);
  });

  it('waits for a delay', async () => {
    const start = Date.now();
    await new Promise<void>((resolve) => immediateScheduler.schedule(() => resolve(), 30));
    expect(Date.now() - start).toBeGreaterThanOrEqual(25);
  });

  it('drives RxJS operators', async () => {
    expect(await firstValueFrom(of(1, 2, 3).pipe(observeOn(immediateScheduler), toArray()))).toEqual([1, 2, 3]);
  });
});
