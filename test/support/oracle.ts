/**
 * A brute-force model of DESIGN.md's event-time semantics, written apart from
 * the operators: it keeps every raw value and recomputes statistics by sorting.
 * It walks the input once in arrival order with a single partition (file mode),
 * so `W` after each record is `max event time so far − out-of-orderness`.
 */
import { bruteQuantile, bruteStats, type BruteStats } from './brute-force.js';

export type OracleWindowing =
  | { type: 'tumbling'; sizeMs: number }
  | { type: 'sliding'; sizeMs: number; slideMs: number }
  | { type: 'session'; gapMs: number };

export interface OracleEvent {
  key: string;
  timestamp: number;
  metrics: Record<string, number | null>;
}

export interface OracleWindow {
  key: string;
  start: number;
  end: number;
  events: OracleEvent[];
  /** Emissions: one when it fires, one per record accepted after it fired. */
  emissions: number;
}

export interface OracleResult {
  windows: OracleWindow[];
  late: OracleEvent[];
}

export function runOracle(events: OracleEvent[], windowing: OracleWindowing, outOfOrdernessMs: number, allowedLatenessMs: number): OracleResult {
  const late: OracleEvent[] = [];
  const live: OracleWindow[] = [];
  const done: OracleWindow[] = [];
  let maxSeen = -Infinity;
  let w = -Infinity;
  const purge = () => {
    for (let i = live.length - 1; i >= 0; i--) {
      if (w >= live[i]!.end + allowedLatenessMs) done.push(...live.splice(i, 1));
    }
  };
  const fired = (win: OracleWindow) => w >= win.end;

  for (const e of events) {
    if (windowing.type === 'session') {
      const touching = live.filter((s) => s.key === e.key && s.start <= e.timestamp + windowing.gapMs && e.timestamp <= s.end);
      if (touching.length === 0 && w >= e.timestamp + windowing.gapMs + allowedLatenessMs) {
        late.push(e);
      } else {
        const start = Math.min(e.timestamp, ...touching.map((s) => s.start));
        const end = Math.max(e.timestamp + windowing.gapMs, ...touching.map((s) => s.end));
        const same = touching.find((s) => s.start === start && s.end === end);
        for (const s of touching) live.splice(live.indexOf(s), 1);
        const merged: OracleWindow = {
          key: e.key, start, end,
          events: [...touching.flatMap((s) => s.events), e],
          // New bounds are a new window: its emissions start again.
          emissions: same?.emissions ?? 0,
        };
        if (fired(merged)) merged.emissions++;
        live.push(merged);
      }
    } else {
      let accepted = false;
      for (const [start, end] of windowsOf(e.timestamp, windowing)) {
        if (w >= end + allowedLatenessMs) continue;
        accepted = true;
        let win = live.find((x) => x.key === e.key && x.start === start);
        if (win === undefined) {
          win = { key: e.key, start, end, events: [], emissions: 0 };
          live.push(win);
        }
        win.events.push(e);
        if (fired(win)) win.emissions++;
      }
      if (!accepted) late.push(e);
    }
    maxSeen = Math.max(maxSeen, e.timestamp);
    const next = maxSeen - outOfOrdernessMs;
    if (next > w) {
      // Windows that the watermark passes fire once now.
      for (const win of live) if (win.end > w && win.end <= next) win.emissions++;
      w = next;
      purge();
    }
  }
  for (const win of live) if (win.end > w) win.emissions++;
  return { windows: [...done, ...live], late };
}

function windowsOf(t: number, windowing: Exclude<OracleWindowing, { type: 'session' }>): [number, number][] {
  const size = windowing.sizeMs;
  const slide = windowing.type === 'sliding' ? windowing.slideMs : size;
  const out: [number, number][] = [];
  const last = t - (((t % slide) + slide) % slide);
  for (let start = last; start > t - size; start -= slide) out.push([start, start + size]);
  return out;
}

/** Exact percentile (0–100) of sorted values by linear interpolation between closest ranks. */
export const exactPercentile = (sorted: number[], p: number): number => bruteQuantile(sorted, p / 100);

export interface OracleStats extends BruteStats {
  sorted: number[];
}

export const statsOf = (values: number[]): OracleStats => ({ ...bruteStats(values), sorted: [...values].sort((a, b) => a - b) });

/** ISO-8601 with a real calendar date (Date.parse rolls 2026-11-31 over to December). */
export function isoTime(text: string): number {
  const match = /^(\d{4})-(\d{2})-(\d{2})T/.exec(text);
  const ms = Date.parse(text);
  if (match === null || !Number.isFinite(ms)) return NaN;
  return new Date(Date.UTC(+match[1]!, +match[2]! - 1, +match[3]!)).getUTCDate() === +match[3]! ? ms : NaN;
}
