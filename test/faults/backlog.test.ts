/**
 * Fault suite, fresh start on a multi-partition backlog with a small buffer (issue 8, item 2):
 * all input (4 partitions) is in the topic before the job starts and `buffer_size: 50` makes
 * backpressure pause the consumer. Every partition holds the watermark back from assignment,
 * so the first partition's batch cannot make the others' records late: zero too_late.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, inject, it } from 'vitest';
import {
  Job, checkRun, produce, resultsComplete, waitUntil, writeConfig, cleanUp, outputs, scenario, track,
} from './harness.js';

afterEach(cleanUp);

describe('fault suite: backlog with backpressure', () => {
  it('a fresh start on 40k backlogged events drops nothing', async () => {
    const { label, gen, t, dir } = await scenario('backlog', inject('kafkaBrokers'));
    // Partition by partition, so the first partition's records are all in before the others'.
    const planned = [0, 1, 2, 3].flatMap((p) => Array.from({ length: 10_000 }, () => gen.next(p)));
    const sent = await produce(t.brokers, t.input, [...planned, ...gen.sentinels()]);
    const { results, deadLetters } = await outputs(t);

    const job = new Job(label, writeConfig(dir, 'job', join(dir, 'state'), t, { bufferSize: 50 }));
    track(job);
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
