/**
 * Fault suite, fresh start on a multi-partition backlog with a small buffer (issue 8, item 2):
 * all input (4 partitions) is in the topic before the job starts and `buffer_size: 50` makes
 * backpressure pause the consumer. Every partition holds the watermark back from assignment,
 * so the first partition's batch cannot make the others' records late: zero too_late.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { tempDir } from '../support/temp-dir.js';
import { InputGenerator, Job, Tail, checkRun, createTopics, produce, resultsComplete, waitUntil, writeConfig } from './harness.js';

const jobs: Job[] = [];
const tails: Tail[] = [];
afterEach(async () => {
  for (const j of jobs.splice(0)) j.kill();
  for (const t of tails.splice(0)) await t.stop();
});

describe('fault suite: backlog with backpressure', () => {
  it('a fresh start on 40k backlogged events drops nothing', async () => {
    const seed = Number(process.env.FAULT_SEED ?? Date.now() % 1_000_000);
    const label = `backlog (seed ${seed})`;
    const gen = new InputGenerator(seed);
    const t = await createTopics(inject('kafkaBrokers'), 'fault-backlog');
    const dir = tempDir('fault-backlog-');
    // Partition by partition, so the first partition's records are all in before the others'.
    const planned = [0, 1, 2, 3].flatMap((p) => Array.from({ length: 10_000 }, () => gen.next(p)));
    const sent = await produce(t.brokers, t.input, [...planned, ...gen.sentinels()]);
    const results = await Tail.start(t.brokers, t.results);
    const deadLetters = await Tail.start(t.brokers, t.deadLetters);
    tails.push(results, deadLetters);

    const job = new Job(label, writeConfig(dir, 'job', join(dir, 'state'), t, { bufferSize: 50 }));
    jobs.push(job);
    await job.waitReady();
    try {
      await waitUntil('every window to have its result', () => resultsComplete(sent, results.values()), 90_000, () => '', 500);
    } catch {
      /* reported by checkRun */
    }
    expect(job.running, `${label}: the job exited by itself\n${job.tail()}`).toBe(true);
    const stopped = await job.stop('SIGTERM');
    expect(stopped.code, `${label}: exit code after SIGTERM\n${job.tail()}`).toBe(0);

    await results.caughtUp();
    await deadLetters.caughtUp();
    checkRun(label, sent, results.values(), deadLetters.values());
  }, 240_000);
});
