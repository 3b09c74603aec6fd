import { describe, expect, it } from 'vitest';
import { LineSplitter, type LineBatch } from '../../src/io/index.js';

/** Feeds `input` in chunks of `size` bytes and collects every line with its end offset. */
function split(input: Buffer, size: number, start = 0): Array<[string, number]> {
  const splitter = new LineSplitter(start);
  const out: Array<[string, number]> = [];
  const take = (batch: LineBatch): void => batch.lines.forEach((line, i) => out.push([line, batch.ends[i]!]));
  for (let i = 0; i < input.length; i += size) take(splitter.push(input.subarray(i, i + size)));
  take(splitter.finish());
  return out;
}

describe('LineSplitter', () => {
  it('gives each line the byte offset after its newline, whatever the chunking', () => {
    const input = Buffer.from('{"a":1}\n{"b":2}\n{"c":3}\n');
    for (const size of [1, 2, 3, 7, 8, 100]) {
      expect(split(input, size)).toEqual([['{"a":1}', 8], ['{"b":2}', 16], ['{"c":3}', 24]]);
    }
  });

  it('keeps a final line without newline', () => {
    expect(split(Buffer.from('a\nbc'), 3)).toEqual([['a', 2], ['bc', 4]]);
  });

  it('drops the CR of CRLF line ends but counts its byte', () => {
    expect(split(Buffer.from('a\r\nb\r\nc\r'), 2)).toEqual([['a', 3], ['b', 6], ['c', 8]]);
  });

  it('skips empty and whitespace-only lines', () => {
    expect(split(Buffer.from('\na\n\n \t\r\n\r\nb\n\n'), 4)).toEqual([['a', 3], ['b', 12]]);
  });

  it('counts bytes, not characters, for multi-byte UTF-8, even split inside a character', () => {
    const input = Buffer.from('{"m":"é"}\n{"m":"🙂"}\nx\n');
    for (const size of [1, 5, 6, 13, 100]) {
      expect(split(input, size)).toEqual([['{"m":"é"}', 11], ['{"m":"🙂"}', 24], ['x', 26]]);
    }
  });

  it('drops a byte-order mark at the start only', () => {
    expect(split(Buffer.from('\uFEFFa\n\uFEFFb\n'), 100)).toEqual([['a', 5], ['\uFEFFb', 10]]);
    expect(split(Buffer.from('\uFEFFa\n'), 100, 10)).toEqual([['\uFEFFa', 15]]);
  });

  it('offsets count from the start offset', () => {
    expect(split(Buffer.from('a\nb\n'), 100, 1000)).toEqual([['a', 1002], ['b', 1004]]);
  });

  it('reports the consumed offset including skipped lines', () => {
    const splitter = new LineSplitter();
    expect(splitter.push(Buffer.from('a\n\n\nb')).end).toBe(4);
    expect(splitter.finish().end).toBe(5);
  });

  it('splits chunks larger than its 64 KiB decode pieces as it splits small ones (ASCII, multi-byte, a line longer than a piece)', () => {
    const lines = Array.from({ length: 3000 }, (_, i) => (i % 3 === 0 ? `{"é":${i}}` : i === 1000 ? 'x'.repeat(150_000) : `{"i":${i},"pad":"${'p'.repeat(i % 300)}"}`));
    const input = Buffer.from(lines.join('\n') + '\n\n  \n' + 'last');
    const expected = [...lines, 'last'];
    const whole = split(input, input.length);
    expect(whole.map(([line]) => line)).toEqual(expected);
    expect(split(input, 4096)).toEqual(whole);
    expect(whole[whole.length - 1]).toEqual(['last', input.length]);
    const ascii = Buffer.from(lines.map((l) => l.replace('é', 'e')).join('\n') + '\n');
    expect(split(ascii, ascii.length)).toEqual(split(ascii, 1000));
  });
});
