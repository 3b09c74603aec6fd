/**
 * Engine benchmark (issue 2): prints one JSON object.
 *   events_per_sec            pre-parsed events through assignWatermarks → tumblingWindow → aggregate
 *   hand_loop_events_per_sec  one hand-written loop doing the same accumulator work on the same data
 *   ratio                     the first over the second
 *   file_mode_events_per_sec  the file job (read, parse, pipeline, write) on the same events as NDJSON
 *   bytes_per_window_20/200   heap per open window holding 20 / 200 values of one metric
 *   bytes_per_window_200_4_metrics  the same with the four metrics of a feedback event
 * Run: npm run bench:engine  (node --expose-gc, so heap figures are measured after a full GC).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { from, Subject } from 'rxjs';
import { aggregate } from '../operators/aggregate.js';
import { assignWatermarks } from '../operators/assignWatermarks.js';
import { tumblingWindow } from '../operators/tumblingWindow.js';
import { metricsAggregator, type MetricsAccumulator } from '../operators/aggregation/index.js';
import { parseConfig } from '../src/config/index.js';
import type { FeedbackEvent } from '../src/events/index.js';
import { runLineJob } from '../src/runner/file-job.js';
import type { StreamElement, StreamRecord, WindowedElement, WindowedRecord } from '../operators/stream/elements.js';
import { benchEvents } from './events.js';
import { median } from './stats.js';

const EVENTS = 1_000_000;
const KEYS = 1_000;
const SIZE_MS = 60_000;
const DISORDER_MS = 5_000;
const RUNS = 3;

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with node --expose-gc (npm run bench:engine does)');


function timeRuns(run: () => void): number {
  run(); // warm-up: JIT and inline caches
  const rates: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    gc!();
    const t0 = performance.now();
    run();
    rates.push(EVENTS / ((performance.now() - t0) / 1000));
  }
  return median(rates);
}

const records = benchEvents({ count: EVENTS, keys: KEYS, disorderMs: DISORDER_MS });
const newAggregator = () => metricsAggregator<FeedbackEvent>({});

function pipelineRun(): void {
  let results = 0;
  from(records as StreamElement<FeedbackEvent>[])
    .pipe(
      assignWatermarks({ maxOutOfOrdernessMs: DISORDER_MS }),
      tumblingWindow({ sizeMs: SIZE_MS }),
      aggregate({ aggregator: newAggregator() }),
    )
    .subscribe((e) => {
      if (e.kind === 'record') results++;
    });
  if (results === 0) throw new Error('no results');
}

/** The same work without RxJS: watermark, window map per key, accumulators, firing in end order. */
function handLoopRun(): void {
  const aggregator = newAggregator();
  const windows = new Map<number, Map<string, MetricsAccumulator>>();
  let maxSeen = -Infinity;
  let watermark = -Infinity;
  let results = 0;
  const fireUpTo = (w: number) => {
    for (const [end, byKey] of [...windows].sort((a, b) => a[0] - b[0])) {
      if (end > w) break;
      for (const acc of byKey.values()) if (aggregator.result(acc).eventCount > 0) results++;
      windows.delete(end);
    }
  };
  for (let i = 0; i < records.length; i++) {
    const r = records[i] as StreamRecord<FeedbackEvent>;
    const t = r.timestamp;
    const end = t - (t % SIZE_MS) + SIZE_MS;
    if (end <= watermark) continue;
    let byKey = windows.get(end);
    if (byKey === undefined) windows.set(end, (byKey = new Map()));
    let acc = byKey.get(r.key!);
    if (acc === undefined) byKey.set(r.key!, (acc = aggregator.create()));
    aggregator.add(acc, r.value);
    if (t > maxSeen) {
      maxSeen = t;
      if (t - DISORDER_MS > watermark) {
        watermark = t - DISORDER_MS;
        if (windows.size > 0 && watermark >= Math.min(...windows.keys())) fireUpTo(watermark);
      }
    }
  }
  fireUpTo(Infinity);
  if (results === 0) throw new Error('no results');
}

async function fileModeRate(): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-engine-'));
  try {
    const input = join(dir, 'events.ndjson');
    writeFileSync(input, records.map((r) => JSON.stringify(r.value)).join('\n') + '\n');
    const config = parseConfig(
      {
        processor: {
          source: { type: 'file', path: input },
          sink: { type: 'file', path: join(dir, 'out.ndjson') },
          dead_letter: { type: 'file', path: join(dir, 'dlq.ndjson') },
          state: { backend: 'memory' },
          windows: { default_type: 'tumbling', tumbling: { size_secs: SIZE_MS / 1000, allowed_lateness_secs: 0 } },
          watermark: { max_out_of_orderness_secs: DISORDER_MS / 1000 },
        },
      },
      {},
    );
    const rates: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      rmSync(join(dir, 'out.ndjson'), { force: true });
      gc!();
      const summary = await runLineJob({ config });
      if (summary.recordsIn !== EVENTS) throw new Error(`file job read ${summary.recordsIn} records`);
      rates.push(EVENTS / (summary.durationMs / 1000));
    }
    return median(rates);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** JS heap plus ArrayBuffer backing stores, which V8 keeps outside `heapUsed`. */
const heapBytes = (): number => {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
};

/**
 * Heap per open window: `WINDOWS` windows (one per key) each holding `values`
 * values, none fired. Records go straight into `aggregate` (the assigner keeps
 * nothing), one reused record object per key, so the figure is the window state's.
 */
function bytesPerWindow(values: number, metrics: string[], WINDOWS = 100_000): number {
  const input = new Subject<WindowedElement<FeedbackEvent>>();
  const sink: unknown[] = [];
  const windows = [{ start: 0, end: SIZE_MS }];
  const assignment = { type: 'tumbling', merging: false } as const;
  // 1,000 distinct metric objects per step, shared by the keys that take the same values.
  const valuesFor = (step: number): FeedbackEvent[] =>
    Array.from({ length: 1000 }, (_, i) => ({ metrics: Object.fromEntries(metrics.map((name) => [name, 100 + ((step * 7919 + i) % 1000)])) }));
  const records: { -readonly [K in keyof WindowedRecord<FeedbackEvent>]: WindowedRecord<FeedbackEvent>[K] }[] = Array.from({ length: WINDOWS }, (_, k) => ({
    kind: 'record',
    value: { metrics: {} },
    timestamp: 1_000,
    key: `model-${k}`,
    windows,
    assignment,
  }));
  gc!();
  const before = heapBytes();
  const subscription = input.pipe(aggregate({ aggregator: newAggregator() })).subscribe((e) => sink.push(e));
  for (let v = 0; v < values; v++) {
    const shared = valuesFor(v);
    for (let k = 0; k < WINDOWS; k++) {
      const record = records[k]!;
      record.value = shared[k % 1000]!;
      input.next(record);
    }
  }
  gc!();
  const bytes = (heapBytes() - before - recordsBytes(records.length)) / WINDOWS;
  subscription.unsubscribe();
  if (sink.length !== 0) throw new Error('windows fired during the memory measurement');
  return Math.round(bytes);
}

/** The reused input records are not window state: leave them out (measured, not guessed). */
function recordsBytes(count: number): number {
  gc!();
  const before = heapBytes();
  const held = Array.from({ length: count }, (_, k) => ({ kind: 'record', value: { metrics: {} }, timestamp: 1_000, key: `model-${k}`, windows: null, assignment: null }));
  gc!();
  const bytes = heapBytes() - before;
  if (held.length !== count) throw new Error('unreachable');
  return bytes;
}

const pipelineRate = timeRuns(pipelineRun);
const handRate = timeRuns(handLoopRun);
const fileRate = await fileModeRate();
const result = {
  events: EVENTS,
  keys: KEYS,
  events_per_sec: Math.round(pipelineRate),
  hand_loop_events_per_sec: Math.round(handRate),
  ratio: Math.round((pipelineRate / handRate) * 100) / 100,
  file_mode_events_per_sec: Math.round(fileRate),
  bytes_per_window_20: bytesPerWindow(20, ['latency_ms']),
  bytes_per_window_200: bytesPerWindow(200, ['latency_ms']),
  // A quarter of the windows: the same per-window figure in a quarter of the time.
  bytes_per_window_200_4_metrics: bytesPerWindow(200, ['latency_ms', 'cost_usd', 'tokens', 'rating'], 25_000),
};
console.log(JSON.stringify(result));
