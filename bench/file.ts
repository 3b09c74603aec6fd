/**
 * File-job benchmark for `processor.parallelism` (issue 10): prints one JSON object.
 *   events_per_sec_parallelism_1 / _2   a file job on 1M generated events (1,000 keys, ±5 s
 *                                       disorder, tumbling 60 s, every aggregation), start to end
 *   parallel_speedup                    the second over the first (medians of alternated runs)
 *   identical                           whether both wrote the same bytes (emitted_at aside)
 *   cpu_us_per_event_*                  CPU per event, by thread: `main` is the thread that reads,
 *                                       runs the pipeline and writes (and, at parallelism 2, rebuilds
 *                                       the workers' batches); `other` is every other thread of the
 *                                       process (the parse workers; GC and I/O helpers at both settings)
 *   quiet_machine_speedup_estimate      what the CPU figures allow on 2 free cores: a run takes at
 *                                       least max(main CPU, all CPU / 2), at either setting
 *   load_average                        the 1-minute load average before and after (other jobs share the cores)
 * Per-thread CPU is read from /proc/thread-self/stat (Linux), so it is CPU time, not wall time:
 * it does not grow when other processes take the cores.
 * Run: flock /tmp/bench.lock npm run bench:file   (builds dist/ first; BENCH_FILE_EVENTS, BENCH_FILE_RUNS
 * change the size; `npx tsx bench/file.ts --sources` runs the TypeScript sources instead).
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { parseConfig as ParseConfig } from '../src/config/index.js';
import type { runLineJob as RunLineJob } from '../src/runner/file-job.js';
import { benchEvents } from './events.js';
import { median } from './stats.js';

// The compiled package (`npm run build`, as `bench:file` does): run from TypeScript sources, each
// parse worker would load tsx and compile the sources again at its start (about a second of CPU
// each here), which a deployed service does not pay. `--sources` measures that way anyway.
const sources = process.argv.includes('--sources');
const root = sources ? '../src' : '../dist/src';
const { parseConfig } = (await import(`${root}/config/index.js`)) as { parseConfig: typeof ParseConfig };
const { runLineJob } = (await import(`${root}/runner/file-job.js`)) as { runLineJob: typeof RunLineJob };

const EVENTS = Number(process.env['BENCH_FILE_EVENTS'] ?? 1_000_000);
const RUNS = Number(process.env['BENCH_FILE_RUNS'] ?? 3);
const TICKS_PER_SEC = 100; // USER_HZ: the unit of /proc's utime and stime on Linux

/** CPU seconds of the calling thread so far (user + system). */
function threadCpuSeconds(): number {
  const stat = readFileSync('/proc/thread-self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14 and 15 of stat(5); the slice starts at field 3.
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SEC;
}

/** CPU seconds of the whole process (every thread). */
const processCpuSeconds = (): number => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
};

interface Run {
  readonly rate: number;
  readonly mainCpu: number;
  readonly otherCpu: number;
  readonly digest: string;
}

// A fixed clock makes emitted_at, and so the outputs' bytes, comparable between runs.
const clock = Date.now();
const dir = mkdtempSync(join(tmpdir(), 'bench-file-'));
try {
  const input = join(dir, 'events.ndjson');
  writeFileSync(input, benchEvents({ count: EVENTS, keys: 1_000, disorderMs: 5_000 }).map((r) => JSON.stringify(r.value)).join('\n') + '\n');

  const run = async (parallelism: number): Promise<Run> => {
    const out = join(dir, `out-${parallelism}.ndjson`);
    const dlq = join(dir, `dlq-${parallelism}.ndjson`);
    const config = parseConfig(
      {
        processor: {
          source: { type: 'file', path: input },
          sink: { type: 'file', path: out },
          dead_letter: { type: 'file', path: dlq },
          state: { backend: 'memory' },
          parallelism,
          windows: { default_type: 'tumbling', tumbling: { size_secs: 60, allowed_lateness_secs: 0 } },
          watermark: { max_out_of_orderness_secs: 5 },
        },
      },
      {},
    );
    const main0 = threadCpuSeconds();
    const all0 = processCpuSeconds();
    const t0 = performance.now();
    const summary = await runLineJob({ config, now: () => clock });
    const seconds = (performance.now() - t0) / 1000;
    const mainCpu = threadCpuSeconds() - main0;
    const allCpu = processCpuSeconds() - all0;
    if (summary.recordsIn !== EVENTS) throw new Error(`the job read ${summary.recordsIn} records`);
    const digest = createHash('sha256').update(readFileSync(out)).update(readFileSync(dlq)).digest('hex');
    return { rate: EVENTS / seconds, mainCpu: mainCpu / EVENTS, otherCpu: (allCpu - mainCpu) / EVENTS, digest };
  };

  const load0 = loadavg()[0]!;
  await run(1); // warm-up: JIT, page cache
  const runs: Record<1 | 2, Run[]> = { 1: [], 2: [] };
  for (let i = 0; i < RUNS; i++) {
    runs[1].push(await run(1));
    runs[2].push(await run(2));
  }
  const load1 = loadavg()[0]!;
  const med = (parallelism: 1 | 2, field: 'rate' | 'mainCpu' | 'otherCpu'): number => median(runs[parallelism].map((r) => r[field]));
  const us = (seconds: number): number => Math.round(seconds * 1e8) / 100;
  const [rate1, rate2] = [med(1, 'rate'), med(2, 'rate')];
  // On two free cores a run takes at least its main thread's CPU, and at least half of all its CPU.
  const quietSeconds = (parallelism: 1 | 2): number => Math.max(med(parallelism, 'mainCpu'), (med(parallelism, 'mainCpu') + med(parallelism, 'otherCpu')) / 2);
  const digests = new Set([...runs[1], ...runs[2]].map((r) => r.digest));
  console.log(
    JSON.stringify({
      events: EVENTS,
      runs: RUNS,
      code: sources ? 'typescript sources (tsx)' : 'compiled (dist/)',
      events_per_sec_parallelism_1: Math.round(rate1),
      events_per_sec_parallelism_2: Math.round(rate2),
      parallel_speedup: Math.round((rate2 / rate1) * 100) / 100,
      identical: digests.size === 1,
      cpu_us_per_event_parallelism_1: { main: us(med(1, 'mainCpu')), other: us(med(1, 'otherCpu')) },
      cpu_us_per_event_parallelism_2: { main: us(med(2, 'mainCpu')), other: us(med(2, 'otherCpu')) },
      quiet_machine_speedup_estimate: Math.round((quietSeconds(1) / quietSeconds(2)) * 100) / 100,
      load_average: [Math.round(load0 * 10) / 10, Math.round(load1 * 10) / 10],
    }),
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
