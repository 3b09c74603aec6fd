/**
 * Progress of a file run on stderr, and the summary at its end.
 *
 * The progress line is drawn only when stderr is a terminal: in a pipeline, a
 * log file or CI, carriage-return redraws would be noise. It is redrawn at most
 * every `intervalMs` (4 times a second by default) whatever the caller's update
 * rate, so `update` can be called once per source batch. The summary is printed
 * always, once, as a short block (stdout may carry results, so never there).
 */

/** The part of a stream the reporter uses; `process.stderr` by default, a fake in tests. */
export interface ProgressStream {
  readonly isTTY?: boolean;
  write(text: string): unknown;
}

export interface ProgressOptions {
  /** Size of the input file in bytes. */
  readonly totalBytes: number;
  /** Byte offset the run starts from (a run resumed from a checkpoint); 0 by default. */
  readonly startBytes?: number;
  readonly stream?: ProgressStream;
  /** Monotonic clock in ms; `performance.now` by default. */
  readonly now?: () => number;
  /** Minimum time between two redraws; 250 ms by default. */
  readonly intervalMs?: number;
}

export interface RunSummary {
  readonly recordsIn: number;
  readonly aggregated: number;
  readonly late: number;
  /** Records sent to the dead-letter output as invalid input. */
  readonly invalid: number;
  readonly windowsEmitted: number;
  /** Wall time of the run. */
  readonly seconds: number;
}

export interface ProgressReporter {
  /** Totals so far: records read and the byte offset reached in the file. Cheap when no redraw is due. */
  update(records: number, bytesRead: number): void;
  /** Clears the progress line, then prints the summary. */
  finish(summary: RunSummary): void;
}

const CLEAR_LINE = '\r\x1b[K';
const DEFAULT_INTERVAL_MS = 250;

const integer = (n: number): string => Math.round(n).toLocaleString('en-US');

/** 950 → "950", 12_300 → "12.3k", 4_560_000 → "4.56M". */
export function formatRate(perSecond: number): string {
  if (perSecond < 1000) return Math.round(perSecond).toString();
  if (perSecond < 1e6) return `${(perSecond / 1e3).toPrecision(3)}k`;
  return `${(perSecond / 1e6).toPrecision(3)}M`;
}

/** 7 → "7s", 125 → "2m05s", 3725 → "1h02m". */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  const pad = (n: number): string => n.toString().padStart(2, '0');
  if (s < 3600) return `${Math.floor(s / 60)}m${pad(s % 60)}s`;
  return `${Math.floor(s / 3600)}h${pad(Math.floor((s % 3600) / 60))}m`;
}

/**
 * The end-of-run block, e.g.
 * ```
 * processed 1,000,000 records in 2.3 s (434,783 records/s)
 *   aggregated 998,000 · late 1,500 · invalid 500 · windows emitted 12,345
 * ```
 */
export function formatSummary(summary: RunSummary): string {
  const { recordsIn, aggregated, late, invalid, windowsEmitted, seconds } = summary;
  const rate = seconds > 0 ? ` (${integer(recordsIn / seconds)} records/s)` : '';
  return (
    `processed ${integer(recordsIn)} records in ${seconds.toFixed(1)} s${rate}\n` +
    `  aggregated ${integer(aggregated)} · late ${integer(late)} · invalid ${integer(invalid)} · windows emitted ${integer(windowsEmitted)}\n`
  );
}

export function createProgressReporter(options: ProgressOptions): ProgressReporter {
  const stream = options.stream ?? process.stderr;
  const now = options.now ?? (() => performance.now());
  const intervalMs = options.intervalMs ?? DEFAULT_INTERVAL_MS;
  const { totalBytes } = options;
  const startBytes = options.startBytes ?? 0;
  const draw = stream.isTTY === true;

  const startedAt = now();
  let lastDrawAt = startedAt;
  let lastRecords = 0;
  let drawn = false;

  const render = (records: number, bytesRead: number, at: number): string => {
    // The rate over the last interval follows changes; the time left uses the
    // byte rate since the start, which is steadier than the last interval's.
    const rate = ((records - lastRecords) * 1000) / (at - lastDrawAt);
    const parts = [`${integer(records)} events`, `${formatRate(rate)} events/s`];
    if (totalBytes > 0) {
      parts.push(`${((Math.min(bytesRead, totalBytes) / totalBytes) * 100).toFixed(1)}%`);
      const bytesPerMs = (bytesRead - startBytes) / (at - startedAt);
      if (bytesPerMs > 0) parts.push(`${formatDuration((totalBytes - bytesRead) / bytesPerMs / 1000)} left`);
    }
    return parts.join(' · ');
  };

  return {
    update(records, bytesRead) {
      if (!draw) return;
      const at = now();
      if (at - lastDrawAt < intervalMs) return;
      stream.write(CLEAR_LINE + render(records, bytesRead, at));
      drawn = true;
      lastDrawAt = at;
      lastRecords = records;
    },
    finish(summary) {
      if (drawn) stream.write(CLEAR_LINE);
      stream.write(formatSummary(summary));
    },
  };
}
