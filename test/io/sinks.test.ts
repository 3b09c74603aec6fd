import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { fileSink, streamSink } from '../../src/io/index.js';

const dir = mkdtempSync(join(tmpdir(), 'sinks-'));

describe('fileSink', () => {
  it('creates parent folders and appends lines', async () => {
    const path = join(dir, 'a', 'b', 'out.ndjson');
    const sink = fileSink(path);
    sink.write('{"x":1}');
    sink.write('{"x":"é"}');
    expect(sink.linesInFlight).toBe(2);
    expect(sink.position()).toBe(8 + 11);
    await sink.flush();
    expect(sink.linesInFlight).toBe(0);
    expect(readFileSync(path, 'utf8')).toBe('{"x":1}\n{"x":"é"}\n');
    await sink.close();
    const again = fileSink(path);
    expect(again.position()).toBe(19);
    again.write('z');
    await again.close();
    expect(readFileSync(path, 'utf8')).toBe('{"x":1}\n{"x":"é"}\nz\n');
  });

  it('writes in the background past the high-water mark, in order', async () => {
    const path = join(dir, 'many.ndjson');
    const sink = fileSink(path, { highWaterMark: 1000, fsync: true });
    const expected: string[] = [];
    for (let i = 0; i < 20_000; i++) {
      sink.write(`{"i":${i}}`);
      expected.push(`{"i":${i}}\n`);
    }
    await sink.close();
    expect(readFileSync(path, 'utf8')).toBe(expected.join(''));
    expect(sink.position()).toBe(Buffer.byteLength(expected.join('')));
    expect(() => sink.write('late')).toThrow(/after close/);
  });

  it('truncates to a checkpointed position and appends from there', async () => {
    const path = join(dir, 'truncate.ndjson');
    writeFileSync(path, 'old\n');
    const sink = fileSink(path);
    sink.write('one');
    await sink.flush();
    const checkpoint = sink.position();
    expect(checkpoint).toBe(8);
    sink.write('two');
    sink.write('torn'); // written after the checkpoint: cut by recovery
    await sink.truncateTo(checkpoint);
    expect(sink.position()).toBe(checkpoint);
    sink.write('three');
    await sink.flush();
    expect(readFileSync(path, 'utf8')).toBe('old\none\nthree\n');
    expect(sink.position()).toBe(14);
    await expect(sink.truncateTo(100)).rejects.toThrow(RangeError);
    await sink.truncateTo(0);
    await sink.close();
    expect(readFileSync(path, 'utf8')).toBe('');
  });

  it('fails at creation on an unusable path', () => {
    const blocker = join(dir, 'blocker');
    writeFileSync(blocker, '');
    expect(() => fileSink(join(blocker, 'out.ndjson'))).toThrow();
  });
});

describe('streamSink', () => {
  it('writes lines and counts bytes', async () => {
    const output = new PassThrough();
    const chunks: Buffer[] = [];
    output.on('data', (chunk: Buffer) => chunks.push(chunk));
    const sink = streamSink(output, { highWaterMark: 4 });
    sink.write('ab');
    sink.write('cd');
    sink.write('é');
    await sink.flush();
    expect(Buffer.concat(chunks).toString()).toBe('ab\ncd\né\n');
    expect(sink.position()).toBe(9);
    await sink.close();
    expect(output.listenerCount('error')).toBe(0);
  });

  it('writes on the next turn of the event loop without a flush, one write per synchronous burst', async () => {
    const chunks: string[] = [];
    const output = new PassThrough();
    output.on('data', (chunk: Buffer) => chunks.push(chunk.toString()));
    const sink = streamSink(output);
    sink.write('a');
    sink.write('b');
    expect(chunks).toEqual([]);
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    expect(chunks).toEqual(['a\nb\n']);
    sink.write('c');
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    expect(chunks).toEqual(['a\nb\n', 'c\n']);
    await sink.close();
  });

  it('reports a stream error on flush and on the next write', async () => {
    const output = new PassThrough({
      write(_chunk, _encoding, callback) {
        callback(new Error('EPIPE'));
      },
    });
    const sink = streamSink(output);
    sink.write('x');
    await expect(sink.flush()).rejects.toThrow('EPIPE');
    expect(() => sink.write('y')).toThrow('EPIPE');
  });
});
