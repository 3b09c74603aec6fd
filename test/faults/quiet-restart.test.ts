/**
 * Fault suite, graceful restart then quiet input (issue 8, item 1): SIGTERM (exit 0), restart,
 * 3× idle_timeout without input while the new process runs, then more on-time events
 * continuing the sequence. Before the fix the quiet rule used an unrestored last-record time
 * of 0 and the watermark jumped ~57 years: every later event was too_late.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { tempDir } from '../support/temp-dir.js';
import {
  IDLE_TIMEOUT_MS, InputGenerator, Job, type Sent, Tail, checkRun, committedTotal, createTopics, finish, produceSpread, sleep, waitUntil, writeConfig,
} from './harness.js';

const jobs: Job[] = [];
const tails: Tail[] = [];
afterEach(async () => {
  for (const j of jobs.splice(0)) j.kill();
  for (const t of tails.splice(0)) await t.stop();
});

describe('fault suite: graceful restart, then quiet input', () => {
  it('no watermark jump: events after the silence are on time and aggregated', async () => {
    const seed = Number(process.env.FAULT_SEED ?? Date.now() % 1_000_000);
    const label = `quiet-restart (seed ${seed})`;
    const gen = new InputGenerator(seed);
    const t = await createTopics(inject('kafkaBrokers'), 'fault-quiet');
    const dir = tempDir('fault-quiet-');
    const config = writeConfig(dir, 'job', join(dir, 'state'), t);
    const results = await Tail.start(t.brokers, t.results);
    const deadLetters = await Tail.start(t.brokers, t.deadLetters);
    tails.push(results, deadLetters);

    const first = new Job(`${label} run 1`, config);
    jobs.push(first);
    await first.waitReady();
    const sent: Sent[] = await produceSpread(t.brokers, t.input, gen, 2_500, 10, 3_000);
    const silenceFrom = Date.now();
    await waitUntil(`${label}: run 1 to commit all ${sent.length} records`, async () => (await committedTotal(t)) >= sent.length, 60_000, () => first.tail(), 500);
    const term = await first.stop('SIGTERM');
    expect(term.code, `${label}: run 1 exit code after SIGTERM\n${first.tail()}`).toBe(0);

    const second = new Job(`${label} run 2`, config);
    jobs.push(second);
    await second.waitReady();
    await sleep(3 * IDLE_TIMEOUT_MS);
    expect(second.running, `${label}: run 2 exited during the silence\n${second.tail()}`).toBe(true);

    gen.skip(Date.now() - silenceFrom);
    sent.push(...(await produceSpread(t.brokers, t.input, gen, 1_000, 5, 1_000)));
    await finish(t, sent, gen, results);
    const stopped = await second.stop('SIGTERM');
    expect(stopped.code, `${label}: run 2 exit code after SIGTERM\n${second.tail()}`).toBe(0);

    await results.caughtUp();
    await deadLetters.caughtUp();
    checkRun(label, sent, results.values(), deadLetters.values());
  }, 180_000);
});
