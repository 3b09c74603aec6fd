import { describe, expect, it } from 'vitest';
import { formatDeadLetter, formatParseDeadLetter, formatWindowResult, keyObject, toWindowOutput } from '../../src/events/index.js';
import type { WindowResult } from '../../src/stream/elements.js';

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
