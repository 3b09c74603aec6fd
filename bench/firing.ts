/**
 * Firing benchmark: the CPU cost of one window result at a window end, the work that
 * sits directly in the latency of results (a window end fires every key back to back
 * on one thread). Prints one JSON object:
 *   us_per_result          the watermark firing 1,000 keys' windows, each result formatted as its
 *                          output line as it fires, as `writeResult` does in the job
 *                          (us_per_result_min: the least disturbed window end, steadier than the
 *                          median on a shared machine)
 *   fire_us_per_result     where the results are formatted after the window end instead: the
 *   format_us_per_result   firing (the aggregation's results) and the formatting apart
 *   prepared_us_per_result where every window was prepared before its end (the service's pipeline
 *                          does that while the input is quiet: `aggregate`'s `prepareAheadMs`), the
 *                          window end's cost with each result formatted as it fires
 *   prepare_us_per_result  the CPU that preparing cost before the end, per result
 *   bytes_per_result       the output line's length in UTF-8 (measuring it flattens the string, as a sink does)
 *   busy_us_per_result     the first figure for busy windows (50 events per key-window, as at 50k events/s):
 *                          too busy to prepare, they fire computed at the end
 *   busy_precomputed_us_per_result
 *                          the same where the pipeline's preparation ran with 92% of the window's events
 *                          in (busy windows are then precomputed: their values sorted), the last 8% after
 *   busy_precompute_us_per_result  the CPU that precomputing cost before the end, per result
 * Setup: the default configuration's aggregations (count, sum, average, min, max, stddev,
 * p50/p95/p99) over every metric of the bench events (latency, cost, tokens, rating),
 * a 1 s tumbling window, 1,000 keys, 5 events per key-window on average; the record that
 * moves the watermark past a window's end fires it (out-of-orderness 0), as in a Kafka task.
 * Figures: CPU time, medians over the measured window ends, after warm-up ones.
 * Run: npm run bench:firing
 */
import { Subject, VirtualTimeScheduler } from 'rxjs';
import type { StreamElement, StreamRecord } from '../operators/stream/elements.js';
import { parseConfig } from '../src/config/index.js';
import { formatWindowResult, joinKey, toWindowOutput, type FeedbackEvent } from '../src/events/index.js';
import { feedbackPipeline, type FeedbackWindowResult } from '../src/pipeline/feedback-pipeline.js';
import { createRandom } from '../scripts/generate-sample.js';
import { benchEvent } from './events.js';
import { median } from './stats.js';

const KEYS = 1_000;
const WINDOW_MS = 1_000;

interface Workload {
  readonly eventsPerKey: number;
  readonly warmUpWindows: number;
  /** Per mode (formatting in place, after, or prepared ahead): window ends take turns. */
  readonly measuredWindows: number;
  /** The share of a window's events taken before the pipeline's pending preparation runs, in the third mode. */
  readonly prepareAt: number;
}

const QUIET: Workload = { eventsPerKey: 5, warmUpWindows: 30, measuredWindows: 40, prepareAt: 1 };
const BUSY: Workload = { eventsPerKey: 50, warmUpWindows: 9, measuredWindows: 24, prepareAt: 0.92 };
const START_MS = Date.UTC(2026, 10, 26, 10);

/**
 * CPU time of this process so far, µs: the figure is a cost in CPU, and on a shared machine
 * wall time also counts the time other processes held the core.
 */
const cpuMicros = (): number => {
  const { user, system } = process.cpuUsage();
  return user + system;
};

const gc = (globalThis as { gc?: () => void }).gc;

const config = parseConfig(
  {
    processor: {
      source: { type: 'kafka' },
      sink: { type: 'kafka' },
      dead_letter: { type: 'kafka' },
      state: { backend: 'memory' },
      windows: { default_type: 'tumbling', tumbling: { size_secs: WINDOW_MS / 1000, allowed_lateness_secs: 0 } },
      watermark: { max_out_of_orderness_secs: 0 },
      kafka: { consumer: { topics: ['bench-in'] } },
    },
  },
  {},
);

const random = createRandom(7);
const models = Array.from({ length: KEYS }, (_, i) => `model-${i}`);

/** The events of window `w`, keys drawn at random, in event-time order. */
function windowEvents(w: number, perWindow: number): StreamRecord<FeedbackEvent>[] {
  const records: StreamRecord<FeedbackEvent>[] = [];
  for (let i = 0; i < perWindow; i++) {
    const timestamp = START_MS + w * WINDOW_MS + Math.floor((i * WINDOW_MS) / perWindow);
    const value = benchEvent(`e-${w}-${i}`, timestamp, models[Math.floor(random() * KEYS)]!, random);
    records.push({ kind: 'record', value, timestamp, key: joinKey(value, config.event.key_fields), offset: String(i) });
  }
  return records;
}

interface WindowEndCost {
  /** µs per result, each formatted as it fires (as the job does): the median, and the least disturbed window end. */
  readonly total: number;
  readonly totalMin: number;
  /** µs per result of firing alone (the aggregation's results of every key), where results are formatted after the window end. */
  readonly fire: number;
  /** µs per result of formatting those results right after the window end. */
  readonly format: number;
  /** µs per result of a window end whose windows were all prepared, formatted as they fire; and of preparing them. */
  readonly prepared: number;
  readonly prepare: number;
  readonly bytesPerResult: number;
}

const formatLine = (result: FeedbackWindowResult): number => Buffer.byteLength(formatWindowResult(toWindowOutput(result, Date.now()), result.result.texts));

/**
 * Pushes the first record of window w + 1, which fires window w, and times that. Window
 * ends take turns: one formats each result as it fires (as `writeResult` does in the job),
 * the next only collects the results and formats them afterwards, timed apart, the third
 * runs the preparation the pipeline scheduled (timed apart) once `prepareAt` of the window's
 * events are in, and formats each result as it fires.
 * Medians over the measured windows.
 */
function measure({ eventsPerKey, warmUpWindows, measuredWindows, prepareAt }: Workload): WindowEndCost {
  const perWindow = eventsPerKey * KEYS;
  const input = new Subject<StreamElement<FeedbackEvent>>();
  let formatInPlace = true;
  let bytes = 0;
  const fired: FeedbackWindowResult[] = [];
  // Preparation waits here until a window end of the third kind runs it.
  const preparation = new VirtualTimeScheduler();
  input.pipe(feedbackPipeline(config, { idleness: false, prepareScheduler: preparation })).subscribe((element) => {
    if (element.kind !== 'record') return;
    fired.push(element.value);
    if (formatInPlace) bytes += formatLine(element.value);
  });
  const total: number[] = [];
  const fire: number[] = [];
  const format: number[] = [];
  const preparedEnds: number[] = [];
  const prepare: number[] = [];
  let bytesPerResult = 0;
  let pending = windowEvents(0, perWindow);
  for (let w = 0; w < warmUpWindows + 3 * measuredWindows; w++) {
    const mode = w % 3;
    const before = mode === 2 ? Math.floor(pending.length * prepareAt) : pending.length;
    for (let i = 1; i < before; i++) input.next(pending[i]!);
    const t = cpuMicros();
    if (mode === 2) preparation.flush();
    const prepared = cpuMicros() - t;
    for (let i = Math.max(1, before); i < pending.length; i++) input.next(pending[i]!);
    // The next window's events are made before the clock starts.
    const next = windowEvents(w + 1, perWindow);
    fired.length = 0;
    bytes = 0;
    formatInPlace = mode !== 1;
    // Every window end starts from an empty young generation, the prepared one too.
    gc?.();
    const t0 = cpuMicros();
    input.next(next[0]!);
    const t1 = cpuMicros();
    if (!formatInPlace) for (const result of fired) bytes += formatLine(result);
    const t2 = cpuMicros();
    if (fired.length === 0) throw new Error(`window ${w} fired nothing`);
    bytesPerResult = bytes / fired.length;
    if (w >= warmUpWindows) {
      if (mode === 0) total.push((t1 - t0) / fired.length);
      else if (mode === 1) {
        fire.push((t1 - t0) / fired.length);
        format.push((t2 - t1) / fired.length);
      } else {
        preparedEnds.push((t1 - t0) / fired.length);
        prepare.push(prepared / fired.length);
      }
    }
    pending = next;
  }
  input.complete();
  return {
    total: median(total),
    totalMin: Math.min(...total),
    fire: median(fire),
    format: median(format),
    prepared: median(preparedEnds),
    prepare: median(prepare),
    bytesPerResult: Math.round(bytesPerResult),
  };
}

const cost = measure(QUIET);
const busy = measure(BUSY);
console.log(
  JSON.stringify({
    keys: KEYS,
    events_per_window: QUIET.eventsPerKey * KEYS,
    measured_windows: QUIET.measuredWindows,
    us_per_result: Number(cost.total.toFixed(2)),
    us_per_result_min: Number(cost.totalMin.toFixed(2)),
    fire_us_per_result: Number(cost.fire.toFixed(2)),
    format_us_per_result: Number(cost.format.toFixed(2)),
    prepared_us_per_result: Number(cost.prepared.toFixed(2)),
    prepare_us_per_result: Number(cost.prepare.toFixed(2)),
    bytes_per_result: cost.bytesPerResult,
    busy_events_per_window: BUSY.eventsPerKey * KEYS,
    busy_us_per_result: Number(busy.total.toFixed(2)),
    busy_precomputed_us_per_result: Number(busy.prepared.toFixed(2)),
    busy_precompute_us_per_result: Number(busy.prepare.toFixed(2)),
  }),
);
