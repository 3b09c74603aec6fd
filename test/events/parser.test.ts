import { describe, expect, it } from 'vitest';
import { createEventParser, type DeadLetter, type ParsedEvent } from '../../src/events/index.js';

const parse = createEventParser({ timeField: 'timestamp', keyFields: ['model'], metricFields: [] });

const line = (fields: Record<string, unknown>): string =>
  JSON.stringify({ event_id: 'e-1', timestamp: '2026-11-26T10:00:00.123Z', event_type: 'inference', model: 'gpt-4o', variant: 'a', metrics: { latency_ms: 812.5 }, ...fields });

function deadLetter(result: ParsedEvent): DeadLetter {
  if (result.kind !== 'dead_letter') throw new Error(`expected a dead letter, got ${JSON.stringify(result)}`);
  return result;
}

describe('createEventParser', () => {
  it('parses the DESIGN.md example into a record', () => {
    const raw =
      '{"event_id":"e-42","timestamp":"2026-11-26T10:00:00.123Z","event_type":"inference",' +
      '"model":"gpt-4o","variant":"a","metrics":{"latency_ms":812.5,"cost_usd":0.0021,"tokens":512,"rating":4}}';
    const result = parse(raw, { partition: 0, offset: '180' });
    expect(result).toEqual({
      kind: 'record',
      value: JSON.parse(raw),
      timestamp: Date.UTC(2026, 10, 26, 10, 0, 0, 123),
      key: 'gpt-4o',
      partition: 0,
      offset: '180',
    });
  });

  it('accepts epoch milliseconds', () => {
    const result = parse(line({ timestamp: 1795687200123 }));
    expect(result.kind === 'record' && result.timestamp).toBe(1795687200123);
  });

  it('accepts null metric values and other time fields', () => {
    const custom = createEventParser({ timeField: 'ts', keyFields: ['model'], metricFields: [] });
    const result = custom(JSON.stringify({ ts: '2026-11-26T10:00:00Z', model: 'x', metrics: { rating: null } }));
    expect(result.kind).toBe('record');
  });

  it.each([
    ['invalid_json', '{"timestamp": '],
    ['invalid_json', 'not json at all'],
    ['not_an_object', '[1,2,3]'],
    ['not_an_object', '"a string"'],
    ['not_an_object', 'null'],
    ['missing_timestamp', line({ timestamp: undefined })],
    ['missing_timestamp', line({ timestamp: null })],
    ['invalid_timestamp', line({ timestamp: 'yesterday' })],
    ['invalid_timestamp', line({ timestamp: '2026-13-01T00:00:00Z' })],
    ['invalid_timestamp', line({ timestamp: '2026-02-30T00:00:00Z' })],
    ['invalid_timestamp', line({ timestamp: true })],
    ['invalid_timestamp', line({ timestamp: { ms: 1 } })],
    ['invalid_timestamp', '{"timestamp":1e999,"metrics":{}}'],
    ['invalid_timestamp', line({ timestamp: '1795687200000' })],
    ['invalid_metrics', line({ metrics: undefined })],
    ['invalid_metrics', line({ metrics: 'n/a' })],
    ['invalid_metrics', line({ metrics: [1, 2] })],
    ['invalid_metrics', line({ metrics: null })],
  ])('rejects %s: %s', (reason, raw) => {
    const result = deadLetter(parse(raw, { partition: 3, offset: '99' }));
    expect(result).toMatchObject({ kind: 'dead_letter', reason, raw, partition: 3, offset: '99' });
  });

  it('names the offending metric', () => {
    const result = deadLetter(parse(line({ metrics: { latency_ms: 1, tokens: '512' } })));
    expect(result).toMatchObject({ reason: 'invalid_metric', field: 'tokens' });
  });

  it('checks only the configured metric fields when there are some', () => {
    const configured = createEventParser({ timeField: 'timestamp', keyFields: ['model'], metricFields: ['latency_ms'] });
    expect(configured(line({ metrics: { latency_ms: 3, note: 'slow' } })).kind).toBe('record');
    expect(deadLetter(configured(line({ metrics: { latency_ms: 'fast' } })))).toMatchObject({ reason: 'invalid_metric', field: 'latency_ms' });
  });
});

describe('keys', () => {
  const parser = createEventParser({ timeField: 'timestamp', keyFields: ['model', 'variant'], metricFields: [] });
  const keyOf = (fields: Record<string, unknown>): string | undefined => {
    const result = parser(line(fields));
    return result.kind === 'record' ? result.key : undefined;
  };

  it('joins key fields with |', () => expect(keyOf({})).toBe('gpt-4o|a'));
  it('uses String() for non-string values', () => expect(keyOf({ model: 7, variant: true })).toBe('7|true'));
  it('uses the empty string for missing and null fields', () => {
    expect(keyOf({ variant: undefined })).toBe('gpt-4o|');
    expect(keyOf({ model: null })).toBe('|a');
  });
});
