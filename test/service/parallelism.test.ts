/**
 * `processor.parallelism: 2` with a Kafka source (real broker): two worker threads in one
 * process share the tasks as members of the consumer group. Their results equal a
 * brute-force count per key and window and a single-threaded run's, `/metrics` adds up the
 * workers, `/windows` pages across them, and SIGTERM stops both and exits 0.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ensureTopics } from '../../src/kafka/index.js';
import { brokers, committedTotal, produce, readAll, unique, waitFor } from '../kafka/helpers.js';
import { exited, onStderrLine, startCli } from '../support/cli.js';

const EVENTS = 6_000;
const MODELS = 12;
const WINDOW_MS = 10_000;
const START = Date.UTC(2026, 10, 26, 10);
const dir = mkdtempSync(join(tmpdir(), 'parallelism-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Event i: model i mod MODELS, 50 ms of event time apart, keyed by model (no repartitioning). */
const events = Array.from({ length: EVENTS }, (_, i) => {
  const model = `model-${i % MODELS}`;
  return { key: model, value: JSON.stringify({ timestamp: START + i * 50, model, metrics: { latency_ms: (i * 37) % 1000 } }) };
});

interface Result {
  key: { model: string };
  window: { start: number; end: number };
  revision: number;
  event_count: number;
  emitted_at?: number;
}

/** Runs the CLI until every input offset is committed; its results, its `/metrics` and its `/windows` pages by then. */
async function run(name: string, input: string, parallelism: number): Promise<{ results: Result[]; metrics: string; pages: unknown[][]; whole: unknown[]; owned: Map<number, number> }> {
  const output = unique(`${name}-results`);
  const group = unique(`${name}-group`);
  await ensureTopics({ brokers: brokers() }, [{ topic: output, numPartitions: 4 }, { topic: `${output}-dlq`, numPartitions: 1 }]);
  const config = join(dir, `${name}.yaml`);
  // JSON is YAML too.
  const processor = {
    source: { type: 'kafka' },
    sink: { type: 'kafka' },
    dead_letter: { type: 'kafka' },
    state: { backend: 'level', path: join(dir, `${name}-state`) },
    parallelism,
    checkpoint_interval_secs: 1,
    windows: { default_type: 'tumbling', tumbling: { size_secs: WINDOW_MS / 1000, allowed_lateness_secs: 0 } },
    watermark: { max_out_of_orderness_secs: 1, idle_timeout_secs: 600 },
    metrics: { port: 0, host: '127.0.0.1' },
    log: { level: 'info' },
    kafka: {
      consumer: { bootstrap_servers: brokers(), group_id: group, topics: [input] },
      producer: { result_topic: output, dead_letter_topic: `${output}-dlq` },
    },
  };
  writeFileSync(config, JSON.stringify({ processor }));
  const child = startCli(['--config', config]);
  let port: number | undefined;
  /** Per worker, the partitions of its latest assignment. */
  const owned = new Map<number, number>();
  onStderrLine(child, (line) => {
    if (line.includes('http endpoint listening')) port = (JSON.parse(line) as { port: number }).port;
    if (line.includes('"partition assignment"')) {
      const entry = JSON.parse(line) as { worker?: number; current: unknown[] };
      owned.set(entry.worker ?? 0, entry.current.length);
    }
  });
  const code = exited(child);
  try {
    await waitFor('the HTTP endpoint', () => port !== undefined, 60_000);
    const get = async (path: string): Promise<string> => (await fetch(`http://127.0.0.1:${port}${path}`)).text();
    // Ready once every worker has its first assignment: the group has both members by then.
    for (let deadline = Date.now() + 90_000; (await fetch(`http://127.0.0.1:${port}/readyz`)).status !== 200; ) {
      if (Date.now() > deadline) throw new Error(`${name}: not ready within 90 s`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    for (let deadline = Date.now() + 90_000; (await committedTotal(group, input)) < EVENTS; ) {
      if (Date.now() > deadline) throw new Error(`${name}: the input was not committed within 90 s`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const pages: unknown[][] = [];
    for (let cursor = ''; ; ) {
      const page = JSON.parse(await get(`/windows?limit=5${cursor === '' ? '' : `&cursor=${cursor}`}`)) as { windows: unknown[]; next: string | null };
      pages.push(page.windows);
      if (page.next === null) break;
      cursor = page.next;
    }
    const whole = (JSON.parse(await get('/windows?limit=1000')) as { windows: unknown[] }).windows;
    // The open-windows gauge is refreshed every second: wait for it to count what /windows lists.
    let metrics = await get('/metrics');
    const openWindows = (): number => Number(/^stream_processor_windows_open (\d+)/m.exec(metrics)?.[1]);
    for (let deadline = Date.now() + 5_000; openWindows() !== whole.length && Date.now() < deadline; metrics = await get('/metrics')) {
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    child.kill('SIGTERM');
    expect(await code).toBe(0);
    const results = (await readAll(output)).map((m) => JSON.parse(m.value) as Result);
    return { results, metrics, pages, whole, owned };
  } finally {
    child.kill('SIGKILL');
  }
}

/** Results without `emitted_at`, in a canonical order. */
const canonical = (results: Result[]): string[] =>
  results.map(({ emitted_at: _, ...rest }) => JSON.stringify(rest)).sort();

/** `/windows` entries without their query time. */
const withoutEmitted = (windows: unknown[]): unknown[] => windows.map((w) => ({ ...(w as Record<string, unknown>), emittedAt: undefined }));

describe('processor.parallelism 2 (Kafka source)', () => {
  it('gives the brute-force counts and the single-threaded results, merges metrics and windows, and stops on SIGTERM', async () => {
    const input = unique('parallel-input');
    await ensureTopics({ brokers: brokers() }, [{ topic: input, numPartitions: 4 }]);
    await produce(input, events);

    const two = await run('two', input, 2);
    const one = await run('one', input, 1);

    // Brute force: each result counts its key's events in its window; a window fires once its
    // partition's watermark (latest event − 1 s) passes its end. Keys take turns, so every
    // partition's latest event is at most MODELS events before the last one.
    const counts = new Map<string, number>();
    events.forEach((e, i) => {
      const t = START + i * 50;
      const window = `${e.key}@${t - (t % WINDOW_MS)}`;
      counts.set(window, (counts.get(window) ?? 0) + 1);
    });
    const lastEventTime = START + (EVENTS - 1) * 50;
    for (const r of two.results) {
      expect(r.event_count).toBe(counts.get(`${r.key.model}@${r.window.start}`));
      expect(r.window.end).toBeLessThanOrEqual(lastEventTime - 1_000);
    }
    const fired = new Set(two.results.map((r) => `${r.key.model}@${r.window.start}`));
    for (const window of counts.keys()) {
      if (Number(window.split('@')[1]) + WINDOW_MS <= lastEventTime - 1_000 - MODELS * 50) expect(fired).toContain(window);
    }
    expect(two.results.every((r) => r.revision === 0)).toBe(true);
    expect(canonical(two.results)).toEqual(canonical(one.results));

    // Both workers own tasks (the group split the 4 partitions between them); /metrics adds up their counters.
    expect([...two.owned.values()]).toEqual([2, 2]);
    expect(two.metrics).toContain(`stream_processor_records_in_total{outcome="aggregated"} ${EVENTS}`);
    expect(two.metrics).toMatch(/^process_cpu_user_seconds_total \d/m);
    // Both workers' open windows: every key's last window (the watermark has not passed it).
    expect(Number(/^stream_processor_windows_open (\d+)/m.exec(two.metrics)?.[1])).toBe(two.whole.length);
    // /windows: every key's open windows, whichever worker holds them; paging gives the same list.
    expect(new Set(two.whole.map((w) => (w as Result).key.model)).size).toBe(MODELS);
    expect(withoutEmitted(two.pages.flat())).toEqual(withoutEmitted(two.whole));
    expect(withoutEmitted(two.whole)).toEqual(withoutEmitted(one.whole));
  }, 240_000);
});
