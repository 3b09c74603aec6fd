import { describe, expect, it } from 'vitest';
import { createProgressReporter, formatDuration, formatRate, formatSummary, type ProgressStream } from '../../src/observability/progress.js';

function fakeStream(isTTY: boolean): ProgressStream & { readonly writes: string[] } {
  const writes: string[] = [];
  return { isTTY, writes, write: (text: string) => writes.push(text) };
}

const summary = { recordsIn: 1_000_000, aggregated: 998_000, late: 1_500, invalid: 500, windowsEmitted: 12_345, seconds: 2.5 };

describe('formatSummary', () => {
  it('prints one short block with every count', () => {
    expect(formatSummary(summary)).toBe(
      'processed 1,000,000 records in 2.5 s (400,000 records/s)\n' +
        '  aggregated 998,000 · late 1,500 · invalid 500 · windows emitted 12,345\n',
    );
  });

  it('leaves out the rate of an instantaneous run', () => {
    expect(formatSummary({ ...summary, recordsIn: 0, aggregated: 0, late: 0, invalid: 0, windowsEmitted: 0, seconds: 0 }))
      .toBe('processed 0 records in 0.0 s\n  aggregated 0 · late 0 · invalid 0 · windows emitted 0\n');
  });
});

describe('formatRate and formatDuration', () => {
  it('abbreviates', () => {
    expect([950, 12_300, 4_560_000].map(formatRate)).toEqual(['950', '12.3k', '4.56M']);
    expect([7, 125, 3725].map(formatDuration)).toEqual(['7s', '2m05s', '1h02m']);
  });
});

describe('createProgressReporter', () => {
  it('draws on a TTY at most once per interval, with rate, share done and time left', () => {
    const stream = fakeStream(true);
    let clock = 0;
    const progress = createProgressReporter({ totalBytes: 1000, stream, now: () => clock });
    clock = 100;
    progress.update(10_000, 100); // too early: nothing drawn
    expect(stream.writes).toEqual([]);
    clock = 250;
    progress.update(25_000, 250);
    clock = 400;
    progress.update(40_000, 400); // 150 ms after the last draw: skipped
    clock = 500;
    progress.update(50_000, 500);
    expect(stream.writes).toEqual([
      '\r\x1b[K25,000 events · 100k events/s · 25.0% · 1s left',
      '\r\x1b[K50,000 events · 100k events/s · 50.0% · 1s left',
    ]);
    progress.finish(summary);
    expect(stream.writes.slice(2)).toEqual(['\r\x1b[K', formatSummary(summary)]);
  });

  it('estimates time left from the bytes read since a resumed start', () => {
    const stream = fakeStream(true);
    let clock = 0;
    const progress = createProgressReporter({ totalBytes: 10_000, startBytes: 5_000, stream, now: () => clock, intervalMs: 1000 });
    clock = 10_000;
    progress.update(1_000, 6_000); // 1000 bytes in 10 s, 4000 to go
    expect(stream.writes).toEqual(['\r\x1b[K1,000 events · 100 events/s · 60.0% · 40s left']);
  });

  it('draws nothing when stderr is not a terminal, but still prints the summary', () => {
    const stream = fakeStream(false);
    let clock = 0;
    const progress = createProgressReporter({ totalBytes: 1000, stream, now: () => clock });
    clock = 10_000;
    progress.update(1, 1);
    progress.finish(summary);
    expect(stream.writes).toEqual([formatSummary(summary)]);
  });
});
