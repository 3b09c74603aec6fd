import { TestScheduler } from 'rxjs/testing';
import { expect } from 'vitest';
import type { Aggregator } from '../operators/stream/aggregator.js';
import type { StreamRecord, TimeWindow, WindowResult, WindowType, WindowedRecord, Watermark } from '../operators/stream/elements.js';

/** A TestScheduler that compares frames with vitest's deep equality. */
export const testScheduler = (): TestScheduler =>
  new TestScheduler((actual, expected) => {
    expect(actual).toEqual(expected);
  });

export interface Reading {
  readonly n: number;
}

/** A record with value `{ n }`, event time `timestamp`, optional key and partition. */
export const rec = (timestamp: number, key = 'k', partition?: number, n = 1): StreamRecord<Reading> => ({
  kind: 'record',
  value: { n },
  timestamp,
  key,
  ...(partition === undefined ? {} : { partition }),
});

export const wm = (time: number): Watermark => ({ kind: 'watermark', time });

/** What a window assigner makes of `rec(...)`. */
export const windowed = (
  record: StreamRecord<Reading>,
  type: WindowType,
  windows: TimeWindow[],
): WindowedRecord<Reading> => ({
  ...record,
  key: record.key ?? '',
  partition: record.partition,
  offset: record.offset,
  windows,
  assignment: { type, merging: type === 'session' },
});

export interface CountSum {
  count: number;
  sum: number;
}

/** A tiny aggregator for marble tests: count and sum of `n`. */
export const countSum: Aggregator<Reading, CountSum, CountSum> = {
  create: () => ({ count: 0, sum: 0 }),
  add: (acc, value) => {
    acc.count++;
    acc.sum += value.n;
    return acc;
  },
  merge: (a, b) => ({ count: a.count + b.count, sum: a.sum + b.sum }),
  result: (acc) => ({ ...acc }),
};

/** The result record `aggregate` emits for one (key, window, revision). */
export const result = (
  key: string,
  type: WindowType,
  start: number,
  end: number,
  revision: number,
  count: number,
  sum = count,
): StreamRecord<WindowResult<CountSum>> => ({
  kind: 'record',
  value: { key, window: { type, start, end }, revision, count, result: { count, sum } },
  timestamp: end - 1,
  key,
});

/**
 * A marble string with one slot every 10 frames: `timeline('a', '', '(rw)', '|')`
 * puts `a` at frame 0, nothing at 10, `r` and `w` at 20 and completion at 30.
 * It keeps marbles readable when grouped emissions would shift later frames.
 */
export const timeline = (...slots: string[]): string => {
  const parts: string[] = [];
  let wait = 0;
  for (const slot of slots) {
    if (slot === '') {
      wait += 10;
      continue;
    }
    if (wait > 0) parts.push(`${wait}ms`);
    parts.push(slot);
    wait = 10 - slot.length;
  }
  return parts.join(' ');
};
