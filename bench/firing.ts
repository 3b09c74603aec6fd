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
const EVENTS_PER_WINDOW = 5 * KEYS;
const WINDOW_MS = 1_000;
const WARM_UP_WINDOWS = 30;
/** Per mode (formatting in place, after, or prepared ahead): window ends take turns. */
const MEASURED_WINDOWS = 40;
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
function windowEvents(w: number): StreamRecord<FeedbackEvent>[] {
  const records: StreamRecord<FeedbackEvent>[] = [];
  for (let i = 0; i < EVENTS_PER_WINDOW; i++) {
    const timestamp = START_MS + w * WINDOW_MS + Math.floor((i * WINDOW_MS) / EVENTS_PER_WINDOW);
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
 * has every window prepared first (the preparation the pipeline schedules, run just before
 * the firing record and timed apart) and formats each result as it fires.
 * Medians over the measured windows.
 */
function measure(): WindowEndCost {
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
  let pending = windowEvents(0);
  for (let w = 0; w < WARM_UP_WINDOWS + 3 * MEASURED_WINDOWS; w++) {
    for (let i = 1; i < pending.length; i++) input.next(pending[i]!);
    // The next window's events are made before the clock starts.
    const next = windowEvents(w + 1);
    fired.length = 0;
    bytes = 0;
    const mode = w % 3;
    formatInPlace = mode !== 1;
    const t = cpuMicros();
    if (mode === 2) preparation.flush();
    const prepared = cpuMicros() - t;
    // Every window end starts from an empty young generation, the prepared one too.
    gc?.();
    const t0 = cpuMicros();
    input.next(next[0]!);
    const t1 = cpuMicros();
    if (!formatInPlace) for (const result of fired) bytes += formatLine(result);
    const t2 = cpuMicros();
    if (fired.length === 0) throw new Error(`window ${w} fired nothing`);
    bytesPerResult = bytes / fired.length;
    if (w >= WARM_UP_WINDOWS) {
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

const cost = measure();
console.log(
  JSON.stringify({
    keys: KEYS,
    events_per_window: EVENTS_PER_WINDOW,
    measured_windows: MEASURED_WINDOWS,
    us_per_result: Number(cost.total.toFixed(2)),
    us_per_result_min: Number(cost.totalMin.toFixed(2)),
    fire_us_per_result: Number(cost.fire.toFixed(2)),
    format_us_per_result: Number(cost.format.toFixed(2)),
    prepared_us_per_result: Number(cost.prepared.toFixed(2)),
    prepare_us_per_result: Number(cost.prepare.toFixed(2)),
    bytes_per_result: cost.bytesPerResult,
  }),
);
