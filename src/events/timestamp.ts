/**
 * Event-time parsing. Strings must be ISO-8601 (extended format); they are parsed
 * by hand rather than with `Date.parse` for two reasons:
 * - determinism: `Date.parse` reads a date-time without offset as *local* time, so
 *   the same input would window differently on machines in other time zones; here a
 *   missing offset means UTC;
 * - speed: about 3× faster than `Date.parse` for the canonical form (measured
 *   17–22 M/s against 5–7 M/s).
 * Non-ISO strings that `Date.parse` would guess at ("Nov 26 2026") are rejected.
 */

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

const isLeap = (year: number): boolean => (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;

/** Two decimal digits at `i`, or -1. */
function digits2(s: string, i: number): number {
  const a = s.charCodeAt(i) - 48;
  const b = s.charCodeAt(i + 1) - 48;
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 ? a * 10 + b : -1;
}

/**
 * Epoch milliseconds of an ISO-8601 date or date-time, or NaN.
 * Accepted: `YYYY-MM-DD`, optionally followed by `T` (or a space) `HH:MM`,
 * optional `:SS`, optional fraction (`.` or `,`, any number of digits, truncated
 * to milliseconds), optional zone `Z`, `±HH:MM`, `±HHMM` or `±HH` (none = UTC).
 */
export function parseIsoTimestamp(s: string): number {
  const n = s.length;
  if (n < 10 || s.charCodeAt(4) !== 45 || s.charCodeAt(7) !== 45) return NaN;
  const y1 = digits2(s, 0);
  const y2 = digits2(s, 2);
  const month = digits2(s, 5);
  const day = digits2(s, 8);
  if (y1 < 0 || y2 < 0 || month < 1 || month > 12 || day < 1) return NaN;
  const year = y1 * 100 + y2;
  if (day > (month === 2 && isLeap(year) ? 29 : DAYS_IN_MONTH[month - 1]!)) return NaN;
  if (n === 10) return utc(year, month - 1, day);

  const sep = s.charCodeAt(10);
  if ((sep !== 84 /* T */ && sep !== 32) || n < 16 || s.charCodeAt(13) !== 58) return NaN;
  const hour = digits2(s, 11);
  const minute = digits2(s, 14);
  if (hour < 0 || hour > 23 || minute < 0 || minute > 59) return NaN;
  let i = 16;
  let second = 0;
  let millis = 0;
  if (i < n && s.charCodeAt(i) === 58) {
    second = digits2(s, i + 1);
    if (second < 0 || second > 59) return NaN;
    i += 3;
    const dot = s.charCodeAt(i);
    if (i < n && (dot === 46 || dot === 44)) {
      i++;
      const fractionStart = i;
      let scale = 100;
      for (let c = s.charCodeAt(i) - 48; i < n && c >= 0 && c <= 9; c = s.charCodeAt(++i) - 48) {
        millis += c * scale;
        scale /= 10;
      }
      if (i === fractionStart) return NaN;
      millis = Math.floor(millis);
    }
  }
  let offsetMinutes = 0;
  if (i < n) {
    const z = s.charCodeAt(i);
    if (z === 90 /* Z */) {
      i++;
    } else if (z === 43 || z === 45) {
      const oh = digits2(s, i + 1);
      if (oh < 0 || oh > 23) return NaN;
      i += 3;
      let om = 0;
      if (i < n) {
        if (s.charCodeAt(i) === 58) i++;
        om = digits2(s, i);
        if (om < 0 || om > 59) return NaN;
        i += 2;
      }
      offsetMinutes = (z === 43 ? 1 : -1) * (oh * 60 + om);
    }
  }
  if (i !== n) return NaN;
  return utc(year, month - 1, day, hour, minute, second, millis) - offsetMinutes * 60_000;
}

/** 400 Gregorian years are exactly 146,097 days. */
const FOUR_CENTURIES_MS = 146_097 * 86_400_000;

/** `Date.UTC`, except that years 0–99 stay themselves instead of meaning 1900–1999. */
function utc(year: number, month: number, day: number, hour = 0, minute = 0, second = 0, millis = 0): number {
  return year >= 100
    ? Date.UTC(year, month, day, hour, minute, second, millis)
    : Date.UTC(year + 400, month, day, hour, minute, second, millis) - FOUR_CENTURIES_MS;
}

/** Event time of a field value: a finite number (epoch ms) or an ISO-8601 string; NaN otherwise. */
export function toEventTime(value: unknown): number {
  if (typeof value === 'number') return Number.isFinite(value) ? value : NaN;
  if (typeof value === 'string') return parseIsoTimestamp(value);
  return NaN;
}
