/**
 * Results prepared ahead (`aggregate`'s `prepareAheadMs`, the service's pipeline) must be
 * the results computed when the window fires, byte for byte. The same random streams go
 * through twice: without preparation, and with a scheduler whose pending preparation runs
 * at random points between records (so windows are prepared, take more records, are
 * prepared again or not). Streams cover every window type, disorder, late records within
 * and past the allowed lateness (revisions), merging sessions and, through the operator
 * with a short horizon, windows of over 256 values per metric (t-digest sketches with
 * values waiting in their buffer), which the service's horizon leaves unprepared. The
 * hot key's windows take records too often to be prepared by the service's pipeline: they
 * are precomputed (their values sorted) and fire with what came since inserted.
 */
import { Subject, Subscription, type SchedulerAction, type SchedulerLike } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { aggregate, assignWatermarks, type StreamElement, type WindowResult } from '@llm-feedback/stream-operators';
import { pipe, type OperatorFunction } from 'rxjs';
import { parseConfig, type ProcessorConfig } from '../../src/config/index.js';
import { formatWindowResult, toWindowOutput, type FeedbackEvent } from '../../src/events/index.js';
import { feedbackMetrics, feedbackPipeline, type FeedbackResult } from '../../src/pipeline/feedback-pipeline.js';
import { withKeyFields } from '../../src/pipeline/keyed-aggregator.js';
import { mulberry32 } from '../aggregation/random.js';
import { windowingFromConfig } from '../../src/pipeline/windowing.js';

const T0 = Date.UTC(2026, 10, 26, 10);
const EMITTED_AT = T0 + 3_600_000;

/** A scheduler whose work runs only when the test says so. */
class ManualScheduler implements SchedulerLike {
  private queue: (() => void)[] = [];
  now = (): number => 0;

  schedule<T>(work: (this: SchedulerAction<T>, state?: T) => void, _delay = 0, state?: T): Subscription {
    const action = new Subscription() as Subscription & SchedulerAction<T>;
    action.schedule = (next?: T) => {
      this.queue.push(() => work.call(action, next));
      return action;
    };
    action.schedule(state);
    return action;
  }

  get pending(): number {
    return this.queue.length;
  }

  /** Runs the work queued so far (work it queues waits for the next call). */
  runOnce(): void {
    const queue = this.queue;
    this.queue = [];
    for (const run of queue) run();
  }
}

function configFor(windows: Record<string, unknown>): ProcessorConfig {
  return parseConfig({ processor: { state: { backend: 'memory' }, watermark: { max_out_of_orderness_secs: 2 }, windows } }, {});
}

/** Each configuration with how often its events pause (sessions need pauses to end). */
const CONFIGS: Record<string, [ProcessorConfig, number]> = {
  tumbling: [configFor({ default_type: 'tumbling', tumbling: { size_secs: 10, allowed_lateness_secs: 5 } }), 0.002],
  sliding: [configFor({ default_type: 'sliding', sliding: { size_secs: 20, slide_secs: 5, allowed_lateness_secs: 3 } }), 0.002],
  session: [configFor({ default_type: 'session', session: { gap_secs: 3, allowed_lateness_secs: 2 } }), 0.02],
  specs: [configFor({
    specs: [
      { name: 'minute', type: 'tumbling', size_secs: 60, allowed_lateness_secs: 0 },
      { name: 'visits', type: 'session', gap_secs: 4, allowed_lateness_secs: 0 },
    ],
  }), 0.005],
};

/**
 * Events ~10 ms apart with a pause of 3–10 s at a rate of `pauses` (sessions end, windows
 * pass empty), out of order by up to 8 s; a third of them of one hot key (its windows hold
 * more values than the 256 kept exactly), the rest over `keys` keys.
 */
function events(seed: number, count: number, pauses: number, keys: number): FeedbackEvent[] {
  const next = mulberry32(seed);
  const list: FeedbackEvent[] = [];
  let clock = T0;
  for (let i = 0; i < count; i++) {
    clock += next() < pauses ? 3_000 + Math.floor(next() * 7_000) : Math.floor(next() * 20);
    const timestamp = clock - Math.floor(next() < 0.2 ? next() * 8_000 : 0);
    const model = next() < 0.35 ? 'hot' : `m${Math.floor(next() * keys)}`;
    const metrics: Record<string, number | null> = { latency_ms: Math.round(next() * 5_000) / 10, cost_usd: next() / 100 };
    if (next() < 0.7) metrics.tokens = Math.floor(next() * 2_000);
    if (next() < 0.5) metrics.rating = next() < 0.1 ? null : Math.floor(next() * 5) + 1;
    list.push({ event_id: `e${i}`, timestamp, model, metrics } as unknown as FeedbackEvent);
  }
  return list;
}

interface Run {
  readonly lines: string[];
  /** Results that left with texts written ahead; those of windows of over 256 events. */
  readonly prepared: number;
  readonly preparedHot: number;
}

/** The service's pipeline, preparing on `scheduler` (nothing without one: a bounded input). */
const servicePipeline =
  (config: ProcessorConfig) =>
  (scheduler?: SchedulerLike): OperatorFunction<StreamElement<FeedbackEvent>, StreamElement<WindowResult<FeedbackResult>>> =>
    feedbackPipeline(config, { idleness: false, ...(scheduler === undefined ? {} : { prepareScheduler: scheduler }) });

/** The operators with the service's aggregator and a horizon of `aheadMs`. */
const operatorPipeline =
  (config: ProcessorConfig, aheadMs: number) =>
  (scheduler?: SchedulerLike): OperatorFunction<StreamElement<FeedbackEvent>, StreamElement<WindowResult<FeedbackResult>>> => {
    const windowing = windowingFromConfig<FeedbackEvent>(config.windows);
    return pipe(
      assignWatermarks<FeedbackEvent>({ maxOutOfOrdernessMs: config.watermark.max_out_of_orderness_secs * 1000 }),
      windowing.assign,
      aggregate({
        aggregator: withKeyFields(feedbackMetrics(config), config.event.key_fields),
        allowedLatenessMs: windowing.allowedLatenessMs,
        ...(scheduler === undefined ? {} : { prepareAheadMs: aheadMs, prepareScheduler: scheduler }),
      }),
    );
  };

type PipelineOf = (scheduler?: SchedulerLike) => OperatorFunction<StreamElement<FeedbackEvent>, StreamElement<WindowResult<FeedbackResult>>>;

function run(pipeline: PipelineOf, input: readonly FeedbackEvent[], seed?: number): Run {
  const next = mulberry32(seed ?? 1);
  const scheduler = seed === undefined ? undefined : new ManualScheduler();
  const lines: string[] = [];
  let prepared = 0;
  let preparedHot = 0;
  const source = new Subject<StreamElement<FeedbackEvent>>();
  source.pipe(pipeline(scheduler)).subscribe((element) => {
    if (element.kind !== 'record') return;
    const result = element.value;
    if (result.result.texts !== undefined) {
      prepared++;
      if (result.result.eventCount > 256) preparedHot++;
    }
    lines.push(formatWindowResult(toWindowOutput(result, EMITTED_AT), result.result.texts));
  });
  for (const event of input) {
    source.next({ kind: 'record', value: event, timestamp: event.timestamp as unknown as number, key: String(event.model) });
    // Quiet moments at random: all that waits, one slice, or nothing.
    const dice = next();
    if (scheduler !== undefined && dice < 0.3) while (scheduler.pending > 0) scheduler.runOnce();
    else if (scheduler !== undefined && dice < 0.5) scheduler.runOnce();
  }
  source.complete();
  return { lines, prepared, preparedHot };
}

function expectSameResults(pipeline: PipelineOf, pauses: number, keys: number): Run {
  let total: Run = { lines: [], prepared: 0, preparedHot: 0 };
  for (const seed of [1, 2, 3, 4, 5]) {
    const input = events(seed, 4_000, pauses, keys);
    const plain = run(pipeline, input);
    const ahead = run(pipeline, input, seed);
    expect(plain.prepared).toBe(0);
    expect(ahead.lines).toEqual(plain.lines);
    total = { lines: [...total.lines, ...ahead.lines], prepared: total.prepared + ahead.prepared, preparedHot: total.preparedHot + ahead.preparedHot };
  }
  return total;
}

describe('results prepared ahead', () => {
  for (const [name, [config, pauses]] of Object.entries(CONFIGS)) {
    it(`by the service's pipeline are the results computed at firing, byte for byte (${name} windows)`, () => {
      // Many keys: most windows take records less often than once per horizon and are prepared.
      const { lines, prepared } = expectSameResults(servicePipeline(config), pauses, 300);
      // The test means something only if many results were prepared.
      expect(prepared).toBeGreaterThan(lines.length / 10);
    });
  }

  // The hot key's sessions end only at a pause, which the next record's watermark jumps past.
  for (const [name, hot] of [['tumbling', true], ['sliding', true], ['session', false]] as const) {
    it(`by the operator with a short horizon are the results computed at firing (${name} windows${hot ? ', windows of over 256 values among them' : ''})`, () => {
      const [config, pauses] = CONFIGS[name]!;
      const { lines, prepared, preparedHot } = expectSameResults(operatorPipeline(config, 20), pauses, 6);
      // Late revisions (a fifth of the records come up to 8 s late) are never prepared.
      expect(prepared).toBeGreaterThan(lines.length / 30);
      if (hot) expect(preparedHot).toBeGreaterThan(0);
    });
  }
});
