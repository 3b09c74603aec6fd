/**
 * `formatWindowResult` writes the output line piece by piece; the contract is the line
 * `JSON.stringify` gives for the record as one object in DESIGN.md's key order (the
 * implementation before bench/firing.ts). This compares the two byte for byte over
 * randomised records: awkward numbers, names that need escaping, integer-like names
 * (which `JSON.stringify` writes first), `__proto__`, optional keys present or not,
 * window bounds and emission times repeated from the record before or not.
 */
import { describe, expect, it } from 'vitest';
import type { WindowResult, WindowType } from '../../operators/stream/elements.js';
import { setField } from '../../operators/stream/fields.js';
import { formatWindowResult, toWindowOutput, type AggregateOutput, type WindowOutput } from '../../src/events/index.js';
import { mulberry32 } from '../aggregation/random.js';

/** The output line as it was written before: one object, `JSON.stringify`. */
function referenceLine(output: WindowOutput): string {
  return JSON.stringify({
    key: output.key,
    window: output.window.spec === undefined
      ? { type: output.window.type, start: output.window.start, end: output.window.end }
      : { type: output.window.type, spec: output.window.spec, start: output.window.start, end: output.window.end },
    revision: output.revision,
    ...(output.early === true ? { early: true } : {}),
    event_count: output.eventCount,
    emitted_at: output.emittedAt,
    metrics: output.metrics,
  });
}

const AWKWARD_NUMBERS = [
  0, -0, 1, -1, NaN, Infinity, -Infinity, 0.1 + 0.2, 1e21, 1e-7, 123456789012345680000, 5e-324, -5e-324,
  Number.MAX_VALUE, Number.MIN_SAFE_INTEGER, 2 ** 53 + 2, 1795687530112, 440.84615384615387, 0.0033880000000000004,
];
const AWKWARD_TEXTS = [
  'gpt-4o', '', 'a"b', 'back\\slash', 'line\nbreak', '\u0000\u001f\u007f', 'tab\t', 'ünïcödé', '模型', '😀', '\ud800', 'x\udc00y',
  '0', '12', '4294967295', '-1', '1.5', '__proto__', 'constructor', 'toString', 'p99.9', ' ',
];

function recordOutputs(seed: number, count: number): WindowOutput[] {
  const random = mulberry32(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const number = (): number => {
    switch (Math.floor(random() * 4)) {
      case 0:
        return pick(AWKWARD_NUMBERS);
      case 1:
        return Math.floor(random() * 1e6);
      case 2:
        return (random() - 0.5) * 10 ** Math.floor(random() * 40 - 20);
      default:
        return Math.round(random() * 1e6) / 10 ** Math.floor(random() * 8);
    }
  };
  const text = (): string => (random() < 0.5 ? pick(AWKWARD_TEXTS) : `${pick(AWKWARD_TEXTS)}${pick(AWKWARD_TEXTS)}`);
  // Window bounds and emission times repeat from one record to the next, as at a window end.
  const times: number[] = [0, 0, 0];
  const time = (i: number): number => (random() < 0.5 ? times[i]! : (times[i] = number()));
  const outputs: WindowOutput[] = [];
  for (let n = 0; n < count; n++) {
    const key: Record<string, string | null> = {};
    for (let i = Math.floor(random() * 4); i > 0; i--) setField(key, text(), random() < 0.2 ? null : text());
    const metrics: Record<string, Record<string, number>> = {};
    for (let i = Math.floor(random() * 6); i > 0; i--) {
      const summary: Record<string, number> = {};
      for (let j = Math.floor(random() * 10); j > 0; j--) setField(summary, random() < 0.7 ? pick(['count', 'sum', 'avg', 'min', 'max', 'stddev', 'p50', 'p95', 'p99']) : text(), number());
      setField(metrics, text(), summary);
    }
    const type = pick<WindowType>(['tumbling', 'sliding', 'session']);
    const spec = random() < 0.3 ? text() : undefined;
    outputs.push({
      key,
      window: spec === undefined ? { type, start: time(0), end: time(1) } : { type, spec, start: time(0), end: time(1) },
      revision: random() < 0.2 ? -1 : Math.floor(random() * 3),
      ...(random() < 0.2 ? { early: true as const } : {}),
      eventCount: number(),
      emittedAt: time(2),
      metrics,
    });
  }
  return outputs;
}

describe('formatWindowResult, byte for byte', () => {
  it('writes what JSON.stringify of the record writes, over randomised records', () => {
    for (const output of recordOutputs(20261207, 10_000)) expect(formatWindowResult(output)).toBe(referenceLine(output));
  });

  it('writes the same line for a window result whichever optional keys it has', () => {
    const random = mulberry32(7);
    for (const output of recordOutputs(11, 2_000)) {
      const result: WindowResult<AggregateOutput> = {
        key: 'k',
        window: { type: output.window.type, start: output.window.start, end: output.window.end },
        revision: output.revision,
        count: 1,
        ...(output.early === true ? { early: true } : {}),
        result: { eventCount: output.eventCount, metrics: output.metrics, keyFields: output.key, ...(output.window.spec === undefined ? {} : { spec: output.window.spec }) },
      };
      const adapted = toWindowOutput(result, output.emittedAt, random() < 0.5 ? output.key : undefined);
      expect(adapted).toStrictEqual(output);
      expect(formatWindowResult(adapted)).toBe(referenceLine(output));
    }
  });
});
