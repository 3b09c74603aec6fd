import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateEvents } from '../../scripts/generate-sample.js';
import { exited, onStderrLine, startCli } from '../support/cli.js';
import { tempDir } from '../support/temp-dir.js';

const tmp = (): string => tempDir('cli-');

function yaml(dir: string, name: string, body: string): string {
  const path = join(dir, `${name}.yaml`);
  writeFileSync(path, `processor:\n${body}`);
  return path;
}

/** Collects a child's stdout and stderr as text. */
function capture(child: ReturnType<typeof startCli>): { stdout: () => string; stderr: () => string } {
  let out = '';
  let err = '';
  child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (err += c.toString()));
  return { stdout: () => out, stderr: () => err };
}

const withoutEmittedAt = (text: string): string[] => text.split('\n').filter((l) => l !== '').map((l) => l.replace(/"emitted_at":\d+,/, ''));

describe('stream-processor command', () => {
  it('--help prints the usage and exits 0', async () => {
    const child = startCli(['--help']);
    const io = capture(child);
    expect(await exited(child)).toBe(0);
    expect(io.stdout()).toMatch(/Usage: stream-processor \[--config <file.yaml>\]/);
  });

  it('a bad configuration stops the start with the key, the value and what is expected (exit 2)', async () => {
    const dir = tmp();
    const config = yaml(dir, 'bad', '  windows: { sliding: { size_secs: 60, slide_secs: 120 } }\n  buffer_sise: 10\n');
    const child = startCli(['--config', config]);
    const io = capture(child);
    expect(await exited(child)).toBe(2);
    expect(io.stderr()).toMatch(/processor\.windows\.sliding\.slide_secs/);
    expect(io.stderr()).toMatch(/120/);
    expect(io.stderr()).toMatch(/processor\.buffer_sise/);
  });

  it('a configuration error names the file and the problem but never echoes the file (secrets stay out of stderr)', async () => {
    const dir = tmp();
    const secret = 'sk-live-7f3a9c1e5b2d4f6a8c0e';
    const files = {
      // What `--config /proc/self/environ` reads: NUL-separated variables.
      environ: `HOME=/root\0API_TOKEN=${secret}\0PATH=/usr/bin\0`,
      // A syntax error right next to the secret: js-yaml's message would quote these lines.
      syntax: `processor:\n  kafka:\n    password: ${secret}: x\n`,
      // Valid YAML that is not a mapping: a plain scalar, and a list.
      scalar: `API_TOKEN=${secret}\n`,
      list: `- ${secret}\n`,
      // A long value at a real key shows only its start.
      long: `processor:\n  log: { level: "${'x'.repeat(100)}${secret}" }\n`,
    };
    const runs = Object.entries(files).map(async ([name, text]) => {
      const path = join(dir, `${name}.yaml`);
      writeFileSync(path, text);
      const child = startCli(['--config', path]);
      const io = capture(child);
      return { name, path, code: await exited(child), stderr: io.stderr() };
    });
    const results = await Promise.all(runs);
    for (const { name, path, code, stderr } of results) {
      expect(code, name).toBe(2);
      expect(stderr, name).toContain(path);
      expect(stderr, name).not.toContain(secret);
    }
    const byName = Object.fromEntries(results.map((r) => [r.name, r.stderr]));
    expect(byName['environ']).toMatch(/valid YAML: null byte is not allowed in input \(line 1, column 11\)/);
    expect(byName['syntax']).toMatch(/valid YAML: .+ \(line 3, column \d+\)/);
    expect(byName['scalar']).toMatch(/the document is a string \(content not shown\)/);
    expect(byName['list']).toMatch(/the document is a list \(content not shown\)/);
    expect(byName['long']).toMatch(/processor\.log\.level: expected one of trace, .*, got "x+…/);
  });

  it('--validate prints the effective configuration, with environment overrides applied', async () => {
    const child = startCli(['--validate'], { PROCESSOR_BUFFER_SIZE: '1234' });
    const io = capture(child);
    expect(await exited(child)).toBe(0);
    expect(io.stdout()).toMatch(/buffer_size: 1234/);
  });

  it('sits in a shell pipeline: NDJSON on stdin, results on stdout, the same results as a file run', async () => {
    const dir = tmp();
    const lines = generateEvents({ count: 3000, seed: 21, startMs: Date.UTC(2026, 10, 26, 10), durationMs: 20 * 60_000, invalidPerKind: 2 });
    writeFileSync(join(dir, 'in.ndjson'), lines.join('\n') + '\n');
    const common = `  dead_letter: { type: file, path: ${join(dir, 'dlq.ndjson')} }\n  state: { backend: memory }\n  metrics: { port: 0 }\n  log: { level: silent }\n`;
    const file = startCli(['--config', yaml(dir, 'file', `  source: { type: file, path: ${join(dir, 'in.ndjson')} }\n  sink: { type: file, path: ${join(dir, 'out.ndjson')} }\n${common}`)]);
    expect(await exited(file)).toBe(0);

    const piped = startCli(['--config', yaml(dir, 'pipe', `  source: { type: stdin }\n  sink: { type: stdout }\n${common}`)], {}, 'pipe');
    const io = capture(piped);
    piped.stdin!.end(lines.join('\n') + '\n');
    expect(await exited(piped)).toBe(0);
    expect(withoutEmittedAt(io.stdout())).toEqual(withoutEmittedAt(readFileSync(join(dir, 'out.ndjson'), 'utf8')));
  });

  it('writes a fired window to stdout at once while stdin stays open', async () => {
    const dir = tmp();
    const config = yaml(
      dir,
      'live',
      `  source: { type: stdin }\n  sink: { type: stdout }\n  dead_letter: { type: stderr }\n  state: { backend: memory }\n` +
        `  windows: { tumbling: { size_secs: 1, allowed_lateness_secs: 0 } }\n  watermark: { max_out_of_orderness_secs: 0 }\n` +
        `  metrics: { port: 0 }\n  log: { level: silent }\n`,
    );
    const child = startCli(['--config', config], {}, 'pipe');
    const io = capture(child);
    const event = (timestamp: string): string => `${JSON.stringify({ timestamp, model: 'gpt-4o', metrics: { latency_ms: 5 } })}\n`;
    child.stdin!.write(event('2026-11-26T10:00:00.100Z'));
    // A later event moves the watermark past the end of [10:00:00, 10:00:01): that window fires.
    child.stdin!.write(event('2026-11-26T10:00:02.000Z'));
    const written = Date.now();
    while (!io.stdout().includes('\n') && Date.now() - written < 10_000) await new Promise((resolve) => setTimeout(resolve, 20));
    const waitedMs = Date.now() - written;
    expect(io.stdout()).toMatch(/"window":\{"type":"tumbling","start":1795687200000,"end":1795687201000\}/);
    // Start-up (tsx) is in the figure too; the result itself leaves on the next event-loop turn.
    expect(waitedMs).toBeLessThan(5_000);
    expect(child.exitCode).toBeNull();
    const firstSeen = io.stdout();
    child.stdin!.write(event('2026-11-26T10:00:03.500Z'));
    const again = Date.now();
    while (io.stdout() === firstSeen && Date.now() - again < 5_000) await new Promise((resolve) => setTimeout(resolve, 10));
    // With the process running, a second firing must leave well within a second.
    expect(Date.now() - again).toBeLessThan(1_000);
    expect(io.stdout().trim().split('\n')).toHaveLength(2);
    child.stdin!.end();
    expect(await exited(child)).toBe(0);
  });

  it('serves /metrics, /healthz, /readyz and /windows while running, and SIGTERM flushes and exits 0', async () => {
    const dir = tmp();
    const config = yaml(
      dir,
      'stdin',
      `  source: { type: stdin }\n  sink: { type: file, path: ${join(dir, 'out.ndjson')} }\n  dead_letter: { type: file, path: ${join(dir, 'dlq.ndjson')} }\n  state: { backend: memory }\n  metrics: { port: 0 }\n`,
    );
    const child = startCli(['--config', config], {}, 'pipe');
    let port = 0;
    onStderrLine(child, (line) => {
      if (line.includes('http endpoint listening')) port = (JSON.parse(line) as { port: number }).port;
    });
    const events = [
      { timestamp: '2026-11-26T10:00:01Z', model: 'gpt-4o', metrics: { latency_ms: 100 } },
      { timestamp: '2026-11-26T10:00:02Z', model: 'gpt-4o', metrics: { latency_ms: 300 } },
      { timestamp: '2026-11-26T10:00:03Z', model: 'claude', metrics: { latency_ms: 50 } },
    ];
    child.stdin!.write(events.map((e) => JSON.stringify(e)).join('\n') + '\nnot json\n');
    const get = async (path: string): Promise<{ status: number; body: string }> => {
      const response = await fetch(`http://127.0.0.1:${port}${path}`);
      return { status: response.status, body: await response.text() };
    };
    const deadline = Date.now() + 20_000;
    let metrics = '';
    while (Date.now() < deadline) {
      if (port !== 0) {
        metrics = (await get('/metrics')).body;
        // Counters are published per batch, the open-window gauge every second.
        if (/stream_processor_records_in_total\{outcome="aggregated"\} 3/.test(metrics) && /stream_processor_windows_open 2/.test(metrics)) break;
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(metrics).toMatch(/stream_processor_records_in_total\{outcome="aggregated"\} 3/);
    expect(metrics).toMatch(/stream_processor_records_in_total\{outcome="dead_letter"\} 1/);
    expect(metrics).toMatch(/stream_processor_dead_letters_total\{reason="invalid_json"\} 1/);
    expect(metrics).toMatch(/stream_processor_windows_open 2/);
    expect(metrics).toMatch(/process_cpu_user_seconds_total/);
    expect((await get('/healthz')).status).toBe(200);
    expect((await get('/readyz')).status).toBe(200);
    type Page = { windows: { key: { model: string }; eventCount: number; metrics: { latency_ms: { avg: number } } }[]; next: string | null };
    const { windows } = JSON.parse((await get('/windows?key=gpt-4o')).body) as Page;
    expect(windows).toHaveLength(1);
    expect(windows[0]!.key).toEqual({ model: 'gpt-4o' });
    expect(windows[0]!.metrics.latency_ms.avg).toBe(200);
    const first = JSON.parse((await get('/windows?limit=1')).body) as Page;
    expect(first.windows.map((w) => w.key.model)).toEqual(['claude']);
    const second = JSON.parse((await get(`/windows?limit=1&cursor=${first.next}`)).body) as Page;
    expect(second).toMatchObject({ windows: [{ key: { model: 'gpt-4o' } }], next: null });

    child.kill('SIGTERM');
    expect(await exited(child)).toBe(0);
    // Nothing durable keeps the open windows of a stdin run: the stop flushed them.
    expect(readFileSync(join(dir, 'out.ndjson'), 'utf8').trim().split('\n')).toHaveLength(2);
  });

  it('SIGTERM during a checkpointed file run takes a final checkpoint and exits 0; a second instance on the same state is refused; the rerun completes the same output', async () => {
    const dir = tmp();
    const lines = generateEvents({ count: 600_000, seed: 8, startMs: Date.UTC(2026, 10, 26, 10), durationMs: 8 * 3_600_000, invalidPerKind: 3 });
    writeFileSync(join(dir, 'in.ndjson'), lines.join('\n') + '\n');
    const config = (name: string): string =>
      yaml(
        dir,
        name,
        `  source: { type: file, path: ${join(dir, 'in.ndjson')} }\n  sink: { type: file, path: ${join(dir, `${name}.ndjson`)} }\n  dead_letter: { type: file, path: ${join(dir, `${name}-dlq.ndjson`)} }\n  state: { backend: level, path: ${join(dir, `${name}-state`)} }\n  checkpoint_interval_secs: 1\n  metrics: { port: 0 }\n  log: { level: debug }\n`,
      );
    const reference = startCli(['--config', config('reference')]);
    expect(await exited(reference)).toBe(0);

    const stopped = startCli(['--config', config('stopped')]);
    const log: string[] = [];
    let second: Promise<{ code: number | string; stderr: string }> | undefined;
    onStderrLine(stopped, (line) => {
      log.push(line);
      if (!line.includes('"ready: state restored')) return;
      // While it runs, a second instance on the same state folder must refuse to start.
      const other = startCli(['--config', config('stopped').replace('stopped.yaml', 'stopped.yaml')]);
      const io = capture(other);
      second = exited(other).then((code) => {
        stopped.kill('SIGTERM');
        return { code, stderr: io.stderr() };
      });
    });
    expect(await exited(stopped)).toBe(0);
    const refused = await second!;
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/state folder .*stopped-state is (locked by another running process|already open)/);
    const stopAt = log.findIndex((l) => l.includes('stopping'));
    expect(stopAt).toBeGreaterThan(-1);
    expect(log.slice(stopAt).some((l) => l.includes('"checkpoint complete"'))).toBe(true);

    const rerun = startCli(['--config', config('stopped')]);
    const rerunLog: string[] = [];
    onStderrLine(rerun, (line) => rerunLog.push(line));
    expect(await exited(rerun)).toBe(0);
    expect(rerunLog.some((l) => l.includes('resuming from checkpoint'))).toBe(true);
    expect(withoutEmittedAt(readFileSync(join(dir, 'stopped.ndjson'), 'utf8'))).toEqual(withoutEmittedAt(readFileSync(join(dir, 'reference.ndjson'), 'utf8')));
  }, 90_000);

});
