import { describe, expect, it } from 'vitest';
import { createEventParser, MAX_JSON_DEPTH, type DeadLetter, type ParsedEvent } from '../../src/events/index.js';

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
    ['too_deep', '{"timestamp":1,"metrics":{},"x":' + '['.repeat(MAX_JSON_DEPTH) + ']'.repeat(MAX_JSON_DEPTH) + '}'],
    ['too_deep', '{"a":'.repeat(10_000) + '1' + '}'.repeat(10_000)],
    ['processing_error', line({ model: { toString: 1 } })],
  ])('rejects %s: %s', (reason, raw) => {
    const result = deadLetter(parse(raw, { partition: 3, offset: '99' }));
    expect(result).toMatchObject({ kind: 'dead_letter', reason, raw, partition: 3, offset: '99' });
  });

  it('names the offending metric', () => {
    const result = deadLetter(parse(line({ metrics: { latency_ms: 1, tokens: '512' } })));
    expect(result).toMatchObject({ reason: 'invalid_metric', field: 'tokens' });
  });

  it('rejects metric values that are not finite (JSON.parse turns 1e999 into Infinity)', () => {
    for (const value of ['1e999', '-1e999']) {
      const raw = `{"timestamp":1795687200000,"metrics":{"latency_ms":1,"cost":${value}}}`;
      expect(deadLetter(parse(raw))).toMatchObject({ reason: 'invalid_metric', field: 'cost' });
      const configured = createEventParser({ timeField: 'timestamp', keyFields: ['model'], metricFields: ['cost'] });
      expect(deadLetter(configured(raw))).toMatchObject({ reason: 'invalid_metric', field: 'cost' });
    }
  });

  it('counts nesting outside strings only, up to MAX_JSON_DEPTH levels', () => {
    const nested = (levels: number): string => '['.repeat(levels) + ']'.repeat(levels);
    // The event object is level 1, so x may hold MAX_JSON_DEPTH − 1 levels.
    expect(parse(line({ x: JSON.parse(nested(MAX_JSON_DEPTH - 1)) })).kind).toBe('record');
    expect(deadLetter(parse(line({ x: JSON.parse(nested(MAX_JSON_DEPTH)) }))).reason).toBe('too_deep');
    // Brackets and escaped quotes inside strings are not nesting.
    expect(parse(line({ note: '"\\' + '{['.repeat(200) })).kind).toBe('record');
    expect(parse(line({ a: { b: [{ c: '}]'.repeat(100) }] } })).kind).toBe('record');
  });

  it('names the exception of a record it cannot process', () => {
    expect(deadLetter(parse(line({ model: { toString: 1, valueOf: 2 } })))).toMatchObject({
      reason: 'processing_error',
      error: 'Cannot convert object to primitive value',
    });
  });

  describe('future timestamps', () => {
    const clock = Date.UTC(2026, 10, 26, 10);
    const day = 86_400_000;
    let reads = 0;
    const now = (): number => {
      reads++;
      return clock;
    };
    const future = createEventParser({ timeField: 'timestamp', keyFields: ['model'], metricFields: [], maxFutureMs: day, now });
    const at = (ms: number): ParsedEvent => future(line({ timestamp: ms }));

    it('rejects event times more than maxFutureMs ahead of the clock', () => {
      expect(at(clock + day).kind).toBe('record');
      expect(deadLetter(at(clock + day + 1)).reason).toBe('future_timestamp');
      expect(deadLetter(future(line({ timestamp: '2126-11-26T10:00:00Z' }))).reason).toBe('future_timestamp');
    });

    it('reads the clock only for event times beyond the bound it last computed', () => {
      reads = 0;
      for (let i = 0; i < 1000; i++) at(clock - i);
      expect(reads).toBe(0);
      at(clock + 2 * day);
      expect(reads).toBe(1);
    });

    it('checks nothing without maxFutureMs or with 0', () => {
      const off = createEventParser({ timeField: 'timestamp', keyFields: ['model'], metricFields: [], maxFutureMs: 0, now });
      expect(off(line({ timestamp: clock + 1000 * day })).kind).toBe('record');
      expect(parse(line({ timestamp: clock + 1000 * day })).kind).toBe('record');
    });
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
  it('reads own fields only: an event without `constructor` has no such key', () => {
    const odd = createEventParser({ timeField: 'timestamp', keyFields: ['constructor', '__proto__', 'toString'], metricFields: [] });
    const keyOfOdd = (raw: string): string | undefined => {
      const result = odd(raw);
      return result.kind === 'record' ? result.key : undefined;
    };
    expect(keyOfOdd('{"timestamp":1,"metrics":{}}')).toBe('||');
    expect(keyOfOdd('{"timestamp":1,"metrics":{},"constructor":"c","__proto__":"p","toString":"t"}')).toBe('c|p|t');
  });
  it('uses the empty string for missing and null fields', () => {
    expect(keyOf({ variant: undefined })).toBe('gpt-4o|');
    expect(keyOf({ model: null })).toBe('|a');
  });
});
