/**
 * `aggregate`'s window state keeps a key's (empty) window map once its last window is purged,
 * since the key usually opens its next window moments later; the empty maps are dropped once
 * they outnumber both 10,000 and twice the keys holding windows. Keys come and go here (700
 * new ones per window, 50 that stay), with late records within and past the allowed lateness:
 * the results must be a brute-force model's, and the maps held must stay within that bound.
 */
import { describe, expect, it } from 'vitest';
import { KeyedWindowState } from '../operators/internal/windowState.js';
import type { WindowResult } from '../operators/stream/elements.js';
import { mulberry32 } from '../test/aggregation/random.js';
import { countSum, rec, windowed, type CountSum } from './helpers.js';

const SIZE = 10;
const LATENESS = 5;
const ROUNDS = 40;

interface ModelWindow {
  count: number;
  sum: number;
  revision: number;
}

const describeResult = (r: WindowResult<CountSum>): string => `${r.key}@${r.window.start}#${r.revision}:${r.result.count}/${r.result.sum}`;

describe('aggregate window state over keys that come and go', () => {
  it('gives the brute-force results and drops empty key maps past the bound', () => {
    const random = mulberry32(11);
    const emitted: string[] = [];
    const state = new KeyedWindowState(countSum, LATENESS, (r: WindowResult<CountSum>) => emitted.push(describeResult(r)));
    const heldMaps = (): number => (state as unknown as { fixed: Map<string, Map<number, unknown>> }).fixed.size;
    const model = new Map<string, ModelWindow>();
    const expected: string[] = [];
    let watermark = -Infinity;
    const advance = (to: number): void => {
      state.advanceWatermark(to);
      watermark = to;
      for (const [id, w] of model) {
        const [key, start] = [id.slice(0, id.lastIndexOf('@')), Number(id.slice(id.lastIndexOf('@') + 1))];
        if (w.revision < 0 && watermark >= start + SIZE) expected.push(`${key}@${start}#${(w.revision = 0)}:${w.count}/${w.sum}`);
        if (watermark >= start + SIZE + LATENESS) model.delete(id);
      }
    };
    const add = (key: string, time: number, n: number): void => {
      const start = Math.floor(time / SIZE) * SIZE;
      state.add(windowed(rec(time, key, undefined, n), 'tumbling', [{ start, end: start + SIZE }]));
      if (watermark >= start + SIZE + LATENESS) return;
      const id = `${key}@${start}`;
      let w = model.get(id);
      if (w === undefined) model.set(id, (w = { count: 0, sum: 0, revision: -1 }));
      w.count++;
      w.sum += n;
      // A window the watermark has passed fires on each record (a late one opens it fired).
      if (w.revision >= 0 || watermark >= start + SIZE) expected.push(`${key}@${start}#${++w.revision}:${w.count}/${w.sum}`);
    };

    let maxHeld = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const from = round * SIZE;
      for (let i = 0; i < 1_500; i++) {
        const key = random() < 0.2 ? `stable-${Math.floor(random() * 50)}` : `k-${round * 700 + Math.floor(random() * 700)}`;
        // Mostly this round's window; some records for the previous ones (late, within the
        // lateness or past it).
        const time = random() < 0.9 ? from + random() * SIZE : from - random() * 2 * SIZE;
        add(key, time, Math.floor(random() * 100));
      }
      advance(from + SIZE + 1);
      const keysHolding = new Set([...model.keys()].map((id) => id.slice(0, id.lastIndexOf('@')))).size;
      expect(state.openWindows).toBe(model.size);
      expect(heldMaps() - keysHolding).toBeLessThanOrEqual(Math.max(10_000, 2 * keysHolding));
      maxHeld = Math.max(maxHeld, heldMaps());
    }
    advance(Infinity);

    expect(emitted.sort()).toEqual(expected.sort());
    expect(state.openWindows).toBe(0);
    // 28,000 keys in all: the empty maps were dropped on the way (10,001 at most are left).
    expect(maxHeld).toBeGreaterThan(10_000);
    expect(heldMaps()).toBeLessThanOrEqual(10_000);
  });
});
