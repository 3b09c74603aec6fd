/**
 * `processor.parallelism` for file and stdin jobs (issue 10): the parse runs in worker
 * threads, and the output (results, dead letters, their order, the summary) must be the
 * very bytes of `parallelism: 1`, whatever the input: the bundled sample, hostile lines,
 * several keys and metric selections, every window type, checkpoints and a resume, stdin
 * with an idle spell. The brute-force model of the semantics checks parallelism 2 in
 * `file-job.test.ts`. Workers must be gone after completion, an error and a stop.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { load } from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { generateEvents } from '../../scripts/generate-sample.js';
import { createPipeline } from '../../src/builder/create-pipeline.js';
import { parseConfig, type ProcessorConfig } from '../../src/config/index.js';
import { runLineJob } from '../../src/runner/file-job.js';
import type { JobSummary } from '../../src/runner/job-stats.js';
import { exited, onStderrLine, REPO, startCli } from '../support/cli.js';
import { tempDir } from '../support/temp-dir.js';

const t0 = Date.UTC(2026, 10, 26, 10);

/** Threads of this process (Linux): a worker thread is one until it is terminated. */
const threads = (): number => Number(/Threads:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))![1]);

async function expectThreadsBackTo(baseline: number): Promise<void> {
  for (let i = 0; i < 100 && threads() > baseline; i++) await new Promise((resolve) => setTimeout(resolve, 20));
  expect(threads()).toBeLessThanOrEqual(baseline);
}

interface Outcome {
  readonly summary: Omit<JobSummary, 'durationMs'>;
  readonly results: string;
  readonly deadLetters: string;
}

/** Runs the file job over `input` with `processor` settings at `parallelism`, with a fixed clock. */
async function runJob(dir: string, processor: Record<string, unknown>, parallelism: number, clock: number, name = `p${parallelism}`): Promise<Outcome> {
  const config = parseConfig(
    {
      processor: {
        source: { type: 'file', path: join(dir, 'in.ndjson') },
        state: { backend: 'memory' },
        ...processor,
        sink: { type: 'file', path: join(dir, `${name}-out.ndjson`) },
        dead_letter: { type: 'file', path: join(dir, `${name}-dlq.ndjson`) },
        parallelism,
        log: { level: 'silent' },
      },
    },
    {},
  );
  const { durationMs: _, ...summary } = await runLineJob({ config, now: () => clock });
  return { summary, results: readFileSync(join(dir, `${name}-out.ndjson`), 'utf8'), deadLetters: readFileSync(join(dir, `${name}-dlq.ndjson`), 'utf8') };
}

/** Parallelism 1, 2 and 3 (one and two parse workers) over the same input and settings: the same bytes and summary. */
async function expectSameOutput(dir: string, processor: Record<string, unknown>): Promise<Outcome> {
  const clock = Date.now();
  const single = await runJob(dir, processor, 1, clock);
  for (const parallelism of [2, 3]) {
    const parallel = await runJob(dir, processor, parallelism, clock);
    expect(parallel.summary).toEqual(single.summary);
    expect(parallel.results).toBe(single.results);
    expect(parallel.deadLetters).toBe(single.deadLetters);
  }
  return single;
}

describe('parallelism 2 and 3 write what parallelism 1 writes', () => {
  it('on the bundled sample with the default configuration', async () => {
    const dir = tempDir('par-sample-');
    writeFileSync(join(dir, 'in.ndjson'), readFileSync(join(REPO, 'data/sample-events.ndjson')));
    const defaults = (load(readFileSync(join(REPO, 'config/default.yaml'), 'utf8')) as { processor: Record<string, unknown> }).processor;
    const single = await expectSameOutput(dir, { ...defaults, source: { type: 'file', path: join(dir, 'in.ndjson') } });
    expect(single.summary).toMatchObject({ recordsIn: 20_060, late: 52, invalid: 60, windowsEmitted: 174 });
  });

  it.each([
    { name: 'tumbling', windows: { default_type: 'tumbling', tumbling: { size_secs: 60, allowed_lateness_secs: 45 } } },
    { name: 'sliding', windows: { default_type: 'sliding', sliding: { size_secs: 120, slide_secs: 30, allowed_lateness_secs: 20 } } },
    { name: 'session', windows: { default_type: 'session', session: { gap_secs: 3, allowed_lateness_secs: 30 } } },
    { name: 'all three types at once', windows: { types: ['tumbling', 'sliding', 'session'], tumbling: { size_secs: 60, allowed_lateness_secs: 30 } } },
  ])('on disordered input with late, too-late and invalid lines: $name windows, two key fields', async ({ windows }) => {
    const dir = tempDir('par-generated-');
    const lines = generateEvents({ count: 20_000, seed: 13, startMs: t0, durationMs: 60 * 60_000, invalidPerKind: 5, lateFraction: 0.05, tooLateFraction: 0.01 });
    writeFileSync(join(dir, 'in.ndjson'), lines.join('\n') + '\n');
    const single = await expectSameOutput(dir, { event: { key_fields: ['model', 'variant'] }, windows, watermark: { max_out_of_orderness_secs: 20 } });
    // Too late for every type at once is rare: checked for the single types.
    if (!('types' in windows)) expect(single.summary.late).toBeGreaterThan(0);
    expect(single.summary.invalid).toBeGreaterThan(0);
    expect(single.results.split('\n').some((l) => l.includes('"revision":1'))).toBe(true);
  });

  it('on hostile lines: odd names, every bad kind, CRLF, blank lines, a byte-order mark, multi-byte text, lines longer than a chunk', async () => {
    const dir = tempDir('par-hostile-');
    const event = (second: number, extra = '', metrics = '"latency_ms":1,"cost_usd":null'): string =>
      `{"timestamp":${t0 + second * 1000},"model":"m${second % 3}","variant":${second % 4 === 0 ? 'null' : `"v|${second % 2}"`}${extra},"metrics":{${metrics}}}`;
    const lines = ['\uFEFF' + event(0)];
    for (let i = 1; i < 6000; i++) {
      const second = i % 50 === 0 ? i - 400 : i; // too late for every window now and then
      lines.push(
        i % 97 === 0 ? 'not json' : i % 89 === 0 ? '[1]' : i % 83 === 0 ? '{"metrics":{}}' : i % 79 === 0 ? event(second, '', '"latency_ms":1e999') : i % 73 === 0 ? event(second, ',"model":{"toString":1}') : '',
      );
      lines.push(
        i % 7 === 0
          ? event(second, ',"__proto__":"p","note":"é😀"', '"__proto__":2,"constructor":3,"😀":4,"latency_ms":5')
          : i % 11 === 0
            ? event(second, `,"pad":"${'x'.repeat(70_000)}"`)
            : i % 13 === 0
              ? event(second, ',"model":7', '"b":1,"a":2')
              : event(second) + (i % 5 === 0 ? '\r' : ''),
      );
      if (i % 17 === 0) lines.push('   ');
    }
    writeFileSync(join(dir, 'in.ndjson'), lines.join('\n')); // no newline after the last line
    for (const metric_fields of [[], ['latency_ms', '__proto__', 'constructor']]) {
      const single = await expectSameOutput(dir, {
        event: { key_fields: ['model', 'variant', '__proto__', 'metrics'], metric_fields },
        windows: { default_type: 'tumbling', tumbling: { size_secs: 10, allowed_lateness_secs: 5 } },
        watermark: { max_out_of_orderness_secs: 2 },
        dead_letter: { max_raw_bytes: 200 },
      });
      expect(single.summary.late).toBeGreaterThan(0);
      const reasons = new Set(single.deadLetters.split('\n').filter((l) => l !== '').map((l) => (JSON.parse(l) as { reason: string }).reason));
      expect([...reasons].sort()).toEqual(['invalid_json', 'invalid_metric', 'missing_timestamp', 'not_an_object', 'processing_error', 'too_late']);
    }
  }, 60_000);

  it('with checkpoints to level state, a stop in the middle and a resume at parallelism 3', async () => {
    const dir = tempDir('par-resume-');
    const lines = generateEvents({ count: 60_000, seed: 17, startMs: t0, durationMs: 3 * 3_600_000, invalidPerKind: 5 });
    writeFileSync(join(dir, 'in.ndjson'), lines.join('\n') + '\n');
    const clock = Date.now();
    const settings = (name: string, parallelism: number): ProcessorConfig =>
      parseConfig(
        {
          processor: {
            source: { type: 'file', path: join(dir, 'in.ndjson') },
            sink: { type: 'file', path: join(dir, `${name}-out.ndjson`) },
            dead_letter: { type: 'file', path: join(dir, `${name}-dlq.ndjson`) },
            state: { backend: 'level', path: join(dir, `${name}-state`) },
            checkpoint_interval_secs: 0.05,
            windows: { default_type: 'session', session: { gap_secs: 20, allowed_lateness_secs: 30 } },
            parallelism,
            log: { level: 'silent' },
          },
        },
        {},
      );
    await runLineJob({ config: settings('reference', 1), now: () => clock });
    const baseline = threads();

    // Stopped once a third of the input is through: a final checkpoint, workers terminated.
    const stop = new AbortController();
    const first = await runLineJob({
      config: settings('resumed', 3),
      now: () => clock,
      signal: stop.signal,
      progress: { update: (records) => (records > lines.length / 3 ? stop.abort() : undefined), finish: () => undefined },
    });
    expect(first.recordsIn).toBeLessThan(lines.length);
    await expectThreadsBackTo(baseline);
    const second = await runLineJob({ config: settings('resumed', 3), now: () => clock });
    expect(second.resumedFrom).toBeGreaterThan(0);
    expect(first.recordsIn + second.recordsIn).toBe(lines.length);
    await expectThreadsBackTo(baseline);

    expect(readFileSync(join(dir, 'resumed-out.ndjson'), 'utf8')).toBe(readFileSync(join(dir, 'reference-out.ndjson'), 'utf8'));
    expect(readFileSync(join(dir, 'resumed-dlq.ndjson'), 'utf8')).toBe(readFileSync(join(dir, 'reference-dlq.ndjson'), 'utf8'));
  }, 60_000);
});

describe('parse workers are terminated', () => {
  it('when the job fails (a sink whose flush fails) and when it ends', async () => {
    const dir = tempDir('par-teardown-');
    writeFileSync(join(dir, 'in.ndjson'), readFileSync(join(REPO, 'data/sample-events.ndjson')));
    const config = parseConfig(
      { processor: { source: { type: 'file', path: join(dir, 'in.ndjson') }, dead_letter: { type: 'file', path: join(dir, 'dlq.ndjson') }, state: { backend: 'memory' }, parallelism: 3, log: { level: 'silent' } } },
      {},
    );
    const discard = { inFlight: 0, write: () => undefined, flush: async () => undefined, close: async () => undefined };
    await createPipeline().withConfig(config).withSink(discard).build().run();
    const baseline = threads();
    // Always over buffer_size: the source asks for a flush after its first chunk, and it fails.
    const broken = { ...discard, inFlight: 1_000_000, flush: () => Promise.reject(new Error('sink broke')) };
    await expect(createPipeline().withConfig(config).withSink(broken).build().run()).rejects.toThrow('sink broke');
    await expectThreadsBackTo(baseline);
    await createPipeline().withConfig(config).withSink(discard).build().run();
    await expectThreadsBackTo(baseline);
  }, 60_000);
});

describe('stdin at parallelism 2 (the command)', () => {
  const withoutEmittedAt = (text: string): string => text.replace(/"emitted_at":\d+,/g, '');

  function config(dir: string, name: string, parallelism: number): string {
    const path = join(dir, `${name}.yaml`);
    writeFileSync(
      path,
      JSON.stringify({
        processor: {
          source: { type: 'stdin' },
          sink: { type: 'file', path: join(dir, `${name}-out.ndjson`) },
          dead_letter: { type: 'file', path: join(dir, `${name}-dlq.ndjson`) },
          state: { backend: 'memory' },
          windows: { default_type: 'tumbling', tumbling: { size_secs: 60, allowed_lateness_secs: 30 } },
          watermark: { max_out_of_orderness_secs: 10, idle_timeout_secs: 1 },
          parallelism,
          metrics: { port: 0 },
          log: { level: 'info' },
        },
      }),
    );
    return path;
  }

  /** Feeds `parts` to the command's stdin with `pauseMs` between them; ends stdin, or sends SIGTERM after the last part. */
  async function feed(path: string, parts: readonly string[], pauseMs: number, end: 'eof' | 'sigterm'): Promise<{ code: number | string; stopped: boolean }> {
    const child = startCli(['--config', path], {}, 'pipe');
    let stopped = false;
    onStderrLine(child, (line) => {
      if (line.includes('"job finished"')) stopped = true;
    });
    const input = child.stdin!;
    for (const [i, part] of parts.entries()) {
      if (i > 0) await new Promise((resolve) => setTimeout(resolve, pauseMs));
      await new Promise((resolve, reject) => input.write(part, (error) => (error ? reject(error) : resolve(undefined))));
    }
    if (end === 'eof') input.end();
    else {
      await new Promise((resolve) => setTimeout(resolve, pauseMs));
      child.kill('SIGTERM');
    }
    return { code: await exited(child), stopped };
  }

  it('an idle spell fires the same windows (a late record then revises one); SIGTERM flushes and exits 0', async () => {
    const dir = tempDir('par-stdin-');
    // Two bursts of event time two hours apart, with a quiet spell (idle timeout 1 s) in between.
    const burst = (from: number, seed: number): string =>
      generateEvents({ count: 4000, seed, startMs: from, durationMs: 10 * 60_000, invalidPerKind: 2 }).join('\n') + '\n';
    // A probe that only the idle spell can revise: the first part ends 9 s past the end of the
    // window [19 min, 20 min), so the watermark (10 s behind) reaches that end only by idling;
    // the second part opens with a record for that window, then a revision 1, not part of revision 0.
    const probe = (ms: number): string => `{"timestamp":${t0 + ms},"model":"idle-probe","metrics":{"latency_ms":${ms}}}\n`;
    const parts = [burst(t0, 1) + probe(19 * 60_000 + 30_000) + probe(20 * 60_000 + 9_000), probe(19 * 60_000 + 55_000) + burst(t0 + 2 * 3_600_000, 2)];
    const single = await feed(config(dir, 'p1', 1), parts, 5000, 'eof');
    const parallel = await feed(config(dir, 'p2', 2), parts, 5000, 'eof');
    expect([single.code, parallel.code]).toEqual([0, 0]);
    const results = (name: string): string => withoutEmittedAt(readFileSync(join(dir, `${name}-out.ndjson`), 'utf8'));
    expect(results('p2')).toBe(results('p1'));
    const revised = `{"key":{"model":"idle-probe"},"window":{"type":"tumbling","start":${t0 + 19 * 60_000},"end":${t0 + 20 * 60_000}},"revision":1,"event_count":2`;
    expect(results('p1')).toContain(revised);
    expect(readFileSync(join(dir, 'p2-dlq.ndjson'), 'utf8')).toBe(readFileSync(join(dir, 'p1-dlq.ndjson'), 'utf8'));

    // SIGTERM with stdin still open (after a second idle spell): the input read so far is
    // processed and every window flushed, at either setting.
    const stoppedSingle = await feed(config(dir, 'p1-stopped', 1), parts, 5000, 'sigterm');
    const stoppedParallel = await feed(config(dir, 'p2-stopped', 2), parts, 5000, 'sigterm');
    expect([stoppedSingle, stoppedParallel]).toEqual([{ code: 0, stopped: true }, { code: 0, stopped: true }]);
    expect(results('p2-stopped')).toBe(results('p1-stopped'));
    expect(results('p2-stopped').split('\n').length).toBe(results('p1').split('\n').length);
  }, 120_000);
});
