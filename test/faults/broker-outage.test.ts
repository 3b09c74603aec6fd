/**
 * Fault suite, broker outage (issue 8, item 3), on the test's OWN broker (KAFKA_DIR in a temp
 * folder, free ports; scripts/kafka-up.sh / kafka-down.sh) so the shared one stays up.
 *  1. Broker stopped for ~15 s mid-run: /readyz answers 503 and /healthz 200 during the
 *     outage; afterwards the committed offsets reach the end, results are correct, and
 *     SIGTERM exits 0. The outage is not quiet input: no on-time event becomes too_late.
 *  2. SIGTERM while the broker is down: exit code 1 within 40 s with a message on stderr;
 *     restarted once the broker is back, the job resumes and the results are correct.
 *  3. Exactly-once, the broker stopped for ~15 s mid-run: the job keeps running (a
 *     transaction under way when the broker went is aborted and its task restored from what
 *     is committed once the broker is back), and a `read_committed` reader sees every result
 *     and dead letter exactly once.
 */
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startOwnBroker, type OwnBroker } from '../support/own-broker.js';
import { tempDir } from '../support/temp-dir.js';
import {
  InputGenerator, Job, type Sent, checkRun, committedTotal, createTopics, finish, produceSpread, sleep, waitUntil, writeConfig, cleanUp, outputs, scenario, track,
} from './harness.js';
import { committedOutputs, expectExactlyOnce, settled, stopCommittedTails } from './exactly-once-checks.js';

const OUTAGE_MS = 15_000;

let broker: OwnBroker | undefined;
let brokers = '';
const script = (name: 'kafka-up.sh' | 'kafka-down.sh', ...args: string[]): Promise<void> => broker!.script(name, ...args);

beforeAll(async () => {
  broker = await startOwnBroker('fault-broker-');
  brokers = broker.brokers;
}, 240_000);

afterAll(async () => {
  await broker?.remove();
}, 120_000);

afterEach(cleanUp);

describe('fault suite: broker outage (own broker)', () => {
  it('a 15 s outage mid-run: /readyz 503, /healthz 200, commits resume, results correct, SIGTERM exits 0', async () => {
    const { label, gen, t, dir } = await scenario('broker-outage', brokers);
    const job = new Job(label, writeConfig(dir, 'job', join(dir, 'state'), t));
    track(job);
    await job.waitReady();

    const sent: Sent[] = await produceSpread(brokers, t.input, gen, 2_000, 10, 3_000);
    const lastProduced = Date.now();
    await script('kafka-down.sh');
    // Quiet input before the stop is legitimate (bounded by this gap); the outage is not.
    gen.skip(Date.now() - lastProduced);
    const outageFrom = Date.now();
    const readyz: number[] = [];
    const healthz: number[] = [];
    try {
      while (Date.now() - outageFrom < OUTAGE_MS) {
        readyz.push(await job.status('/readyz'));
        healthz.push(await job.status('/healthz'));
        await sleep(500);
      }
    } finally {
      await script('kafka-up.sh'); // whatever happened: the next test needs the broker
    }
    expect(job.running, `${label}: the job exited during the outage (code ${job.exitCode})\n${job.tail()}`).toBe(true);
    expect(readyz.slice(-10), `${label}: /readyz during the outage (last 10 polls)`).toEqual(Array(10).fill(503));
    expect(healthz.filter((s) => s !== 200), `${label}: /healthz during the outage`).toEqual([]);

    sent.push(...(await produceSpread(brokers, t.input, gen, 2_000, 10, 3_000)));
    const { results, deadLetters } = await outputs(t);
    await finish(t, sent, gen, results, 75_000);
    let committed = 0;
    await waitUntil(`${label}: committed offsets to reach the end (${sent.length}) after the outage`, async () => (committed = await committedTotal(t)) >= sent.length, 30_000, () => `committed ${committed}\n${job.tail()}`, 1_000);
    expect(await job.status('/readyz'), `${label}: /readyz after the outage`).toBe(200);
    const stopped = await job.stop('SIGTERM');
    expect(stopped.code, `${label}: exit code after SIGTERM\n${job.tail()}`).toBe(0);

    await results.caughtUp();
    await deadLetters.caughtUp();
    checkRun(label, sent, results.values(), deadLetters.values());
  }, 300_000);

  it('SIGTERM while the broker is down exits 1 with a message; the restart resumes correctly', async () => {
    const seed = Number(process.env.FAULT_SEED ?? Date.now() % 1_000_000) + 1;
    const label = `broker-outage SIGTERM variant (seed ${seed})`;
    const gen = new InputGenerator(seed);
    await script('kafka-up.sh'); // idempotent: a failed earlier test may have left it down
    const t = await createTopics(brokers, 'fault-outage-term');
    const dir = tempDir('fault-outage-term-');
    const config = writeConfig(dir, 'job', join(dir, 'state'), t);
    const first = new Job(`${label} run 1`, config);
    track(first);
    await first.waitReady();

    const sent: Sent[] = await produceSpread(brokers, t.input, gen, 2_000, 10, 3_000);
    const lastProduced = Date.now();
    await script('kafka-down.sh');
    gen.skip(Date.now() - lastProduced);
    await sleep(3_000);
    const linesBefore = first.lines.length;
    const runningAtTerm = first.running;
    const stopped = await first.stop('SIGTERM', 40_000).finally(() => script('kafka-up.sh'));
    expect(runningAtTerm, `${label}: run 1 exited by itself during the outage (code ${first.exitCode}) before the SIGTERM\n${first.tail()}`).toBe(true);
    expect(stopped.code, `${label}: exit code of SIGTERM with the broker down (${stopped.ms} ms)\n${first.tail()}`).toBe(1);
    const said = first.lines.slice(linesBefore).filter((l) => /"level":"(error|fatal)"/.test(l));
    expect(said.length, `${label}: an error message on stderr after SIGTERM\n${first.tail()}`).toBeGreaterThan(0);

    const second = new Job(`${label} run 2`, config);
    track(second);
    await second.waitReady(90_000);
    sent.push(...(await produceSpread(brokers, t.input, gen, 1_500, 10, 2_000)));
    const { results, deadLetters } = await outputs(t);
    await finish(t, sent, gen, results, 75_000);
    const end = await second.stop('SIGTERM');
    expect(end.code, `${label}: run 2 exit code after SIGTERM\n${second.tail()}`).toBe(0);

    await results.caughtUp();
    await deadLetters.caughtUp();
    checkRun(label, sent, results.values(), deadLetters.values());
  }, 300_000);

  it('exactly-once: a 15 s outage mid-run: the job goes on, failed transactions restore their tasks, every output exactly once', async () => {
    await script('kafka-up.sh'); // idempotent: a failed earlier test may have left it down
    const { label, gen, t, dir } = await scenario('broker-outage-eos', brokers);
    const job = track(new Job(label, writeConfig(dir, 'job', join(dir, 'state'), t, { processingGuarantee: 'exactly_once', repartition: 'never', checkpointSecs: 0.5 })));
    await job.waitReady();
    const { results, deadLetters } = await committedOutputs(t);

    const sent: Sent[] = await produceSpread(brokers, t.input, gen, 2_000, 10, 3_000);
    const lastProduced = Date.now();
    await script('kafka-down.sh');
    gen.skip(Date.now() - lastProduced);
    try {
      await sleep(OUTAGE_MS);
    } finally {
      await script('kafka-up.sh');
    }
    expect(job.running, `${label}: the job exited during the outage (code ${job.exitCode})\n${job.tail()}`).toBe(true);

    sent.push(...(await produceSpread(brokers, t.input, gen, 2_000, 10, 3_000)));
    await finish(t, sent, gen, results, 90_000);
    // Whether a transaction was under way when the broker went (rather than checkpoints waiting
    // for the consumer's rejoin) depends on timing: both must end exactly once.
    const aborted = job.lines.filter((line) => line.includes('transaction failed transiently')).length;
    console.log(`${label}: ${aborted} transaction(s) failed and their tasks were restored anew`);
    const stopped = await job.stop('SIGTERM');
    expect(stopped.code, `${label}: exit code after SIGTERM\n${job.tail()}`).toBe(0);
    await settled([results, deadLetters]);
    expectExactlyOnce(label, sent, results, deadLetters);
    await stopCommittedTails();
  }, 300_000);
});
