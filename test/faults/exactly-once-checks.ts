/**
 * The exactly-once checks of the fault suite: what a `read_committed` reader of the outputs
 * (the harness's tails: kafkajs reads committed by default) must see with
 * `processing_guarantee: exactly_once`.
 */
import { expect } from 'vitest';
import { type Sent, type Tail, checkRun, waitUntil } from './harness.js';

/** Each (key, window, revision) of the results and each dead letter's input position, counted. */
export function repeats(results: readonly string[], deadLetters: readonly string[]): string[] {
  const seen = new Map<string, number>();
  const count = (id: string): void => void seen.set(id, (seen.get(id) ?? 0) + 1);
  for (const value of results) {
    const r = JSON.parse(value) as { key: unknown; window: { start: number }; revision: number };
    count(`result ${JSON.stringify(r.key)} @${r.window.start} rev ${r.revision}`);
  }
  for (const value of deadLetters) {
    const d = JSON.parse(value) as { partition?: number; offset?: string | number };
    count(`dead letter of ${d.partition}:${d.offset}`);
  }
  return [...seen].filter(([, n]) => n > 1).map(([id, n]) => `${id}: ${n} times`);
}

/** Waits until neither tail has read anything new for `quietMs` (transaction markers take offsets, so counts cannot tell). */
export async function settled(tails: readonly Tail[], quietMs = 3_000): Promise<void> {
  let last = -1;
  let since = Date.now();
  await waitUntil('the output topics to settle', () => {
    const size = tails.reduce((sum, tail) => sum + tail.messages.size, 0);
    if (size !== last) {
      last = size;
      since = Date.now();
    }
    return Date.now() - since >= quietMs;
  }, 60_000);
}

/** No repeats, then the harness's comparison with the brute-force model. */
export function expectExactlyOnce(label: string, sent: readonly Sent[], results: Tail, deadLetters: Tail): void {
  const repeated = repeats(results.values(), deadLetters.values());
  expect(repeated, `${label}: output seen more than once by a read_committed reader`).toEqual([]);
  checkRun(label, sent, results.values(), deadLetters.values());
}
