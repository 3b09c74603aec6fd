import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { formatDeadLetter, formatParseDeadLetter, formatWindowResult, keyObject, toWindowOutput } from '../../src/events/index.js';
import type { WindowResult } from '../../operators/stream/elements.js';

describe('keyObject', () => {
  it('gives the key fields as strings, null when missing', () => {
    expect(keyObject({ model: 'gpt-4o', variant: 2 }, ['model', 'variant', 'region'])).toEqual({ model: 'gpt-4o', variant: '2', region: null });
  });
});

describe('formatDeadLetter', () => {
  it('writes reason then raw', () => {
    expect(formatDeadLetter('invalid_json', '{"a":')).toBe('{"reason":"invalid_json","raw":"{\\"a\\":"}');
  });
  it('appends extra fields without letting them replace reason or raw', () => {
    expect(formatDeadLetter('too_late', 'x', { reason: 'nope', window_end: 5, skipped: undefined })).toBe('{"reason":"too_late","raw":"x","window_end":5}');
  });
  it('keeps the metric name and position of parser rejections', () => {
    expect(formatParseDeadLetter({ kind: 'dead_letter', reason: 'invalid_metric', raw: 'r', field: 'tokens', offset: '10' })).toBe(
      '{"reason":"invalid_metric","raw":"r","field":"tokens","offset":"10"}',
    );
  });
});

describe('formatDeadLetter raw cap', () => {
  const sha256 = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');
  const parsed = (line: string): Record<string, unknown> => JSON.parse(line) as Record<string, unknown>;

  it('leaves a raw within the cap as it is, without size or hash', () => {
    expect(parsed(formatDeadLetter('invalid_json', 'abcdé', undefined, 6))).toEqual({ reason: 'invalid_json', raw: 'abcdé' });
  });

  it('cuts a longer raw to the cap in UTF-8 bytes and records the original size and hash', () => {
    const raw = 'x'.repeat(100);
    const out = parsed(formatDeadLetter('invalid_json', raw, { offset: '7' }, 10));
    expect(out).toEqual({ reason: 'invalid_json', raw: 'x'.repeat(10), raw_bytes: 100, raw_sha256: sha256(raw), offset: '7' });
    expect(Object.keys(out)).toEqual(['reason', 'raw', 'raw_bytes', 'raw_sha256', 'offset']);
  });

  it('cuts at a character boundary, never inside a multi-byte character', () => {
    // é is 2 bytes, 😀 is 4 (a surrogate pair in UTF-16).
    const raw = 'aé😀b'.repeat(10);
    for (let cap = 1; cap <= 12; cap++) {
      const cut = parsed(formatDeadLetter('invalid_json', raw, undefined, cap))['raw'] as string;
      expect(Buffer.byteLength(cut)).toBeLessThanOrEqual(cap);
      expect(raw.startsWith(cut)).toBe(true);
      expect(cut).not.toContain('\uFFFD');
    }
    expect(parsed(formatDeadLetter('invalid_json', raw, undefined, 7))['raw']).toBe('aé😀');
    expect(parsed(formatDeadLetter('invalid_json', raw, undefined, 6))['raw']).toBe('aé');
    expect(parsed(formatDeadLetter('invalid_json', raw, undefined, 7))['raw_bytes']).toBe(Buffer.byteLength(raw));
  });

  it('keeps a megabyte of control bytes well under Kafka\'s 1 MB message limit at the default cap', () => {
    const raw = '\u0001'.repeat(1 << 20);
    const line = formatDeadLetter('invalid_json', raw, { field: 'f'.repeat(1 << 20) });
    expect(Buffer.byteLength(line)).toBeLessThan(400_000);
    expect(parsed(line)['raw_bytes']).toBe(1 << 20);
    expect(Buffer.byteLength(parsed(line)['field'] as string)).toBe(1024);
  });

  it('caps the dead letter of a rejected parse the same way', () => {
    const out = parsed(formatParseDeadLetter({ kind: 'dead_letter', reason: 'processing_error', raw: 'yyyy', error: 'boom' }, 2));
    expect(out).toEqual({ reason: 'processing_error', raw: 'yy', raw_bytes: 4, raw_sha256: sha256('yyyy'), error: 'boom' });
  });
});

describe('formatWindowResult', () => {
  const expected =
    '{"key":{"model":"gpt-4o"},"window":{"type":"tumbling","start":1795687200000,"end":1795687500000},' +
    '"revision":0,"event_count":1834,"emitted_at":1795687530112,' +
    '"metrics":{"latency_ms":{"count":1834,"sum":1490133.2,"avg":812.5,"min":101,"max":4200.7,' +
    '"stddev":310.2,"p50":790.1,"p95":1420.3,"p99":2710.9}}}';
  const metrics = {
    latency_ms: { count: 1834, sum: 1490133.2, avg: 812.5, min: 101.0, max: 4200.7, stddev: 310.2, p50: 790.1, p95: 1420.3, p99: 2710.9 },
  };

  it("writes DESIGN.md's output record with its key order", () => {
    const line = formatWindowResult({
      metrics,
      emittedAt: 1795687530112,
      eventCount: 1834,
      revision: 0,
      window: { end: 1795687500000, start: 1795687200000, type: 'tumbling' },
      key: { model: 'gpt-4o' },
    });
    expect(line).toBe(expected);
  });

  it('adapts a WindowResult', () => {
    const result: WindowResult<{ eventCount: number; keyFields: Record<string, string | null>; metrics: typeof metrics }> = {
      key: 'gpt-4o',
      window: { type: 'tumbling', start: 1795687200000, end: 1795687500000 },
      revision: 0,
      count: 1834,
      result: { eventCount: 1834, keyFields: { model: 'gpt-4o' }, metrics },
    };
    expect(formatWindowResult(toWindowOutput(result, 1795687530112))).toBe(expected);
    expect(() => toWindowOutput({ ...result, result: { eventCount: 1, metrics } }, 0)).toThrow(TypeError);
  });
});
