/**
 * Fault suite, SIGKILL (issue 8): the job is SIGKILLed three times — during start-up (before
 * it is ready), mid-stream while input is being produced, and while the input is quiet (all
 * consumed, no new input for > 2× idle_timeout) — and restarted each time with the same state
 * folder and group. Final results must equal the brute-force model; zero too_late.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import {
  IDLE_TIMEOUT_MS, Job, type Sent, checkRun, committedTotal, finish, produce, produceSpread, sleep, startUpMoment, waitUntil, writeConfig, cleanUp, outputs, scenario, track,
} from './harness.js';

afterEach(cleanUp);

describe('fault suite: SIGKILL', () => {
  it('start-up, mid-stream and quiet-input kills lose and duplicate nothing', async () => {
    const { label, gen, t, dir } = await scenario('kill', inject('kafkaBrokers'));
    const config = writeConfig(dir, 'job', join(dir, 'state'), t);
    const { results, deadLetters } = await outputs(t);
    const start = (name: string): Job => {
      const job = new Job(`${label} ${name}`, config);
      track(job);
      return job;
    };

    const sent: Sent[] = await produce(t.brokers, t.input, gen.batch(1_500));

    // 1. During start-up: killed before it logs "ready".
    const first = start('run 1');
    await startUpMoment(first, 300 + Math.floor(gen.random() * 700));
    const readyBeforeKill = first.ready;
    expect((await first.stop('SIGKILL')).code, first.tail()).toBe('SIGKILL');
    expect(readyBeforeKill, `${label}: run 1 was already ready when killed (start-up kill came too late)`).toBe(false);

    // 2. Mid-stream, while input is produced.
    const second = start('run 2');
    await second.waitReady(90_000);
    const producing = produceSpread(t.brokers, t.input, gen, 2_500, 20, 4_000);
    await sleep(1_000 + Math.floor(gen.random() * 2_500));
    expect((await second.stop('SIGKILL')).code, second.tail()).toBe('SIGKILL');
    sent.push(...(await producing));
    const silenceFrom = Date.now();

    // 3. While the input is quiet: everything consumed and committed, then > 2× idle_timeout of silence.
    const third = start('run 3');
    await third.waitReady(90_000);
    // The restart's join waits out the killed member's session (30 s).
    await waitUntil(`${label}: run 3 to commit all ${sent.length} records`, async () => (await committedTotal(t)) >= sent.length, 90_000, () => third.tail(), 1_000);
    await sleep(2 * IDLE_TIMEOUT_MS + 1_000 + Math.floor(gen.random() * 1_000));
    expect(third.running, `${label}: run 3 exited by itself\n${third.tail()}`).toBe(true);
    expect((await third.stop('SIGKILL')).code, third.tail()).toBe('SIGKILL');

    // 4. Restart, more on-time input continuing the sequence, to the end.
    const fourth = start('run 4');
    await fourth.waitReady(90_000);
    gen.skip(Date.now() - silenceFrom);
    sent.push(...(await produceSpread(t.brokers, t.input, gen, 1_500, 10, 2_000)));
    await finish(t, sent, gen, results, 75_000);
    const stopped = await fourth.stop('SIGTERM');
    expect(stopped.code, `${label}: exit code of SIGTERM\n${fourth.tail()}`).toBe(0);

    await results.caughtUp();
    await deadLetters.caughtUp();
    checkRun(label, sent, results.values(), deadLetters.values());
  }, 300_000);
});
