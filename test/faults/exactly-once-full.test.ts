/**
 * Exactly-once at full size (issue 11), in one run on the test's OWN broker (so that it can be
 * restarted): 1,000,000 valid events flow in the background (with invalid ones mixed in, for
 * the dead-letter path) while
 * - the job is SIGKILLed 10 times at seeded random moments: once during start-up, once while
 *   the input is quiet (everything consumed and committed, then > 2× idle_timeout of
 *   silence), and 8 times mid-stream, each killed instance restarted at once on its state
 *   folder (a later kill may land while it restores);
 * - a second instance joins mid-stream (the group splits the tasks; kills then pick either
 *   instance), and both run at the end;
 * - the broker is restarted (kafka-down.sh, kafka-up.sh) mid-stream.
 * A `read_committed` reader of the result and dead-letter topics (the marker-applying
 * `CommittedTail`) must then see every (key, window, revision) and every dead letter exactly
 * once, and the final results must equal the brute-force model, which is what an
 * uninterrupted run gives (no record of this input is late); every input record is accounted
 * for exactly once: the final results count every valid event, every invalid one is one dead
 * letter, and nothing is too late.
 *
 * Members' session timeout is 6 s (the broker's minimum) so that each kill costs seconds, not
 * the default 30 s; the run took 3.3 minutes on the 2-core machine under some load (6.5 under
 * heavy load), hence the 15 min timeout.
 */
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createRandom } from '../../scripts/generate-sample.js';
import { onStderrLine } from '../support/cli.js';
import { startOwnBroker, type OwnBroker } from '../support/own-broker.js';
import { committedOutputs, expectExactlyOnce, settled, stopCommittedTails } from './exactly-once-checks.js';
import {
  Flow, IDLE_TIMEOUT_MS, Job, type InputGenerator, type Planned, type Sent, cleanUp, committedTotal, finalResults, finish, produce, sleep, startUpMoment, track, waitUntil, writeConfig, scenario,
} from './harness.js';

/** Valid events, in three flows: the quiet kill comes after the first, the broker restart after the second. */
const FLOWS = [300_000, 350_000, 350_000] as const;
/** Mid-stream kills during each flow. */
const KILLS_PER_FLOW = [2, 3, 3] as const;
/** Events a second the input flows at (at most). */
const RATE = 12_000;
/** Invalid events before each flow and in the middle of it. */
const POISON_PER_ROUND = 250;
const SESSION_TIMEOUT_MS = 6_000;
const TIMEOUT_MS = 900_000;

let broker: OwnBroker | undefined;

beforeAll(async () => {
  broker = await startOwnBroker('fault-broker-eos-full-');
}, 240_000);

afterAll(async () => {
  await broker?.remove();
}, 120_000);

afterEach(async () => {
  await cleanUp();
  await stopCommittedTails();
});

/** Invalid events of three kinds, round-robin over the partitions, each with the dead-letter reason expected. */
function invalidEvents(gen: InputGenerator, round: number): Planned[] {
  return Array.from({ length: POISON_PER_ROUND }, (_, i): Planned => {
    const partition = i % gen.partitions;
    const kind = (i + round) % 3;
    const common = { partition, key: `invalid-${round}-${i}`, kind: 'poison' as const };
    if (kind === 0) return { ...common, value: `not json ${round}/${i}`, reason: 'invalid_json', label: 'not JSON' };
    if (kind === 1) return { ...common, value: `{"timestamp":1e16,"model":"p${partition}-k0","metrics":{"latency_ms":1}}`, reason: 'future_timestamp', label: 'timestamp 1e16' };
    const infinite = gen.next(partition).value.toString().replace(/"latency_ms":[^,}]+/, '"latency_ms":1e999');
    return { ...common, value: infinite, reason: 'invalid_metric', label: 'metric 1e999' };
  });
}

/** One instance of the job (its own state folder), restarted after each kill. */
class Instance {
  job: Job;
  starts = 1;

  constructor(
    readonly name: string,
    private readonly config: string,
    private readonly observe: (job: Job) => void,
  ) {
    this.job = this.start();
  }

  private start(): Job {
    const job = track(new Job(`${this.name}#${this.starts}`, this.config));
    this.observe(job);
    return job;
  }

  /** SIGKILL, then a restart at once; says whether it had been ready. */
  async kill(): Promise<boolean> {
    const wasReady = this.job.ready;
    expect(this.job.running, `${this.job.name} exited by itself before its kill\n${this.job.tail()}`).toBe(true);
    expect((await this.job.stop('SIGKILL')).code, this.job.tail()).toBe('SIGKILL');
    this.starts++;
    this.job = this.start();
    return wasReady;
  }
}

describe('fault suite: exactly-once at full size (own broker)', () => {
  it('1M events, 10 SIGKILLs (start-up, quiet, mid-stream), a broker restart and a second instance: every output exactly once, equal to the model', async () => {
    const began = Date.now();
    const { label, seed, gen, t, dir } = await scenario('eos-full', broker!.brokers);
    const choose = createRandom(seed + 1);
    const options = { processingGuarantee: 'exactly_once', repartition: 'never', checkpointSecs: 0.5, sessionTimeoutMs: SESSION_TIMEOUT_MS } as const;
    const { results, deadLetters } = await committedOutputs(t);
    const counts = { fenced: 0, failedTransiently: 0, restores: 0 };
    const observe = (job: Job): void =>
      onStderrLine(job.child, (line) => {
        if (line.includes('task fenced by another instance')) counts.fenced++;
        if (line.includes('transaction failed transiently')) counts.failedTransiently++;
        if (line.includes('"msg":"tasks restored"')) counts.restores++;
      });
    const timeline: string[] = [];
    const sent: Sent[] = [];
    /** Adds `event` to the timeline, with the group's committed offsets unless the broker is down (or its coordinator not loaded yet). */
    const note = async (event: string, brokerUp = true): Promise<void> => {
      const committedNow = brokerUp ? `, committed ${await committedTotal(t).catch(() => '?')}` : '';
      timeline.push(`${((Date.now() - began) / 1000).toFixed(1)} s: ${event} (input ${sent.length}${committedNow})`);
    };
    const addInvalid = async (round: number): Promise<void> => {
      sent.push(...(await produce(t.brokers, t.input, invalidEvents(gen, round))));
    };

    // Kill 1, during start-up.
    await addInvalid(0);
    sent.push(...(await produce(t.brokers, t.input, gen.batch(500))));
    const a = new Instance('A', writeConfig(dir, 'a', join(dir, 'state-a'), t, options), observe);
    await startUpMoment(a.job, 500 + Math.floor(choose() * 1_500));
    expect(await a.kill(), `${label}: A was ready before the start-up kill`).toBe(false);
    await note('kill 1: A during start-up');
    await a.job.waitReady(90_000);
    const instances = [a];
    let kills = 1;
    let killedRestoring = 0;

    /** The flow of `count` events, with `midStreamKills` kills at random points of it (and `during` at its middle). */
    const flow = async (count: number, midStreamKills: number, round: number, during?: () => Promise<void>): Promise<void> => {
      const points = Array.from({ length: midStreamKills }, () => Math.floor((0.05 + 0.85 * choose()) * count)).sort((x, y) => x - y);
      const middle = Math.floor(count / 2);
      // The flow stops at each kill point until the kill is done.
      const f = new Flow(t.brokers, t.input, gen, count, RATE, sent, undefined, points);
      let middleDone = false;
      for (const point of points) {
        if (!middleDone && point >= middle) {
          await f.reached(middle);
          await addInvalid(round);
          await during?.();
          middleDone = true;
        }
        await f.held();
        expect(f.produced, `${label}: kill ${kills + 1} while input is still to come`).toBeLessThan(count);
        const target = instances[Math.floor(choose() * instances.length)]!;
        const wasReady = await target.kill();
        f.resume();
        if (!wasReady) killedRestoring++;
        await note(`kill ${++kills}: ${target.name} mid-stream${wasReady ? '' : ' (while it restored)'}`);
      }
      if (!middleDone) {
        await f.reached(middle);
        await addInvalid(round);
        await during?.();
      }
      await f.done;
    };

    // Flow 1, then the quiet kill: everything consumed and committed, then silence.
    await flow(FLOWS[0], KILLS_PER_FLOW[0], 1);
    let committed = 0;
    await waitUntil(`${label}: the group to commit all ${sent.length} records`, async () => (committed = await committedTotal(t)) >= sent.length, 120_000, () => `committed ${committed}\n${a.job.tail()}`, 500);
    const silenceFrom = Date.now();
    await sleep(2 * IDLE_TIMEOUT_MS + 1_000 + Math.floor(choose() * 1_000));
    await a.kill();
    await note(`kill ${++kills}: A while the input is quiet`);
    // Under the quiet-input rule the watermark moved on by at most the silence: so does event time.
    gen.skip(Date.now() - silenceFrom);

    // Flow 2: B joins at its middle, then kills pick either instance; the broker restarts after it.
    await flow(FLOWS[1], KILLS_PER_FLOW[1], 2, async () => {
      instances.push(new Instance('B', writeConfig(dir, 'b', join(dir, 'state-b'), t, options), observe));
      await note('B joins');
    });
    expect(instances.length, `${label}: B joined`).toBe(2);
    await Promise.all(instances.map((i) => i.job.waitReady(90_000)));
    const pausedAt = Date.now();
    await broker!.script('kafka-down.sh');
    await note('broker stopped', false);
    await sleep(2_000 + Math.floor(choose() * 2_000));
    await broker!.script('kafka-up.sh');
    await note('broker started again');
    for (const i of instances) expect(i.job.running, `${label}: ${i.job.name} exited during the broker restart\n${i.job.tail()}`).toBe(true);
    gen.skip(Date.now() - pausedAt);

    // Flow 3, to the end.
    await flow(FLOWS[2], KILLS_PER_FLOW[2], 3);
    const flowsEnded = Date.now();
    expect(kills, `${label}: SIGKILLs`).toBe(10);
    await finish(t, sent, gen, results, 240_000);
    await note('every window has its result');
    for (const i of instances) expect(i.job.running, `${label}: ${i.job.name} is not running at the end\n${i.job.tail()}`).toBe(true);
    await settled([results, deadLetters]);
    // On a failure, what happened when: the kills, the broker restart, the second instance.
    expectExactlyOnce(`${label}\n  ${timeline.join('\n  ')}\n${instances.map((i) => i.job.tail()).join('\n')}\n`, sent, results, deadLetters);
    accountFor(label, sent, results.values(), deadLetters.values());

    for (const i of instances) expect((await i.job.stop('SIGTERM', 60_000)).code, i.job.tail()).toBe(0);
    console.log(
      `${label}: ${sent.length} records (${sent.filter((s) => s.kind === 'valid').length} valid) in ${Math.round((Date.now() - began) / 1000)} s; ` +
        `results complete ${Math.round((Date.now() - flowsEnded) / 1000)} s after the input ended; ${results.messages.size} results, ${deadLetters.messages.size} dead letters read committed; ` +
        `${killedRestoring} kills before the instance was ready; ${counts.fenced} fenced and ${counts.failedTransiently} transiently failed transactions; ${counts.restores} restores logged\n  ${timeline.join('\n  ')}`,
    );
  }, TIMEOUT_MS);
});

/** Every input record exactly once: valid ones in the final results' counts, invalid ones as one dead letter each. */
function accountFor(label: string, sent: readonly Sent[], resultValues: readonly string[], deadLetterValues: readonly string[]): void {
  const { final } = finalResults(resultValues);
  const aggregated = [...final.values()].reduce((sum, r) => sum + r.event_count, 0);
  const reasons = new Map<string, number>();
  for (const value of deadLetterValues) {
    const { reason } = JSON.parse(value) as { reason: string };
    reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
  }
  const invalid = sent.filter((s) => s.kind === 'poison').length;
  const valid = sent.filter((s) => s.kind === 'valid').length;
  expect({ aggregated, deadLetters: deadLetterValues.length, tooLate: reasons.get('too_late') ?? 0 }, `${label}: input accounted for`).toEqual({ aggregated: valid, deadLetters: invalid, tooLate: 0 });
}
