/**
 * Several window specs in one Kafka job (issue 12): tumbling, sliding and session windows of
 * one input, the job SIGKILLed twice mid-stream and restarted from its checkpoints each time
 * (LevelDB local copy, or the state topic). Every spec's final results must equal the
 * brute-force model (sessions merged per key), with zero too_late —
 * - input keyed by the key fields, read directly;
 * - unkeyed input through the repartition stage (`kafka.repartition: always`);
 * - `processing_guarantee: exactly_once`: a read_committed reader sees each result once;
 * and two named tumbling specs of different sizes (`windows.specs`), read directly.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { committedOutputs, expectExactlyOnce, settled, stopCommittedTails } from './exactly-once-checks.js';
import {
  type ConfigOptions, type InputMode, Job, type ModelSpec, type Sent, WINDOW_MS, checkRun, cleanUp, finish, outputs, produce, produceSpread, scenario, sleep, track, writeConfig,
} from './harness.js';

afterEach(async () => {
  await cleanUp();
  await stopCommittedTails();
});

const SPECS: readonly ModelSpec[] = [
  { type: 'tumbling', sizeMs: WINDOW_MS },
  { type: 'sliding', sizeMs: WINDOW_MS, slideMs: WINDOW_MS / 2 },
  { type: 'session', gapMs: 1_000 },
];
/** Named specs: one service, two tumbling windows. */
const NAMED: readonly ModelSpec[] = [
  { type: 'tumbling', sizeMs: WINDOW_MS, name: '10s' },
  { type: 'tumbling', sizeMs: 3 * WINDOW_MS, name: '30s' },
];
/**
 * Unkeyed input through the repartition stage: its interleaving after a restart is any, so
 * the whole input must span less than out-of-orderness + lateness (see harness `InputMode`).
 */
const UNKEYED_TIME = { maxOutOfOrdernessSecs: 600, allowedLatenessSecs: 900, idleTimeoutSecs: 60 } as const;
/** Per partition: before the first run, then during each of the three runs (unkeyed: ≤ 200 per key in all, so percentiles stay exact). */
const EVENTS = { keyed: [500, 1_500], unkeyed: [300, 1_200] } as const;

/**
 * The job with `specs`, SIGKILLed mid-stream twice while input is produced, then run to the
 * end, and its outputs checked against the model.
 */
async function killedTwice(name: string, mode: InputMode, options: ConfigOptions, specs: readonly ModelSpec[]): Promise<void> {
  const { label, gen, t, dir } = await scenario(name, inject('kafkaBrokers'), undefined, mode);
  // 6 s sessions (the broker's minimum): each restart waits out the killed member's session.
  const config = writeConfig(dir, 'job', join(dir, 'state'), t, { sessionTimeoutMs: 6_000, ...options, specs });
  const committed = options.processingGuarantee === 'exactly_once' ? await committedOutputs(t) : undefined;
  const plain = committed === undefined ? await outputs(t) : undefined;
  const results = committed?.results ?? plain!.results;
  const start = (run: string): Job => track(new Job(`${label} ${run}`, config));
  const [prefill, perRun] = EVENTS[mode];
  const sent: Sent[] = await produce(t.brokers, t.input, gen.batch(prefill));
  for (const run of ['run 1', 'run 2']) {
    const job = start(run);
    await job.waitReady(90_000);
    const producing = produceSpread(t.brokers, t.input, gen, perRun / 3, 10, 3_000);
    await sleep(800 + Math.floor(gen.random() * 2_000));
    expect((await job.stop('SIGKILL')).code, job.tail()).toBe('SIGKILL');
    sent.push(...(await producing));
  }
  const last = start('run 3');
  await last.waitReady(90_000);
  sent.push(...(await produceSpread(t.brokers, t.input, gen, perRun / 3, 5, 1_500)));
  await finish(t, sent, gen, results, 90_000, specs);
  expect((await last.stop('SIGTERM')).code, last.tail()).toBe(0);
  if (mode === 'unkeyed') expect(gen.span(), `${label}: the unkeyed input spans less than out-of-orderness + lateness`).toBeLessThan((UNKEYED_TIME.maxOutOfOrdernessSecs + UNKEYED_TIME.allowedLatenessSecs) * 1000);
  if (committed !== undefined) {
    await settled([committed.results, committed.deadLetters]);
    expectExactlyOnce(label, sent, committed.results, committed.deadLetters, specs);
  } else {
    await plain!.results.caughtUp();
    await plain!.deadLetters.caughtUp();
    checkRun(label, sent, plain!.results.values(), plain!.deadLetters.values(), specs);
  }
}

describe('fault suite: several window specs', () => {
  it('tumbling + sliding + session, read directly, SIGKILLed twice: every spec equals the model', () => killedTwice('specs-direct', 'keyed', { repartition: 'never' }, SPECS), 300_000);

  it('tumbling + sliding + session through the repartition stage, SIGKILLed twice: every spec equals the model', () =>
    killedTwice('specs-repartition', 'unkeyed', { repartition: 'always', ...UNKEYED_TIME }, SPECS), 300_000);

  it('tumbling + sliding + session with exactly_once, SIGKILLed twice: every result committed once, equal to the model', () =>
    killedTwice('specs-eos', 'keyed', { repartition: 'never', processingGuarantee: 'exactly_once', checkpointSecs: 0.5 }, SPECS), 300_000);

  it('two named tumbling specs (10 s and 30 s), read directly, SIGKILLed twice: each equals the model', () => killedTwice('specs-named', 'keyed', { repartition: 'never' }, NAMED), 300_000);
});
