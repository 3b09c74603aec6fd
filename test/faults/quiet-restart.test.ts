/**
 * Fault suite, graceful restart then quiet input (issue 8, item 1): SIGTERM (exit 0), restart,
 * 3× idle_timeout without input while the new process runs, then more on-time events
 * continuing the sequence. Before the fix the quiet rule used an unrestored last-record time
 * of 0 and the watermark jumped ~57 years: every later event was too_late.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, inject, it } from 'vitest';
import {
  IDLE_TIMEOUT_MS, Job, type Sent, checkRun, committedTotal, finish, produceSpread, sleep, waitUntil, writeConfig, cleanUp, outputs, scenario, track,
} from './harness.js';

afterEach(cleanUp);

describe('fault suite: graceful restart, then quiet input', () => {
  it('no watermark jump: events after the silence are on time and aggregated', async () => {
    const { label, gen, t, dir } = await scenario('quiet-restart', inject('kafkaBrokers'));
    const config = writeConfig(dir, 'job', join(dir, 'state'), t);
    const { results, deadLetters } = await outputs(t);

    const first = new Job(`${label} run 1`, config);
    track(first);
    await first.waitReady();
    const sent: Sent[] = await produceSpread(t.brokers, t.input, gen, 2_500, 10, 3_000);
    const silenceFrom = Date.now();
    await waitUntil(`${label}: run 1 to commit all ${sent.length} records`, async () => (await committedTotal(t)) >= sent.length, 60_000, () => first.tail(), 500);
    const term = await first.stop('SIGTERM');
    expect(term.code, `${label}: run 1 exit code after SIGTERM\n${first.tail()}`).toBe(0);

    const second = new Job(`${label} run 2`, config);
    track(second);
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
