import { describe, expect, it } from 'vitest';
import { parseIsoTimestamp, toEventTime } from '../../src/events/index.js';

describe('parseIsoTimestamp', () => {
  it.each([
    ['2026-11-26T10:00:00.123Z', Date.UTC(2026, 10, 26, 10, 0, 0, 123)],
    ['2026-11-26T10:00:00Z', Date.UTC(2026, 10, 26, 10)],
    ['2026-11-26T10:00Z', Date.UTC(2026, 10, 26, 10)],
    ['2026-11-26', Date.UTC(2026, 10, 26)],
    ['2026-11-26T10:00:00.1234567Z', Date.UTC(2026, 10, 26, 10, 0, 0, 123)],
    ['2026-11-26T10:00:00,5Z', Date.UTC(2026, 10, 26, 10, 0, 0, 500)],
    ['2026-11-26T12:30:00+02:30', Date.UTC(2026, 10, 26, 10)],
    ['2026-11-26T08:00:00-0200', Date.UTC(2026, 10, 26, 10)],
    ['2026-11-26T11:00:00+01', Date.UTC(2026, 10, 26, 10)],
    ['2026-11-26 10:00:00Z', Date.UTC(2026, 10, 26, 10)],
    ['2028-02-29T00:00:00Z', Date.UTC(2028, 1, 29)],
    ['0050-01-01T00:00:00Z', Date.parse('0050-01-01T00:00:00Z')],
  ])('%s', (text, expected) => expect(parseIsoTimestamp(text)).toBe(expected));

  it('reads a date-time without offset as UTC, not local time', () => {
    expect(parseIsoTimestamp('2026-11-26T10:00:00.123')).toBe(Date.UTC(2026, 10, 26, 10, 0, 0, 123));
  });

  it('agrees with Date.parse on canonical strings', () => {
    for (let t = -1e12; t < 4e12; t += 7_777_777_777) {
      const iso = new Date(t).toISOString();
      expect(parseIsoTimestamp(iso)).toBe(t);
    }
  });

  it.each([
    '', 'yesterday', 'Nov 26 2026', '2026-11-26T', '2026-11-26T10', '2026-11-26T24:00:00Z', '2026-11-26T10:60:00Z',
    '2026-11-26T10:00:60Z', '2027-02-29', '2026-00-10', '2026-11-26T10:00:00.Z', '2026-11-26T10:00:00ZZ',
    '2026-11-26T10:00:00+25:00', '2026/11/26', '+2026-11-26',
  ])('rejects %j', (text) => expect(parseIsoTimestamp(text)).toBeNaN());
});

describe('toEventTime', () => {
  it('takes finite numbers as epoch ms', () => expect(toEventTime(1795687200000)).toBe(1795687200000));
  it.each([Infinity, NaN, true, null, {}, []])('rejects %j', (value) => expect(toEventTime(value)).toBeNaN());
});
