import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createRandom, generateEvents, SAMPLE_OPTIONS } from '../../scripts/generate-sample.js';
import { createEventParser, type ParsedEvent } from '../../src/events/index.js';

const parse = createEventParser({ timeField: 'timestamp', keyFields: ['model'], metricFields: [] });

describe('generateEvents', () => {
  it('is deterministic for a seed', () => {
    const options = { count: 2_000, seed: 7, startMs: Date.UTC(2026, 10, 26), invalidPerKind: 2 };
    expect(generateEvents(options)).toEqual(generateEvents(options));
    expect(generateEvents({ ...options, seed: 8 })).not.toEqual(generateEvents(options));
  });

  it('matches the committed sample (run `npm run generate:sample` after changing the generator)', () => {
    const committed = readFileSync(new URL('../../data/sample-events.ndjson', import.meta.url), 'utf8');
    expect(committed).toBe(generateEvents(SAMPLE_OPTIONS).join('\n') + '\n');
  });

  it('produces the documented mix', () => {
    const lines = generateEvents(SAMPLE_OPTIONS);
    const parsed: ParsedEvent[] = lines.map((line) => parse(line));
    const reasons = new Map<string, number>();
    for (const result of parsed) if (result.kind === 'dead_letter') reasons.set(result.reason, (reasons.get(result.reason) ?? 0) + 1);
    expect(Object.fromEntries(reasons)).toEqual({
      invalid_json: 10,
      not_an_object: 10,
      missing_timestamp: 10,
      invalid_timestamp: 10,
      invalid_metrics: 10,
      invalid_metric: 10,
    });
    const records = parsed.flatMap((result) => (result.kind === 'record' ? [result] : []));
    expect(records).toHaveLength(SAMPLE_OPTIONS.count);
    expect(new Set(records.map((r) => r.key))).toEqual(new Set(['gpt-4o', 'gpt-4o-mini', 'claude-3-5-sonnet', 'llama-3.1-70b', 'mistral-large']));
    expect(new Set(records.map((r) => r.value.variant))).toEqual(new Set(['a', 'b']));

    const start = SAMPLE_OPTIONS.startMs;
    expect(Math.min(...records.map((r) => r.timestamp))).toBeGreaterThanOrEqual(start);
    expect(Math.max(...records.map((r) => r.timestamp))).toBeLessThan(start + 2 * 3_600_000);

    // How far each record trails the largest time seen before it.
    let max = -Infinity;
    const behind = records.map((r) => {
      const lag = max - r.timestamp;
      max = Math.max(max, r.timestamp);
      return lag;
    });
    const share = (predicate: (lag: number) => boolean): number => behind.filter(predicate).length / records.length;
    expect(share((lag) => lag > 30_000 && lag <= 90_000)).toBeGreaterThan(0.02);
    expect(share((lag) => lag > 30_000 && lag <= 90_000)).toBeLessThan(0.05);
    expect(share((lag) => lag > 90_000 && lag <= 390_000)).toBe(0);
    expect(share((lag) => lag > 390_000)).toBeGreaterThan(0.001);
    expect(share((lag) => lag > 390_000)).toBeLessThan(0.01);

    const epoch = records.filter((r) => typeof r.value.timestamp === 'number').length / records.length;
    expect(epoch).toBeGreaterThan(0.1);
    expect(epoch).toBeLessThan(0.2);
    for (const { value } of records) {
      const { rating, tokens } = value.metrics;
      if (value.event_type === 'rating') expect([1, 2, 3, 4, 5]).toContain(rating);
      else expect(Number.isInteger(tokens) && rating === undefined).toBe(true);
    }
  });
});

describe('createRandom', () => {
  it('gives the same sequence in [0, 1) for a seed', () => {
    const a = createRandom(1);
    const b = createRandom(1);
    const values = Array.from({ length: 10_000 }, () => a());
    expect(values).toEqual(Array.from({ length: 10_000 }, () => b()));
    expect(values.every((v) => v >= 0 && v < 1)).toBe(true);
    const mean = values.reduce((s, v) => s + v, 0) / values.length;
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.01);
  });
});
