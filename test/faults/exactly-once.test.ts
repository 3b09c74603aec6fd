/**
 * Exactly-once (issue 11, `processing_guarantee: exactly_once`): a `read_committed` reader of
 * the result and dead-letter topics (`CommittedTail`, see exactly-once-checks.ts) must see every (key, window, revision) and every dead letter exactly once, and the final
 * results must equal the brute-force model —
 * - after SIGKILLs at random moments (start-up, mid-stream, after a restore),
 * - with a second instance joining mid-stream and the first leaving (SIGTERM), and
 * - with a zombie: an instance paused (SIGSTOP) past its session timeout while a second one
 *   takes its tasks over, then resumed (SIGCONT): its transactions are fenced, so none of
 *   what it produced from its stale state is committed;
 * - with `parallelism: 2` (two worker threads, each a group member whose tasks have their own
 *   transactional producers), the process SIGKILLed twice mid-stream.
 * The 1M-event run with a broker restart is exactly-once-full.test.ts.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { onStderrLine } from '../support/cli.js';
import { committedOutputs, expectExactlyOnce, settled, stopCommittedTails } from './exactly-once-checks.js';
import { Job, type Sent, cleanUp, finish, produce, produceSpread, scenario, sleep, track, waitUntil, writeConfig } from './harness.js';

afterEach(async () => {
  await cleanUp();
  await stopCommittedTails();
});

describe('fault suite: exactly-once', () => {
  it('SIGKILLs at random moments: every result and dead letter committed exactly once, equal to the model', async () => {
    const { label, gen, t, dir } = await scenario('eos-kill', inject('kafkaBrokers'));
    const config = writeConfig(dir, 'job', join(dir, 'state'), t, { processingGuarantee: 'exactly_once', repartition: 'never', checkpointSecs: 0.5 });
    const { results, deadLetters } = await committedOutputs(t);
    const start = (name: string): Job => track(new Job(`${label} ${name}`, config));

    const sent: Sent[] = await produce(t.brokers, t.input, gen.batch(800));
    // 1. During start-up.
    const first = start('run 1');
    await sleep(300 + Math.floor(gen.random() * 1_500));
    expect((await first.stop('SIGKILL')).code, first.tail()).toBe('SIGKILL');

    // 2. Mid-stream, while input is produced and transactions commit.
    const second = start('run 2');
    await second.waitReady(90_000);
    const producing = produceSpread(t.brokers, t.input, gen, 1_500, 20, 4_000);
    await sleep(1_000 + Math.floor(gen.random() * 3_000));
    expect((await second.stop('SIGKILL')).code, second.tail()).toBe('SIGKILL');
    sent.push(...(await producing));

    // 3. Soon after the restore (the join waits out the killed member's 30 s session).
    const third = start('run 3');
    await third.waitReady(90_000);
    await sleep(500 + Math.floor(gen.random() * 2_500));
    expect((await third.stop('SIGKILL')).code, third.tail()).toBe('SIGKILL');

    // 4. To the end.
    const fourth = start('run 4');
    await fourth.waitReady(90_000);
    await finish(t, sent, gen, results, 75_000);
    expect((await fourth.stop('SIGTERM')).code, fourth.tail()).toBe(0);
    await settled([results, deadLetters]);
    expectExactlyOnce(label, sent, results, deadLetters);
  }, 400_000);

  it('two instances: one joins mid-stream, the other leaves with SIGTERM; every output exactly once', async () => {
    const { label, gen, t, dir } = await scenario('eos-rebalance', inject('kafkaBrokers'));
    const options = { processingGuarantee: 'exactly_once', repartition: 'never', checkpointSecs: 0.5 } as const;
    const { results, deadLetters } = await committedOutputs(t);
    const sent: Sent[] = await produce(t.brokers, t.input, gen.batch(600));

    const a = track(new Job(`${label} A`, writeConfig(dir, 'a', join(dir, 'state-a'), t, options)));
    await a.waitReady(60_000);
    const producing = produceSpread(t.brokers, t.input, gen, 1_500, 15, 6_000);
    await sleep(1_000 + Math.floor(gen.random() * 1_000));
    // B joins: the group splits the tasks, B's producers fence A's for the tasks that move.
    const b = track(new Job(`${label} B`, writeConfig(dir, 'b', join(dir, 'state-b'), t, options)));
    await b.waitReady(60_000);
    await sleep(1_000 + Math.floor(gen.random() * 2_000));
    // A leaves: B takes every task.
    expect((await a.stop('SIGTERM')).code, a.tail()).toBe(0);
    sent.push(...(await producing));
    await finish(t, sent, gen, results, 75_000);
    expect((await b.stop('SIGTERM')).code, b.tail()).toBe(0);
    await settled([results, deadLetters]);
    expectExactlyOnce(label, sent, results, deadLetters);
  }, 300_000);

  it('a zombie (paused past its session timeout, then resumed) gets none of its output committed', async () => {
    const { label, gen, t, dir } = await scenario('eos-zombie', inject('kafkaBrokers'));
    const options = { processingGuarantee: 'exactly_once', repartition: 'never', checkpointSecs: 0.5 } as const;
    const { results, deadLetters } = await committedOutputs(t);
    const sent: Sent[] = await produce(t.brokers, t.input, gen.batch(800));

    const a = track(new Job(`${label} A`, writeConfig(dir, 'a', join(dir, 'state-a'), t, options)));
    await a.waitReady(60_000);
    // A has output on its way (input arriving) when it freezes.
    const producing = produceSpread(t.brokers, t.input, gen, 600, 6, 1_500);
    await sleep(700 + Math.floor(gen.random() * 600));
    a.child.kill('SIGSTOP');
    sent.push(...(await producing));

    // B joins; the group hands it every task once A's 30 s session has expired, B's producers fence A's.
    const b = track(new Job(`${label} B`, writeConfig(dir, 'b', join(dir, 'state-b'), t, options)));
    await b.waitReady(90_000);
    sent.push(...(await produceSpread(t.brokers, t.input, gen, 600, 6, 2_000)));

    // A wakes up with its stale tasks: its next transactions are fenced.
    a.child.kill('SIGCONT');
    await sleep(5_000);
    await finish(t, sent, gen, results, 75_000);
    await settled([results, deadLetters]);
    expectExactlyOnce(label, sent, results, deadLetters);
    const fenced = a.lines.filter((line) => line.includes('task fenced by another instance')).length;
    console.log(`${label}: A logged ${fenced} fenced transaction(s) after resuming; A still running: ${a.running}${a.running ? '' : `\n${a.tail(6)}`}`);
    await Promise.all([a.stop('SIGTERM'), b.stop('SIGTERM')]);
  }, 300_000);

  it('parallelism 2: the process SIGKILLed twice mid-stream; every output exactly once', async () => {
    const { label, gen, t, dir } = await scenario('eos-parallel', inject('kafkaBrokers'));
    // 6 s sessions (the broker's minimum): the restart waits out the killed threads' sessions.
    const config = writeConfig(dir, 'job', join(dir, 'state'), t, { processingGuarantee: 'exactly_once', repartition: 'never', checkpointSecs: 0.5, parallelism: 2, sessionTimeoutMs: 6_000 });
    const { results, deadLetters } = await committedOutputs(t);
    const sent: Sent[] = await produce(t.brokers, t.input, gen.batch(800));
    /** Per run, the worker threads that logged an assignment with partitions. */
    const workers: Set<number>[] = [];
    const start = (run: number): Job => {
      const job = track(new Job(`${label} run ${run}`, config));
      const owners = new Set<number>();
      workers.push(owners);
      onStderrLine(job.child, (line) => {
        if (!line.includes('"partition assignment"')) return;
        const entry = JSON.parse(line) as { worker?: number; current: unknown[] };
        if (entry.current.length > 0) owners.add(entry.worker ?? -1);
      });
      return job;
    };
    // Ready once every worker thread has restored its first assignment.
    const ready = (job: Job): Promise<void> =>
      waitUntil(`${job.name}: /readyz 200`, async () => {
        if (!job.running) throw new Error(`${job.name} exited (${job.exitCode})\n${job.tail()}`);
        return job.port !== undefined && (await job.status('/readyz')) === 200;
      }, 90_000, () => job.tail(), 250);

    for (const run of [1, 2]) {
      const job = start(run);
      await ready(job);
      const producing = produceSpread(t.brokers, t.input, gen, 1_500, 20, 4_000);
      await sleep(1_000 + Math.floor(gen.random() * 2_500));
      expect((await job.stop('SIGKILL')).code, job.tail()).toBe('SIGKILL');
      sent.push(...(await producing));
    }
    const last = start(3);
    await ready(last);
    await finish(t, sent, gen, results, 75_000);
    expect((await last.stop('SIGTERM')).code, last.tail()).toBe(0);
    await settled([results, deadLetters]);
    expectExactlyOnce(label, sent, results, deadLetters);
    // Both threads of the last run had tasks, and so transactional producers, of their own.
    console.log(`${label}: worker threads with partitions, per run: ${JSON.stringify(workers.map((w) => [...w].sort()))}`);
    expect([...workers[2]!].sort(), `${label}: worker threads of run 3 with partitions`).toEqual([0, 1]);
  }, 300_000);
});
