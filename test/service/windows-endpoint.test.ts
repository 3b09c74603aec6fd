import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exited, onStderrLine, startCli } from '../support/cli.js';

const KEYS = 20_000;
const VALUES_PER_WINDOW = 5;

/**
 * The service (its own process, so the figures are the server's and not this
 * client's) holding 20,000 open windows of every aggregation over four metrics.
 */
let child: ChildProcess;
let port = 0;
// Shared by the tests of this file (tempDir's folders live for one test only).
const dir = mkdtempSync(join(tmpdir(), 'windows-endpoint-'));
beforeAll(async () => {
  const config = join(dir, 'config.yaml');
  writeFileSync(
    config,
    `processor:\n  source: { type: stdin }\n  sink: { type: file, path: ${join(dir, 'out.ndjson')} }\n  dead_letter: { type: file, path: ${join(dir, 'dlq.ndjson')} }\n` +
      // Stdin stays open and quiet: a long idle timeout keeps every window open for the test.
      `  state: { backend: memory }\n  watermark: { idle_timeout_secs: 3600 }\n  metrics: { port: 0, host: 127.0.0.1 }\n  log: { level: info }\n`,
  );
  child = startCli(['--config', config], {}, 'pipe');
  onStderrLine(child, (line) => {
    if (line.includes('http endpoint listening')) port = (JSON.parse(line) as { port: number }).port;
  });
  const start = Date.UTC(2026, 10, 26, 10);
  const lines: string[] = [];
  for (let v = 0; v < VALUES_PER_WINDOW; v++) {
    for (let k = 0; k < KEYS; k++) {
      const metrics = { latency_ms: 100 + v * 17 + (k % 13), cost_usd: 0.001 * v, tokens: 500 + v, rating: v % 5 };
      lines.push(JSON.stringify({ event_id: `e-${v}-${k}`, timestamp: start + v, model: `model-${k}`, metrics }));
    }
  }
  child.stdin!.write(lines.join('\n') + '\n');
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (port !== 0 && /stream_processor_windows_open 20000\b/.test(await (await fetch(url('/metrics'))).text())) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error('the service did not open 20,000 windows within 60 s');
}, 90_000);
afterAll(async () => {
  child.stdin!.end();
  await exited(child);
  rmSync(dir, { recursive: true, force: true });
});

const url = (path: string): string => `http://127.0.0.1:${port}${path}`;
const timed = async <T>(work: () => Promise<T>): Promise<{ ms: number; value: T }> => {
  const started = performance.now();
  const value = await work();
  return { ms: performance.now() - started, value };
};
const median = (values: readonly number[]): number => [...values].sort((a, b) => a - b)[values.length >> 1]!;

interface Page {
  windows: { key: { model: string }; window: { start: number } }[];
  next: string | null;
}

describe('/windows over 20,000 open windows', () => {
  it('pages of 1,000 cover every window exactly once, in key order', async () => {
    const seen: string[] = [];
    const times: number[] = [];
    let cursor: string | null = null;
    do {
      const query: string = cursor === null ? '' : `?cursor=${cursor}`;
      const { ms, value: page } = await timed(async () => (await (await fetch(url(`/windows${query}`))).json()) as Page);
      times.push(ms);
      expect(page.windows.length).toBeLessThanOrEqual(1000);
      // A space sorts before every character of these keys, so string order is (key, start) order.
      for (const w of page.windows) seen.push(`${w.key.model} ${w.window.start}`);
      cursor = page.next;
    } while (cursor !== null);
    expect(times).toHaveLength(KEYS / 1000);
    expect(new Set(seen).size).toBe(KEYS);
    expect(seen).toHaveLength(KEYS);
    expect(seen).toEqual([...seen].sort());
    console.log(JSON.stringify({ pages: times.length, pageMedianMs: +median(times).toFixed(1), pageMaxMs: +Math.max(...times).toFixed(1) }));
    // Loose bound for a shared 2-core machine; the figures are in the log line above.
    expect(median(times)).toBeLessThan(200);
  });

  it('/healthz stays fast while ten /windows requests are served', async () => {
    const alone = await timed(() => fetch(url('/healthz')).then((r) => r.text()));
    const windows = Array.from({ length: 10 }, () => fetch(url('/windows')).then((r) => r.arrayBuffer()));
    const health: number[] = [];
    // Spread over the time the ten pages take to serve.
    for (let i = 0; i < 10; i++) {
      health.push((await timed(() => fetch(url('/healthz')).then((r) => r.text()))).ms);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const { ms: allPagesMs } = await timed(() => Promise.all(windows));
    console.log(JSON.stringify({
      concurrentWindowsRequests: 10,
      healthzAloneMs: +alone.ms.toFixed(1),
      healthzMedianMs: +median(health).toFixed(1),
      healthzMaxMs: +Math.max(...health).toFixed(1),
      remainingPagesMs: +allPagesMs.toFixed(1),
    }));
    // Before paging, ten requests held /healthz for 3.6 s.
    expect(Math.max(...health)).toBeLessThan(500);
  });
});
