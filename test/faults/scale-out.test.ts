/**
 * Fault suite, scale-out (issue 9): three instances of one group (own state folders, same
 * output topics) on a 6-partition input keyed by the key fields, while input flows: A and B
 * start, C joins late, B is SIGKILLed (the group keeps it until its 30 s session timeout),
 * A leaves with SIGTERM and comes back on its own state folder. After the sentinels, the
 * final revision of every (key, window) must equal the brute-force model, repeats of a
 * (key, window, revision) must be identical, and nothing may be late or dead-lettered.
 * Prints every restore the instances logged ('tasks restored': where from, how long).
 */
import { join } from 'node:path';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { onStderrLine } from '../support/cli.js';
import {
  Job, type Sent, checkRun, finish, produceSpread, sleep, writeConfig, cleanUp, outputs, scenario, track,
} from './harness.js';

const PARTITIONS = 6;

afterEach(cleanUp);

interface Restore {
  readonly instance: string;
  readonly ms: number;
  readonly tasks: { partition: number; from: string; windows: number }[];
}

describe('fault suite: scale-out', () => {
  it('three instances: one joins late, one is SIGKILLed, one leaves with SIGTERM and comes back', async () => {
    const began = Date.now();
    const { label, gen, t, dir } = await scenario('scale-out', inject('kafkaBrokers'), PARTITIONS);
    const { results, deadLetters } = await outputs(t);
    const restores: Restore[] = [];
    /** Partitions each instance was assigned at some point. */
    const owned = new Map<string, Set<number>>();
    const start = (name: string, instance: string): Job => {
      const job = new Job(`${label} ${name}`, writeConfig(dir, instance, join(dir, `${instance}-state`), t));
      owned.set(name, new Set());
      onStderrLine(job.child, (line) => {
        if (!line.startsWith('{')) return;
        const entry = JSON.parse(line) as { msg?: string; ms?: number; tasks?: Restore['tasks']; current?: { partition: number }[] };
        if (entry.msg === 'tasks restored' && entry.tasks !== undefined && entry.tasks.length > 0) restores.push({ instance: name, ms: entry.ms ?? 0, tasks: entry.tasks });
        if (entry.msg === 'partition assignment') for (const tp of entry.current ?? []) owned.get(name)!.add(tp.partition);
      });
      track(job);
      return job;
    };

    const a = start('A', 'A');
    const b = start('B', 'B');
    await Promise.all([a.waitReady(), b.waitReady()]);
    const sent: Sent[] = [];

    // C joins while input flows.
    const phase1 = produceSpread(t.brokers, t.input, gen, 2_000, 10, 10_000);
    await sleep(3_000);
    const c = start('C', 'C');
    await c.waitReady();
    sent.push(...(await phase1));

    // B is SIGKILLed mid-stream; A leaves with SIGTERM while the group still waits for B, and comes back.
    const phase2 = produceSpread(t.brokers, t.input, gen, 6_000, 30, 45_000);
    await sleep(5_000);
    await b.stop('SIGKILL');
    await sleep(5_000);
    const aStop = await a.stop('SIGTERM', 60_000);
    expect(aStop.code, `${label}: A's exit code after SIGTERM (${aStop.ms} ms)\n${a.tail()}`).toBe(0);
    const a2 = start('A (back)', 'A');
    await a2.waitReady(90_000);
    sent.push(...(await phase2));
    sent.push(...(await produceSpread(t.brokers, t.input, gen, 2_000, 5, 5_000)));

    await finish(t, sent, gen, results, 90_000);
    // Per-task metrics: each task is reported by its current owner alone (a revoked task's series went).
    await sleep(1_500);
    const reported = await Promise.all([a2, c].map((job) => taskSeries(job)));
    const tasks = reported.flatMap((r) => r.windowsOpen);
    expect(tasks.sort(), `${label}: tasks reported by A (back) and C: ${JSON.stringify(reported)}`).toEqual(Array.from({ length: PARTITIONS }, (_, p) => `${t.input}:${p}`));
    for (const r of reported) {
      expect(r.watermark.sort()).toEqual(r.windowsOpen.sort());
      expect(r.restored.map((x) => x.task).sort()).toEqual(r.windowsOpen.sort());
    }
    for (const job of [a2, c]) {
      expect(job.running, `${label}: ${job.name} exited by itself\n${job.tail()}`).toBe(true);
      const stop = await job.stop('SIGTERM', 60_000);
      expect(stop.code, `${label}: ${job.name}'s exit code after SIGTERM\n${job.tail()}`).toBe(0);
    }

    await results.caughtUp();
    await deadLetters.caughtUp();
    const summary = restores.map((r) => `${r.instance}: ${r.ms} ms, ${r.tasks.map((x) => `p${x.partition} ${x.from} (${x.windows} windows)`).join(', ')}`);
    console.log(`${label}: ${sent.length} records, ${Math.round((Date.now() - began) / 1000)} s; restores:\n  ${summary.join('\n  ')}`);
    for (const name of ['A', 'B', 'C']) expect(owned.get(name)!.size, `${label}: ${name} was never assigned a partition`).toBeGreaterThan(0);
    checkRun(label, sent, results.values(), deadLetters.values());
  }, 300_000);
});

/** The tasks that `job`'s `/metrics` reports, per per-task series. */
async function taskSeries(job: Job): Promise<{ windowsOpen: string[]; watermark: string[]; restored: { task: string; source: string }[] }> {
  const text = await (await fetch(`http://127.0.0.1:${job.port}/metrics`, { signal: AbortSignal.timeout(5_000) })).text();
  const tasksOf = (metric: string): string[] => [...text.matchAll(new RegExp(`^${metric}\\{task="([^"]+)"\\} `, 'gm'))].map((m) => m[1]!);
  const restored = [...text.matchAll(/^stream_processor_task_restore_seconds\{task="([^"]+)",source="([^"]+)"\} /gm)].map((m) => ({ task: m[1]!, source: m[2]! }));
  return { windowsOpen: tasksOf('stream_processor_task_windows_open'), watermark: tasksOf('stream_processor_task_watermark_seconds'), restored };
}
