/**
 * Several window specs in one file job (issue 12) against the brute-force model run once per
 * spec: window types (`windows.types`) and named specs (`windows.specs`, e.g. two tumbling
 * windows of different sizes). Each spec's final results are the model's, every result
 * carries its type (and its spec's name, right after the type, with named specs only), and a
 * record is a `too_late` dead letter only when it is too late for every spec. With LevelDB
 * state, a job stopped twice and resumed writes the bytes of an uninterrupted one. Named
 * specs' configuration errors name their key.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateEvents } from '../../scripts/generate-sample.js';
import { ConfigError, parseConfig, type ProcessorConfig } from '../../src/config/index.js';
import { runLineJob } from '../../src/runner/file-job.js';
import { isoTime, runOracle, type OracleEvent, type OracleWindowing } from '../support/oracle.js';
import { tempDir } from '../support/temp-dir.js';

interface OutputLine {
  key: { model: string };
  window: { type: string; spec?: string; start: number; end: number };
  revision: number;
  event_count: number;
  metrics: Record<string, Record<string, number>>;
}

const readLines = (path: string): string[] => readFileSync(path, 'utf8').split('\n').filter((l) => l !== '');

/** The valid events of the input, as the model takes them (invalid lines: not JSON or no usable timestamp/metrics). */
function validEvents(lines: readonly string[]): OracleEvent[] {
  const out: OracleEvent[] = [];
  for (const line of lines) {
    let event: Record<string, unknown>;
    try {
      event = JSON.parse(line) as Record<string, unknown>;
    } catch {
      continue;
    }
    if (typeof event !== 'object' || event === null || Array.isArray(event)) continue;
    const ts = typeof event['timestamp'] === 'number' ? event['timestamp'] : typeof event['timestamp'] === 'string' ? isoTime(event['timestamp']) : NaN;
    const metrics = event['metrics'];
    if (!Number.isFinite(ts) || typeof metrics !== 'object' || metrics === null || Array.isArray(metrics)) continue;
    if (Object.values(metrics).some((v) => v !== null && typeof v !== 'number')) continue;
    out.push({ key: event['model'] === undefined || event['model'] === null ? '' : String(event['model']), timestamp: ts, metrics: metrics as Record<string, number | null> });
  }
  return out;
}

const LATENESS_MS = 30_000;
const START = Date.UTC(2026, 10, 26, 10);
const typeModels: Record<string, OracleWindowing> = {
  tumbling: { type: 'tumbling', sizeMs: 60_000 },
  sliding: { type: 'sliding', sizeMs: 120_000, slideMs: 30_000 },
  session: { type: 'session', gapMs: 3_000 },
};
const TYPES_WINDOWS = {
  types: ['tumbling', 'sliding', 'session'],
  tumbling: { size_secs: 60, allowed_lateness_secs: 30 },
  sliding: { size_secs: 120, slide_secs: 30, allowed_lateness_secs: 30 },
  session: { gap_secs: 3, allowed_lateness_secs: 30 },
};
/** Named specs: two tumbling windows of different sizes, a sliding and a session window. */
const namedModels: Record<string, OracleWindowing> = {
  '1m': { type: 'tumbling', sizeMs: 60_000 },
  '5m': { type: 'tumbling', sizeMs: 300_000 },
  slide_2m: { type: 'sliding', sizeMs: 120_000, slideMs: 30_000 },
  'sess-3s': { type: 'session', gapMs: 3_000 },
};
const NAMED_WINDOWS = {
  specs: [
    { name: '1m', type: 'tumbling', size_secs: 60, allowed_lateness_secs: 30 },
    { name: '5m', type: 'tumbling', size_secs: 300, allowed_lateness_secs: 30 },
    { name: 'slide_2m', type: 'sliding', size_secs: 120, slide_secs: 30, allowed_lateness_secs: 30 },
    { name: 'sess-3s', type: 'session', gap_secs: 3, allowed_lateness_secs: 30 },
  ],
};

/** A file job's config over `dir/in.ndjson`, writing `dir/<name>-*`. */
const jobConfig = (dir: string, name: string, windows: Record<string, unknown>, state: Record<string, unknown> = { backend: 'memory' }): ProcessorConfig =>
  parseConfig(
    {
      processor: {
        source: { type: 'file', path: join(dir, 'in.ndjson') },
        sink: { type: 'file', path: join(dir, `${name}-out.ndjson`) },
        dead_letter: { type: 'file', path: join(dir, `${name}-dlq.ndjson`) },
        state,
        checkpoint_interval_secs: 0.05,
        windows,
        watermark: { max_out_of_orderness_secs: 20 },
        log: { level: 'silent' },
      },
    },
    {},
  );

/** Input with disorder (late and too-late events) and invalid lines, in `dir/in.ndjson`. */
function writeInput(dir: string, count: number): string[] {
  const lines = generateEvents({ count, seed: 21, startMs: START, durationMs: 30 * 60_000, invalidPerKind: 2 });
  writeFileSync(join(dir, 'in.ndjson'), lines.join('\n') + '\n');
  return lines;
}

/** Runs `windows` over the input and checks every spec (`models`, by the label `labelOf` reads from a result) against its model. */
async function expectModels(name: string, windows: Record<string, unknown>, models: Record<string, OracleWindowing>, labelOf: (o: OutputLine) => string): Promise<OutputLine[]> {
  const dir = tempDir(`multi-window-${name}-`);
  const lines = writeInput(dir, 5000);
  const summary = await runLineJob({ config: jobConfig(dir, name, windows) });
  const output = readLines(join(dir, `${name}-out.ndjson`)).map((l) => JSON.parse(l) as OutputLine);
  const tooLate = readLines(join(dir, `${name}-dlq.ndjson`)).filter((l) => (JSON.parse(l) as { reason: string }).reason === 'too_late');

  const events = validEvents(lines);
  const oracles = Object.fromEntries(Object.entries(models).map(([label, windowing]) => [label, runOracle(events, windowing, 20_000, LATENESS_MS)]));
  // Too late for every spec: the events every model drops.
  const lateForAll = events.filter((e) => Object.values(oracles).every((o) => o.late.includes(e)));
  expect(lateForAll.length).toBeGreaterThan(0);
  expect(Object.values(oracles).some((o) => o.late.length > lateForAll.length)).toBe(true);
  expect(summary.late).toBe(lateForAll.length);
  expect(tooLate).toHaveLength(lateForAll.length);
  expect(summary.recordsIn).toBe(lines.length);
  expect(summary.windowsEmitted).toBe(output.length);

  for (const [label, oracle] of Object.entries(oracles)) {
    const last = new Map<string, OutputLine>();
    for (const o of output.filter((line) => labelOf(line) === label)) last.set(`${o.key.model}@${o.window.start}-${o.window.end}`, o);
    const latencySum = (w: (typeof oracle.windows)[number]): number => w.events.reduce((sum, e) => sum + (typeof e.metrics['latency_ms'] === 'number' ? e.metrics['latency_ms'] : 0), 0);
    for (const w of oracle.windows) {
      const id = `${w.key}@${w.start}-${w.end}`;
      const got = last.get(id);
      expect(got, `${label} ${id}`).toBeDefined();
      expect(got!.revision, `${label} ${id}`).toBe(w.emissions - 1);
      expect(got!.event_count, `${label} ${id}`).toBe(w.events.length);
      expect(got!.metrics['latency_ms']?.['sum'] ?? 0).toBeCloseTo(latencySum(w), 6);
    }
    if (models[label]!.type !== 'session') expect(last.size, label).toBe(oracle.windows.length);
  }
  expect(new Set(output.map(labelOf))).toEqual(new Set(Object.keys(models)));
  return output;
}

/** With LevelDB state: stopped at a third and at two thirds of the input, resumed each time: the bytes of an uninterrupted run. */
async function expectStoppedTwiceSameBytes(name: string, windows: Record<string, unknown>): Promise<void> {
  const dir = tempDir(`multi-window-stop-${name}-`);
  const lines = writeInput(dir, 20_000);
  const clock = Date.now();
  const config = (run: string): ProcessorConfig => jobConfig(dir, run, windows, { backend: 'level', path: join(dir, `${run}-state`) });
  await runLineJob({ config: config('reference'), now: () => clock });
  let read = 0;
  for (const at of [1 / 3, 2 / 3]) {
    const stop = new AbortController();
    const run = await runLineJob({
      config: config('resumed'),
      now: () => clock,
      signal: stop.signal,
      progress: { update: (records) => (read + records > lines.length * at ? stop.abort() : undefined), finish: () => undefined },
    });
    read += run.recordsIn;
    expect(read).toBeLessThan(lines.length);
  }
  const last = await runLineJob({ config: config('resumed'), now: () => clock });
  expect(last.resumedFrom).toBeGreaterThan(0);
  expect(read + last.recordsIn).toBe(lines.length);
  const reference = readFileSync(join(dir, 'reference-out.ndjson'), 'utf8');
  expect(reference.length).toBeGreaterThan(0);
  expect(readFileSync(join(dir, 'resumed-out.ndjson'), 'utf8')).toBe(reference);
  expect(readFileSync(join(dir, 'resumed-dlq.ndjson'), 'utf8')).toBe(readFileSync(join(dir, 'reference-dlq.ndjson'), 'utf8'));
}

const refusal = (windows: Record<string, unknown>, processor: Record<string, unknown> = {}): string => {
  try {
    parseConfig({ processor: { windows, ...processor } }, {});
  } catch (error) {
    if (error instanceof ConfigError) return error.message;
    throw error;
  }
  return 'accepted';
};

describe('several window types in one job', () => {
  it('each type gives the model\'s results; too late means too late for every type', async () => {
    const output = await expectModels('types', TYPES_WINDOWS, typeModels, (o) => o.window.type);
    // Without named specs the output is as before: no spec key.
    expect(output.every((o) => !('spec' in o.window))).toBe(true);
  });

  it('with LevelDB state, stopped twice and resumed: the bytes of an uninterrupted run', () => expectStoppedTwiceSameBytes('types', TYPES_WINDOWS), 60_000);

  it('runs with Kafka sources and LevelDB state (checkpoints hold every spec); duplicate types are refused', () => {
    const types = { types: ['tumbling', 'sliding'] };
    expect(refusal(types, { state: { backend: 'level' } })).toBe('accepted');
    expect(refusal(types, { source: { type: 'kafka' }, state: { backend: 'level' } })).toBe('accepted');
    expect(refusal(types, { state: { backend: 'memory' } })).toBe('accepted');
    expect(refusal({ types: ['tumbling', 'tumbling'] })).toContain('processor.windows.types[1]: expected no duplicate window types');
  });
});

describe('named window specs in one job', () => {
  it('each spec (two tumbling sizes among them) gives the model\'s results; each result names its spec right after its type', async () => {
    const output = await expectModels('named', NAMED_WINDOWS, namedModels, (o) => o.window.spec ?? '');
    // Parsed lines keep their keys' order.
    for (const o of output) expect(Object.keys(o.window)).toEqual(['type', 'spec', 'start', 'end']);
    expect(JSON.stringify(output[0])).toMatch(/^\{"key":\{[^}]*\},"window":\{"type":"(tumbling|sliding|session)","spec":"[^"]+","start":\d+,"end":\d+\},"revision":/);
  });

  it('with LevelDB state, stopped twice and resumed: the bytes of an uninterrupted run', () => expectStoppedTwiceSameBytes('named', NAMED_WINDOWS), 60_000);

  it('refuses bad specs, each message naming its key', () => {
    const spec = (extra: Record<string, unknown>): Record<string, unknown> => ({ name: 'a', type: 'tumbling', size_secs: 60, allowed_lateness_secs: 0, ...extra });
    const cases: [Record<string, unknown>, string][] = [
      [{ specs: [spec({}), spec({ name: 'a' })] }, 'processor.windows.specs[1].name: expected a name no other spec has, got "a"'],
      [{ specs: [spec({ name: 'a b' })] }, 'processor.windows.specs[0].name: expected a spec name (1–64 of A–Z a–z 0–9 _ -), got "a b"'],
      [{ specs: [spec({ name: 'x'.repeat(65) })] }, 'processor.windows.specs[0].name: expected a spec name'],
      [{ specs: [spec({}), spec({ name: 'b', size_secs: undefined })] }, 'processor.windows.specs[1].size_secs: expected an integer ≥ 1 (required)'],
      [{ specs: [spec({ allowed_lateness_secs: undefined })] }, 'processor.windows.specs[0].allowed_lateness_secs: expected an integer ≥ 0 (required)'],
      [{ specs: [spec({ type: undefined })] }, 'processor.windows.specs[0].type: expected one of tumbling, sliding, session'],
      [{ specs: [spec({ type: 'hopping' })] }, 'processor.windows.specs[0].type: expected one of tumbling, sliding, session, got "hopping"'],
      [{ specs: [spec({}), spec({ name: 'b', gap_secs: 3 })] }, 'processor.windows.specs[1].gap_secs: expected no gap_secs with type tumbling'],
      [{ specs: [spec({ type: 'session', size_secs: undefined, gap_secs: 3, slide_secs: 1 })] }, 'processor.windows.specs[0].slide_secs: expected no slide_secs with type session'],
      [{ specs: [spec({ type: 'sliding' })] }, 'processor.windows.specs[0].slide_secs: expected an integer ≥ 1 (required)'],
      [{ specs: [spec({ type: 'sliding', slide_secs: 120 })] }, 'processor.windows.specs[0].slide_secs: expected a number ≤ size_secs (60), got 120'],
      [{ specs: [spec({ colour: 'red' })] }, 'processor.windows.specs[0].colour: unknown key'],
      [{ specs: [spec({})], types: ['tumbling'] }, 'processor.windows.types: expected no types together with specs'],
      [{ specs: [] }, 'processor.windows.specs: expected a list of 1 or more window specs'],
    ];
    for (const [windows, message] of cases) expect(refusal(windows)).toContain(message);
    const accepted = { specs: [spec({}), { name: 'B_2-x', type: 'session', gap_secs: 5, allowed_lateness_secs: 0 }] };
    expect(refusal(accepted, { source: { type: 'kafka' }, state: { backend: 'level' } })).toBe('accepted');
  });
});
