/**
 * Several window types in one file job (`windows.types`, issue 12) against the brute-force
 * model run once per type: each type's final results are the model's, every result carries
 * its type, and a record is a `too_late` dead letter only when it is too late for every type.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateEvents } from '../../scripts/generate-sample.js';
import { ConfigError, parseConfig } from '../../src/config/index.js';
import { runLineJob } from '../../src/runner/file-job.js';
import { isoTime, runOracle, type OracleEvent, type OracleWindowing } from '../support/oracle.js';
import { tempDir } from '../support/temp-dir.js';

interface OutputLine {
  key: { model: string };
  window: { type: string; start: number; end: number };
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
const models: Record<'tumbling' | 'sliding' | 'session', OracleWindowing> = {
  tumbling: { type: 'tumbling', sizeMs: 60_000 },
  sliding: { type: 'sliding', sizeMs: 120_000, slideMs: 30_000 },
  session: { type: 'session', gapMs: 3_000 },
};

describe('several window types in one job', () => {
  it('each type gives the model\'s results; too late means too late for every type', async () => {
    const dir = tempDir('multi-window-');
    const lines = generateEvents({ count: 5000, seed: 21, startMs: Date.UTC(2026, 10, 26, 10), durationMs: 30 * 60_000, invalidPerKind: 2 });
    writeFileSync(join(dir, 'in.ndjson'), lines.join('\n') + '\n');
    const config = parseConfig(
      {
        processor: {
          source: { type: 'file', path: join(dir, 'in.ndjson') },
          sink: { type: 'file', path: join(dir, 'out.ndjson') },
          dead_letter: { type: 'file', path: join(dir, 'dlq.ndjson') },
          state: { backend: 'memory' },
          windows: {
            types: ['tumbling', 'sliding', 'session'],
            tumbling: { size_secs: 60, allowed_lateness_secs: 30 },
            sliding: { size_secs: 120, slide_secs: 30, allowed_lateness_secs: 30 },
            session: { gap_secs: 3, allowed_lateness_secs: 30 },
          },
          watermark: { max_out_of_orderness_secs: 20 },
        },
      },
      {},
    );
    const summary = await runLineJob({ config });
    const output = readLines(join(dir, 'out.ndjson')).map((l) => JSON.parse(l) as OutputLine);
    const tooLate = readLines(join(dir, 'dlq.ndjson')).filter((l) => (JSON.parse(l) as { reason: string }).reason === 'too_late');

    const events = validEvents(lines);
    const oracles = Object.fromEntries(Object.entries(models).map(([type, windowing]) => [type, runOracle(events, windowing, 20_000, LATENESS_MS)]));
    // Too late for every type: the events every model drops.
    const lateForAll = events.filter((e) => Object.values(oracles).every((o) => o.late.includes(e)));
    expect(lateForAll.length).toBeGreaterThan(0);
    expect(Object.values(oracles).some((o) => o.late.length > lateForAll.length)).toBe(true);
    expect(summary.late).toBe(lateForAll.length);
    expect(tooLate).toHaveLength(lateForAll.length);
    expect(summary.recordsIn).toBe(lines.length);
    expect(summary.windowsEmitted).toBe(output.length);

    for (const [type, oracle] of Object.entries(oracles)) {
      const last = new Map<string, OutputLine>();
      for (const o of output.filter((line) => line.window.type === type)) last.set(`${o.key.model}@${o.window.start}-${o.window.end}`, o);
      const latencySum = (w: (typeof oracle.windows)[number]): number => w.events.reduce((sum, e) => sum + (typeof e.metrics['latency_ms'] === 'number' ? e.metrics['latency_ms'] : 0), 0);
      for (const w of oracle.windows) {
        const id = `${w.key}@${w.start}-${w.end}`;
        const got = last.get(id);
        expect(got, `${type} ${id}`).toBeDefined();
        expect(got!.revision, `${type} ${id}`).toBe(w.emissions - 1);
        expect(got!.event_count, `${type} ${id}`).toBe(w.events.length);
        expect(got!.metrics['latency_ms']?.['sum'] ?? 0).toBeCloseTo(latencySum(w), 6);
      }
      if (type !== 'session') expect(last.size, type).toBe(oracle.windows.length);
    }
    expect(new Set(output.map((o) => o.window.type))).toEqual(new Set(['tumbling', 'sliding', 'session']));
  });

  it('runs with Kafka sources and LevelDB state (checkpoints hold every spec); duplicate types are refused', () => {
    const refusal = (processor: Record<string, unknown>): string => {
      try {
        parseConfig({ processor: { windows: { types: ['tumbling', 'sliding'] }, ...processor } }, {});
      } catch (error) {
        if (error instanceof ConfigError) return error.message;
        throw error;
      }
      return 'accepted';
    };
    expect(refusal({ state: { backend: 'level' } })).toBe('accepted');
    expect(refusal({ source: { type: 'kafka' }, state: { backend: 'level' } })).toBe('accepted');
    expect(refusal({ state: { backend: 'memory' } })).toBe('accepted');
    expect(refusal({ windows: { types: ['tumbling', 'tumbling'] } })).toContain('processor.windows.types[1]: expected no duplicate window types');
  });
});
