import { describe, expect, it } from 'vitest';
import { ByteReader, ByteWriter } from '../../operators/aggregation/binary.js';
import { mulberry32 } from './random.js';

/** Writes each array with `numbers`, reads them back (from an odd address, as a store may hand it over). */
function roundTrip(arrays: readonly number[][]): { back: number[][]; bytes: number } {
  const w = new ByteWriter();
  w.u8(7);
  for (const a of arrays) w.numbers(a, 0, a.length).u8(9);
  const written = w.finish();
  const shifted = new Uint8Array(written.length + 1).subarray(1);
  shifted.set(written);
  const r = new ByteReader(shifted);
  expect(r.u8()).toBe(7);
  const back = arrays.map(() => {
    const a = r.numbers();
    expect(r.u8()).toBe(9);
    return a;
  });
  r.end();
  return { back, bytes: written.length };
}

function expectBitExact(back: readonly number[][], arrays: readonly number[][]): void {
  back.forEach((a, i) => {
    const want = arrays[i]!;
    expect(a.length).toBe(want.length);
    want.forEach((x, j) => expect(Object.is(a[j], x), `array ${i}[${j}]: ${a[j]} vs ${x}`).toBe(true));
  });
}

describe('ByteWriter.numbers / ByteReader.numbers', () => {
  it('round-trips decimals bit-exactly in 2 bytes a value', () => {
    const rnd = mulberry32(3);
    const arrays = [
      Array.from({ length: 50 }, () => Math.round(rnd() * 30000) / 10),
      Array.from({ length: 50 }, () => Math.round(rnd() * 6000) / 1e6),
      Array.from({ length: 50 }, () => 50 + Math.floor(rnd() * 1500)),
      [1, 5, 3, 2],
      // Needs a larger k part-way through: the scan restarts.
      [500, 512.3, 0.25, -7.125],
    ];
    const { back, bytes } = roundTrip(arrays);
    expectBitExact(back, arrays);
    expect(bytes).toBeLessThan(2 * 154 + arrays.length * 12);
  });

  it('falls back to 32-bit mantissas, then to raw doubles, and keeps −0 and extremes', () => {
    const rnd = mulberry32(4);
    const arrays = [
      [123456.7, -98765.4321],
      [Math.PI, 1 / 3, 0.1 + 0.2],
      [0, -0, 1],
      [Number.MAX_VALUE, Number.MIN_VALUE, -Number.MAX_VALUE, 2 ** 31, -(2 ** 31) - 1],
      Array.from({ length: 300 }, () => (rnd() - 0.5) * 1e6),
      [],
    ];
    expectBitExact(roundTrip(arrays).back, arrays);
  });

  it('rejects a truncated array', () => {
    const bytes = new ByteWriter().numbers([Math.PI, Math.E], 0, 2).finish();
    expect(() => new ByteReader(bytes.subarray(0, bytes.length - 1)).numbers()).toThrow(RangeError);
  });
});
