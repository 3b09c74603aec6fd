/**
 * Fault suite, rebalances (issue 8, item 10): instance A runs; B (same group, own state
 * folder) joins mid-run and later leaves (SIGTERM, exit 0); then C joins and A is SIGTERMed
 * during the rebalance C's join causes — A must exit 0 within 30 s; C finishes the job.
 * Final results must equal the brute-force model; zero too_late.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, inject, it } from 'vitest';
import {
  Job, type Sent, checkRun, finish, produceSpread, sleep, writeConfig, cleanUp, outputs, scenario, track,
} from './harness.js';

afterEach(cleanUp);

describe('fault suite: rebalance', () => {
  it('instances joining and leaving mid-run, SIGTERM during a rebalance', async () => {
    const { label, gen, t, dir } = await scenario('rebalance', inject('kafkaBrokers'));
    const { results, deadLetters } = await outputs(t);
    const start = (name: string): Job => {
      const job = new Job(`${label} ${name}`, writeConfig(dir, name, join(dir, `${name}-state`), t));
      track(job);
      return job;
    };

    const a = start('A');
    await a.waitReady();
    const sent: Sent[] = await produceSpread(t.brokers, t.input, gen, 1_000, 5, 2_000);

    // B joins mid-run (input keeps coming), shares the work for a while, then leaves.
    const b = start('B');
    const producing = produceSpread(t.brokers, t.input, gen, 3_000, 20, 10_000);
    await b.waitReady();
    await sleep(5_000);
    const bStop = await b.stop('SIGTERM', 30_000);
    expect(bStop.code, `${label}: B's exit code after SIGTERM (leaving)\n${b.tail()}`).toBe(0);
    sent.push(...(await producing));

    // C joins; A is SIGTERMed while the group rebalances for C.
    const c = start('C');
    const producing2 = produceSpread(t.brokers, t.input, gen, 2_000, 10, 6_000);
    await c.waitReady();
    await sleep(Math.floor(gen.random() * 1_500));
    const aStop = await a.stop('SIGTERM', 30_000);
    expect(aStop.code, `${label}: A's exit code after SIGTERM during the rebalance (${aStop.ms} ms)\n${a.tail()}`).toBe(0);
    sent.push(...(await producing2));

    await finish(t, sent, gen, results, 75_000);
    expect(c.running, `${label}: C exited by itself\n${c.tail()}`).toBe(true);
    const cStop = await c.stop('SIGTERM');
    expect(cStop.code, `${label}: C's exit code after SIGTERM\n${c.tail()}`).toBe(0);

    await results.caughtUp();
    await deadLetters.caughtUp();
    checkRun(label, sent, results.values(), deadLetters.values());
  }, 240_000);
});
