import { createHash } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateEvents } from '../../scripts/generate-sample.js';
import { parseConfig } from '../../src/config/index.js';
import { runLineJob } from '../../src/runner/file-job.js';
import { openStateStore } from '../../src/state/index.js';
import { exactPercentile, isoTime, runOracle, statsOf, type OracleEvent, type OracleWindowing } from '../support/oracle.js';
import { tempDir } from '../support/temp-dir.js';

interface OutputLine {
  key: Record<string, string | null>;
  window: { type: string; start: number; end: number };
  revision: number;
  event_count: number;
  emitted_at: number;
  metrics: Record<string, Record<string, number>>;
}

const readLines = (path: string): string[] => readFileSync(path, 'utf8').split('\n').filter((l) => l !== '');

/** Validity as DESIGN.md states it, checked independently of the parser. */
function toOracleEvent(line: string, keyFields: string[]): OracleEvent | undefined {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const event = value as Record<string, unknown>;
  const ts = typeof event['timestamp'] === 'number' ? event['timestamp'] : typeof event['timestamp'] === 'string' ? isoTime(event['timestamp']) : NaN;
  if (!Number.isFinite(ts)) return undefined;
  const metrics = event['metrics'];
  if (typeof metrics !== 'object' || metrics === null || Array.isArray(metrics)) return undefined;
  if (Object.values(metrics).some((v) => v !== null && typeof v !== 'number')) return undefined;
  const key = keyFields.map((f) => (event[f] === undefined || event[f] === null ? '' : String(event[f]))).join('|');
  return { key, timestamp: ts, metrics: metrics as Record<string, number | null> };
}

const cases: { name: string; windows: Record<string, unknown>; windowing: OracleWindowing; lateness: number; keyFields: string[] }[] = [
  { name: 'tumbling', windows: { default_type: 'tumbling', tumbling: { size_secs: 60, allowed_lateness_secs: 45 } }, windowing: { type: 'tumbling', sizeMs: 60_000 }, lateness: 45_000, keyFields: ['model'] },
  { name: 'sliding', windows: { default_type: 'sliding', sliding: { size_secs: 120, slide_secs: 30, allowed_lateness_secs: 20 } }, windowing: { type: 'sliding', sizeMs: 120_000, slideMs: 30_000 }, lateness: 20_000, keyFields: ['model', 'variant'] },
  { name: 'session', windows: { default_type: 'session', session: { gap_secs: 3, allowed_lateness_secs: 30 } }, windowing: { type: 'session', gapMs: 3_000 }, lateness: 30_000, keyFields: ['model', 'variant'] },
];

describe('file job end to end against a brute-force model of the semantics', () => {
  // parallelism 3 (two parse workers, issue 10) must write the very bytes of parallelism 1, and so match the model too.
  it.each(cases)('$name windows, parallelism 1 and 3', async ({ windows, windowing, lateness, keyFields }) => {
    const dir = tempDir('file-job-');
    const lines = generateEvents({ count: 6000, seed: 7, startMs: Date.UTC(2026, 10, 26, 10), durationMs: 40 * 60_000, invalidPerKind: 3 });
    writeFileSync(join(dir, 'in.ndjson'), lines.join('\n') + '\n');
    const clock = Date.now();
    const run = async (parallelism: number) => {
      const config = parseConfig(
        {
          processor: {
            source: { type: 'file', path: join(dir, 'in.ndjson') },
            sink: { type: 'file', path: join(dir, `out-${parallelism}.ndjson`) },
            dead_letter: { type: 'file', path: join(dir, `dlq-${parallelism}.ndjson`) },
            state: { backend: 'memory' },
            parallelism,
            event: { key_fields: keyFields },
            windows,
            watermark: { max_out_of_orderness_secs: 20 },
            aggregation: { percentiles: [50, 95, 99] },
          },
        },
        {},
      );
      const { durationMs: _, ...summary } = await runLineJob({ config, now: () => clock });
      return { summary, results: readFileSync(join(dir, `out-${parallelism}.ndjson`)), deadLettersRaw: readFileSync(join(dir, `dlq-${parallelism}.ndjson`)) };
    };
    const single = await run(1);
    const parallel = await run(3);
    expect(parallel.summary).toEqual(single.summary);
    expect(parallel.results.equals(single.results)).toBe(true);
    expect(parallel.deadLettersRaw.equals(single.deadLettersRaw)).toBe(true);
    const summary = parallel.summary;

    const valid = lines.map((l) => toOracleEvent(l, keyFields)).filter((e): e is OracleEvent => e !== undefined);
    const oracle = runOracle(valid, windowing, 20_000, lateness);
    const output = readLines(join(dir, 'out-3.ndjson')).map((l) => JSON.parse(l) as OutputLine);
    const deadLetters = readLines(join(dir, 'dlq-3.ndjson')).map((l) => JSON.parse(l) as { reason: string });

    // Every input line ends in exactly one place.
    expect(summary.recordsIn).toBe(lines.length);
    expect(summary.invalid).toBe(lines.length - valid.length);
    expect(summary.late).toBe(oracle.late.length);
    expect(oracle.late.length).toBeGreaterThan(0);
    expect(deadLetters.filter((d) => d.reason === 'too_late')).toHaveLength(oracle.late.length);
    expect(deadLetters.filter((d) => d.reason !== 'too_late')).toHaveLength(summary.invalid);
    expect(summary.windowsEmitted).toBe(output.length);

    // The final revision of each (key, window) is the aggregate of everything not dropped.
    const last = new Map<string, OutputLine>();
    for (const o of output) {
      expect(o.window.type).toBe(windowing.type);
      const id = `${Object.values(o.key).map((v) => v ?? '').join('|')}@${o.window.start}-${o.window.end}`;
      const previous = last.get(id);
      if (previous !== undefined) expect(o.revision).toBe(previous.revision + 1);
      else expect(o.revision).toBe(0);
      last.set(id, o);
    }
    let revisedWindows = 0;
    for (const w of oracle.windows) {
      const id = `${w.key}@${w.start}-${w.end}`;
      const got = last.get(id);
      expect(got, id).toBeDefined();
      last.delete(id);
      expect(got!.revision, id).toBe(w.emissions - 1);
      if (w.emissions > 1) revisedWindows++;
      expect(got!.event_count, id).toBe(w.events.length);
      const fields = new Set(w.events.flatMap((e) => Object.keys(e.metrics)));
      for (const field of fields) {
        const values = w.events.map((e) => e.metrics[field]).filter((v): v is number => typeof v === 'number');
        if (values.length === 0) {
          expect(got!.metrics[field], `${id} ${field}`).toBeUndefined();
          continue;
        }
        const want = statsOf(values);
        const m = got!.metrics[field]!;
        expect(m['count']).toBe(want.count);
        expect(m['sum']).toBeCloseTo(want.sum, 6);
        expect(m['avg']).toBeCloseTo(want.avg, 6);
        expect(m['min']).toBe(want.min);
        expect(m['max']).toBe(want.max);
        expect(m['stddev']).toBeCloseTo(want.stddev, 6);
        for (const p of [50, 95, 99]) expect(m[`p${p}`], `${id} ${field} p${p}`).toBeCloseTo(exactPercentile(want.sorted, p), 9);
      }
    }
    if (windowing.type !== 'session') {
      expect(revisedWindows).toBeGreaterThan(0);
      expect([...last.keys()]).toEqual([]);
    } else {
      // What remains are sessions superseded by a merge after they had fired: each lies inside a final session.
      const finals = oracle.windows;
      for (const o of last.values()) {
        const key = Object.values(o.key).map((v) => v ?? '').join('|');
        expect(finals.some((f) => f.key === key && f.start <= o.window.start && o.window.end <= f.end)).toBe(true);
      }
    }
  });
});

describe('file job resume checks that its output files are the ones the checkpoint wrote', () => {
  const setup = () => {
    const dir = tempDir('file-job-resume-');
    const lines = generateEvents({ count: 3000, seed: 5, startMs: Date.UTC(2026, 10, 26, 10), durationMs: 30 * 60_000, invalidPerKind: 2 });
    writeFileSync(join(dir, 'in.ndjson'), lines.join('\n') + '\n');
    const state = join(dir, 'state');
    const config = (sink: string) =>
      parseConfig(
        {
          processor: {
            source: { type: 'file', path: join(dir, 'in.ndjson') },
            sink: { type: 'file', path: join(dir, sink) },
            dead_letter: { type: 'file', path: join(dir, 'dlq.ndjson') },
            state: { backend: 'level', path: state },
            log: { level: 'silent' },
          },
        },
        {},
      );
    return { dir, state, config };
  };
  const refusal = (run: Promise<unknown>): Promise<string> =>
    run.then(
      () => 'resumed',
      (error: unknown) => (error instanceof Error ? error.message : String(error)),
    );

  it('refuses another existing sink file instead of truncating it, and resumes once the state folder is gone', async () => {
    const { dir, state, config } = setup();
    await runLineJob({ config: config('a.ndjson') });
    const other = join(dir, 'b.ndjson');
    writeFileSync(other, 'x'.repeat(149_999) + '\n');

    const message = await refusal(runLineJob({ config: config('b.ndjson') }));
    expect(message).toContain(`output file ${other} is not the output of checkpoint`);
    expect(message).toContain(`the state folder ${state}`);
    expect(message).toContain(`the checkpoint was taken while writing ${join(dir, 'a.ndjson')}`);
    expect(message).toMatch(/delete the state folder .* or restore the output file/);
    expect(statSync(other).size).toBe(150_000);
  });

  it('refuses its own path when the content or length no longer match, and resumes from the matching file', async () => {
    const { dir, config } = setup();
    const out = join(dir, 'a.ndjson');
    await runLineJob({ config: config('a.ndjson') });
    const original = readFileSync(out);

    writeFileSync(out, Buffer.from(original).fill(0x78, original.length - 10, original.length - 1));
    expect(await refusal(runLineJob({ config: config('a.ndjson') }))).toMatch(/bytes before offset \d+ differ from those the checkpoint recorded/);
    writeFileSync(out, original.subarray(0, 100));
    expect(await refusal(runLineJob({ config: config('a.ndjson') }))).toContain(`the file is shorter than the ${original.length} bytes the checkpoint recorded`);
    expect(statSync(out).size).toBe(100);

    // Restored (plus a torn line a crash could leave): the resume cuts it back and changes nothing else.
    writeFileSync(out, Buffer.concat([original, Buffer.from('{"torn')]));
    expect(await refusal(runLineJob({ config: config('a.ndjson') }))).toBe('resumed');
    expect(readFileSync(out)).toEqual(original);
  });

  it('a stop that came before the run ends it at once with a checkpoint; the next run gives the uninterrupted output', async () => {
    // One clock for all runs: results carry their emission time.
    const now = (): number => Date.UTC(2026, 10, 26, 12);
    const uninterrupted = setup();
    await runLineJob({ config: uninterrupted.config('a.ndjson'), now });
    const { dir, config } = setup();
    const stop = new AbortController();
    stop.abort();
    const stopped = await runLineJob({ config: config('a.ndjson'), signal: stop.signal, now });
    expect(stopped.recordsIn).toBe(0);
    await runLineJob({ config: config('a.ndjson'), now });
    expect(readFileSync(join(dir, 'a.ndjson'), 'utf8')).toBe(readFileSync(join(uninterrupted.dir, 'a.ndjson'), 'utf8'));
  });

  it('refuses a checkpoint from before output identities were recorded', async () => {
    const { dir, state, config } = setup();
    await runLineJob({ config: config('a.ndjson') });
    const store = await openStateStore({ backend: 'level', path: state });
    const { outputs, ...older } = (await store.latestCheckpoint())!;
    expect(outputs).toBeDefined();
    await store.writeCheckpoint({ ...older, id: older.id + 1 });
    await store.close();
    const before = readFileSync(join(dir, 'a.ndjson'));
    expect(await refusal(runLineJob({ config: config('a.ndjson') }))).toContain('written by an older version that did not record which file it wrote');
    expect(readFileSync(join(dir, 'a.ndjson'))).toEqual(before);
  });
});

describe('file job on hostile input', () => {
  const t0 = Date.UTC(2026, 10, 26, 10);
  const now = (): number => t0 + 3_600_000;

  async function run(lines: readonly string[], processor: Record<string, unknown>, maxRawBytes?: number): Promise<{ summary: Awaited<ReturnType<typeof runLineJob>>; output: string[]; deadLetters: Record<string, unknown>[] }> {
    const dir = tempDir('file-job-hostile-');
    writeFileSync(join(dir, 'in.ndjson'), lines.join('\n') + '\n');
    const config = parseConfig(
      {
        processor: {
          source: { type: 'file', path: join(dir, 'in.ndjson') },
          sink: { type: 'file', path: join(dir, 'out.ndjson') },
          dead_letter: { type: 'file', path: join(dir, 'dlq.ndjson'), max_raw_bytes: maxRawBytes },
          state: { backend: 'memory' },
          aggregation: { enabled: ['count', 'sum'] },
          ...processor,
        },
      },
      {},
    );
    const summary = await runLineJob({ config, now });
    const deadLetters = readLines(join(dir, 'dlq.ndjson')).map((l) => JSON.parse(l) as Record<string, unknown>);
    return { summary, output: readLines(join(dir, 'out.ndjson')), deadLetters };
  }

  it('aggregates and outputs metric and key names like __proto__, constructor, toString and emoji', async () => {
    // Written as text: an object literal's "__proto__" would set the prototype, not a field.
    const event = (second: number, base: number, extra = ''): string =>
      `{"timestamp":${t0 + second * 1000},"model":"🤖","__proto__":"p"${extra},` +
      `"metrics":{"__proto__":${base},"constructor":${base + 1},"toString":${base + 2},"😀":${base + 3}}}`;
    const { summary, output } = await run([event(1, 1, ',"constructor":"c"'), event(2, 3, ',"constructor":"c"'), event(3, 10)], {
      event: { key_fields: ['model', '__proto__', 'constructor'] },
    });

    expect(summary).toMatchObject({ recordsIn: 3, aggregated: 3, invalid: 0 });
    const window = `"window":{"type":"tumbling","start":${t0},"end":${t0 + 300_000}},"revision":0`;
    expect(output).toEqual([
      `{"key":{"model":"🤖","__proto__":"p","constructor":"c"},${window},"event_count":2,"emitted_at":${now()},` +
        '"metrics":{"__proto__":{"count":2,"sum":4},"constructor":{"count":2,"sum":6},"toString":{"count":2,"sum":8},"😀":{"count":2,"sum":10}}}',
      // No `constructor` field: the key field is missing (null), not Object's constructor function.
      `{"key":{"model":"🤖","__proto__":"p","constructor":null},${window},"event_count":1,"emitted_at":${now()},` +
        '"metrics":{"__proto__":{"count":1,"sum":10},"constructor":{"count":1,"sum":11},"toString":{"count":1,"sum":12},"😀":{"count":1,"sum":13}}}',
    ]);
    const parsed = JSON.parse(output[0]!) as { key: object; metrics: object };
    expect(Object.keys(parsed.metrics)).toEqual(['__proto__', 'constructor', 'toString', '😀']);
    expect(Object.keys(parsed.key)).toEqual(['model', '__proto__', 'constructor']);
  });

  it('sends every kind of bad record to the dead letter with its reason, and goes on', async () => {
    const ok = (second: number, metrics = '{"latency_ms":1}'): string => `{"timestamp":${t0 + second * 1000},"model":"m","metrics":${metrics}}`;
    const deep = (levels: number): string => '{"a":'.repeat(levels) + '1' + '}'.repeat(levels);
    const lines = [
      ok(1),
      'not json',
      `{"timestamp":${t0},"model":"m","metrics":{},"x":${deep(10_000)}}`,
      '[1]',
      '{"model":"m","metrics":{}}',
      '{"timestamp":"yesterday","model":"m","metrics":{}}',
      `{"timestamp":${now() + 86_400_000 + 1},"model":"m","metrics":{}}`,
      `{"timestamp":${t0},"model":"m","metrics":7}`,
      ok(2, '{"latency_ms":1e999}'),
      `{"timestamp":${t0},"model":{"toString":1},"metrics":{}}`,
      ok(3_000),
      // Far behind the watermark now: too late, re-serialised for its dead letter and capped like the others.
      `{"timestamp":${t0 + 2000},"model":"m","note":"${'n'.repeat(200)}","metrics":{"latency_ms":2}}`,
      'z'.repeat(500),
    ];
    const { summary, output, deadLetters } = await run(lines, {}, 100);

    expect(deadLetters.map((d) => [d['reason'], d['field'] ?? d['error'] ?? null])).toEqual([
      ['invalid_json', null],
      ['too_deep', null],
      ['not_an_object', null],
      ['missing_timestamp', null],
      ['invalid_timestamp', null],
      ['future_timestamp', null],
      ['invalid_metrics', null],
      ['invalid_metric', 'latency_ms'],
      ['processing_error', 'Cannot convert object to primitive value'],
      ['too_late', null],
      ['invalid_json', null],
    ]);
    expect(deadLetters[9]).toMatchObject({ raw: lines[11]!.slice(0, 100), raw_bytes: lines[11]!.length });
    // Capped: the first 100 bytes, the original size and its hash.
    expect(deadLetters[1]).toMatchObject({ raw: lines[2]!.slice(0, 100), raw_bytes: lines[2]!.length });
    expect(deadLetters[10]).toEqual({
      reason: 'invalid_json',
      raw: 'z'.repeat(100),
      raw_bytes: 500,
      raw_sha256: createHash('sha256').update('z'.repeat(500)).digest('hex'),
      offset: String(lines.join('\n').length + 1),
    });
    expect(summary).toMatchObject({ recordsIn: lines.length, aggregated: 2, late: 1, invalid: 10 });
    expect(output.map((l) => (JSON.parse(l) as { event_count: number }).event_count)).toEqual([1, 1]);
  });
});
