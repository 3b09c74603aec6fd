import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { firstValueFrom, lastValueFrom, Observable, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { fileSource, streamSource, type LineBatch } from '../../src/io/index.js';

const dir = mkdtempSync(join(tmpdir(), 'sources-'));
let files = 0;
const file = (content: string | Buffer): string => {
  const path = join(dir, `f${files++}.ndjson`);
  writeFileSync(path, content);
  return path;
};

async function lines(source: Observable<LineBatch>): Promise<Array<[string, number]>> {
  const batches = await lastValueFrom(source.pipe(toArray()));
  return batches.flatMap((batch) => batch.lines.map((line, i): [string, number] => [line, batch.ends[i]!]));
}

/** Open descriptors of this process (Linux). */
const openFds = async (): Promise<number> => (await import('node:fs')).readdirSync('/proc/self/fd').length;

describe('fileSource', () => {
  it('reads every line with its end offset', async () => {
    const path = file('{"a":1}\r\n\n{"b":2}\n{"c":3}');
    expect(await lines(fileSource(path, { chunkSize: 4 }))).toEqual([['{"a":1}', 9], ['{"b":2}', 18], ['{"c":3}', 25]]);
  });

  it('resuming at any line end gives exactly the remaining lines', async () => {
    const content = Array.from({ length: 50 }, (_, i) => JSON.stringify({ i, pad: 'é'.repeat(i % 7) })).join('\n') + '\n';
    const path = file(content);
    const all = await lines(fileSource(path, { chunkSize: 64 }));
    expect(all).toHaveLength(50);
    for (let k = 0; k < all.length; k++) {
      expect(await lines(fileSource(path, { start: all[k]![1], chunkSize: 64 }))).toEqual(all.slice(k + 1));
    }
  });

  it('refuses a start offset inside a line or beyond the end', async () => {
    const path = file('abc\ndef\n');
    await expect(lines(fileSource(path, { start: 2 }))).rejects.toThrow(/not at the start of a line/);
    await expect(lines(fileSource(path, { start: 9 }))).rejects.toThrow(/beyond the end/);
    expect(await lines(fileSource(path, { start: 8 }))).toEqual([]);
  });

  it('resumes after a last line without newline', async () => {
    const path = file('abc\ndef');
    const all = await lines(fileSource(path));
    expect(all).toEqual([['abc', 4], ['def', 7]]);
    expect(await lines(fileSource(path, { start: 7 }))).toEqual([]);
  });

  it('reports a missing file as an error', async () => {
    await expect(lines(fileSource(join(dir, 'missing.ndjson')))).rejects.toThrow(/ENOENT/);
  });

  it('reads a large file in many chunks', async () => {
    const count = 200_000;
    const content = Array.from({ length: count }, (_, i) => `{"event_id":"e-${i}","metrics":{"x":${i}}}`).join('\n');
    const path = file(content);
    const all = await lines(fileSource(path, { chunkSize: 1 << 16 }));
    expect(all).toHaveLength(count);
    expect(all[count - 1]).toEqual([`{"event_id":"e-${count - 1}","metrics":{"x":${count - 1}}}`, Buffer.byteLength(content)]);
    expect(all.every(([line], i) => line === `{"event_id":"e-${i}","metrics":{"x":${i}}}`)).toBe(true);
  });

  it('releases the file on unsubscribe and on completion', async () => {
    const path = file('x\n'.repeat(100_000));
    const before = await openFds();
    await firstValueFrom(fileSource(path, { chunkSize: 16 }));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await openFds()).toBe(before);
    await lines(fileSource(path));
    expect(await openFds()).toBe(before);
  });

  it('waits for the backpressure hook before reading on', async () => {
    const path = file('a\nb\nc\n');
    let release: () => void = () => undefined;
    const seen: string[] = [];
    const subscription = fileSource(path, {
      chunkSize: 2,
      backpressure: () => new Promise<void>((resolve) => (release = resolve)),
    }).subscribe((batch) => seen.push(...batch.lines));
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(seen).toEqual(['a']);
    release();
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(seen).toEqual(['a', 'b']);
    subscription.unsubscribe();
  });
});

describe('streamSource', () => {
  it('splits a byte stream and completes at its end', async () => {
    const input = new PassThrough();
    const result = lines(streamSource(input));
    input.write('{"a":1}\n{"b"');
    input.write(':2}\r\n');
    input.end('{"c":3}');
    expect(await result).toEqual([['{"a":1}', 8], ['{"b":2}', 17], ['{"c":3}', 24]]);
  });

  it('detaches on unsubscribe', () => {
    const input = new PassThrough();
    const subscription = streamSource(input).subscribe();
    expect(input.listenerCount('data')).toBe(1);
    subscription.unsubscribe();
    expect(input.listenerCount('data')).toBe(0);
    expect(input.listenerCount('end')).toBe(0);
  });
});
