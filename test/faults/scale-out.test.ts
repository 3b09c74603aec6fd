/**
 * Fault suite, scale-out (issue 9): three instances of one group (own state folders, same
 * output topics) on a 6-partition input, while input flows: A and B start, C joins late,
 * B is SIGKILLed (the group keeps it until its 30 s session timeout), A leaves with SIGTERM
 * and comes back on its own state folder. After the sentinels, the final revision of every
 * (key, window) must equal the brute-force model (so every valid record counted once),
 * repeats of a (key, window, revision) must be identical, and nothing may be late or
 * dead-lettered. Prints every restore the instances logged ('tasks restored': where from,
 * how long).
 *
 * Twice: input keyed by the key fields (read directly), and unkeyed input (null message
 * keys, round-robin), which `kafka.repartition: auto` must decide to repartition: each
 * instance then also runs the repartition stage, in group `<group>-repartitioner`, and the
 * SIGKILLed B stays in both groups until its session timeout. The stage produces again what
 * B had repartitioned but not committed; the tasks must drop those copies. Unkeyed event
 * times increase strictly over the whole input, which spans less than out-of-orderness +
 * lateness (30 s + 60 s), so no interleaving of the repartitioned partitions makes a record
 * late; the idle timeout (60 s) is longer than any stall of the run.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { onStderrLine } from '../support/cli.js';
import { Kafka, logLevel } from 'kafkajs';
import {
  Job, type InputMode, type Sent, checkRun, finish, produce, produceSpread, sleep, writeConfig, cleanUp, outputs, scenario, track,
} from './harness.js';

const PARTITIONS = 6;
/** Out-of-orderness and lateness of the unkeyed run: the input must span less than their sum. */
const UNKEYED_TIME = { maxOutOfOrdernessSecs: 30, allowedLatenessSecs: 60, idleTimeoutSecs: 60 } as const;

afterEach(cleanUp);

interface Restore {
  readonly instance: string;
  readonly ms: number;
  readonly tasks: { partition: number; from: string; windows: number }[];
}

describe('fault suite: scale-out', () => {
  it('three instances, input keyed by the key fields: one joins late, one is SIGKILLed, one leaves with SIGTERM and comes back', () => threeInstances('keyed'), 300_000);
  it('three instances, unkeyed input repartitioned: one joins late, one is SIGKILLed, one leaves with SIGTERM and comes back', () => threeInstances('unkeyed'), 300_000);
});

/**
 * The choreography, on input of `mode`. Unkeyed runs half the events (30,000 + sentinels): its
 * event time is 2 ms per event, 60 s in all.
 */
async function threeInstances(mode: InputMode): Promise<void> {
  const began = Date.now();
  const unkeyed = mode === 'unkeyed';
  const { label, gen, t, dir } = await scenario(unkeyed ? 'scale-out-unkeyed' : 'scale-out', inject('kafkaBrokers'), PARTITIONS, mode);
  const perPartition = (n: number): number => (unkeyed ? n / 2 : n);
  const repartitionTopic = `${t.group}-repartition`;
  const { results, deadLetters } = await outputs(t);
  const restores: Restore[] = [];
  /** Partitions each instance was assigned at some point. */
  const owned = new Map<string, Set<number>>();
  /** Per instance, the repartition decision it logged ('repartitioning the input' / 'reading the input directly') and why. */
  const decisions = new Map<string, string>();
  /** Per instance, the copies its tasks dropped (its 'stopped' line; none for the SIGKILLed B). */
  const duplicates = new Map<string, number>();
  const config = (instance: string): string =>
    writeConfig(dir, instance, join(dir, `${instance}-state`), t, unkeyed ? { repartition: 'auto', ...UNKEYED_TIME } : {});
  const start = (name: string, instance: string): Job => {
    const job = new Job(`${label} ${name}`, config(instance));
    owned.set(name, new Set());
    onStderrLine(job.child, (line) => {
      if (!line.startsWith('{')) return;
      const entry = JSON.parse(line) as { msg?: string; ms?: number; tasks?: Restore['tasks']; current?: { topic?: string; partition: number }[]; reason?: string; duplicates?: number };
      if (entry.msg === 'tasks restored' && entry.tasks !== undefined && entry.tasks.length > 0) restores.push({ instance: name, ms: entry.ms ?? 0, tasks: entry.tasks });
      if (entry.msg === 'partition assignment') for (const tp of entry.current ?? []) owned.get(name)!.add(tp.partition);
      if (entry.msg === 'repartitioning the input' || entry.msg === 'reading the input directly') decisions.set(name, `${entry.msg}: ${entry.reason ?? ''}`);
      if (entry.msg === 'stopped') duplicates.set(name, entry.duplicates ?? 0);
    });
    track(job);
    return job;
  };

  // Some input before anyone starts: \`auto\` decides from it (empty input is read directly).
  const sent: Sent[] = await produce(t.brokers, t.input, gen.batch(100));
  const a = start('A', 'A');
  const b = start('B', 'B');
  await Promise.all([a.waitReady(), b.waitReady()]);

  // C joins while input flows.
  const phase1 = produceSpread(t.brokers, t.input, gen, perPartition(2_000), 10, 10_000);
  await sleep(3_000);
  const c = start('C', 'C');
  await c.waitReady();
  sent.push(...(await phase1));

  // B is SIGKILLed mid-stream; A leaves with SIGTERM while the group still waits for B, and comes back.
  const phase2 = produceSpread(t.brokers, t.input, gen, perPartition(6_000), 30, 45_000);
  await sleep(5_000);
  await b.stop('SIGKILL');
  await sleep(5_000);
  const aStop = await a.stop('SIGTERM', 60_000);
  expect(aStop.code, `${label}: A's exit code after SIGTERM (${aStop.ms} ms)\n${a.tail()}`).toBe(0);
  const a2 = start('A (back)', 'A');
  await a2.waitReady(90_000);
  sent.push(...(await phase2));
  sent.push(...(await produceSpread(t.brokers, t.input, gen, perPartition(2_000), 5, 5_000)));
  if (unkeyed) expect(gen.span(), `${label}: the unkeyed input spans less than out-of-orderness + lateness`).toBeLessThan((UNKEYED_TIME.maxOutOfOrdernessSecs + UNKEYED_TIME.allowedLatenessSecs) * 1000);

  await finish(t, sent, gen, results, 90_000);
  // Per-task metrics: each task is reported by its current owner alone (a revoked task's series went).
  await sleep(1_500);
  for (const job of [a2, c]) expect(job.running, `${label}: ${job.name} exited by itself (${String(job.exitCode)})\n${job.tail(30)}`).toBe(true);
  const reported = await Promise.all([a2, c].map((job) => taskSeries(job)));
  const tasks = reported.flatMap((r) => r.windowsOpen);
  const taskTopic = unkeyed ? repartitionTopic : t.input;
  expect(tasks.sort(), `${label}: tasks reported by A (back) and C: ${JSON.stringify(reported)}`).toEqual(Array.from({ length: PARTITIONS }, (_, p) => `${taskTopic}:${p}`));
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
  const valid = sent.filter((s) => s.kind !== 'poison').length;
  const copies = unkeyed ? `; repartition topic: ${(await endOffsets(t.brokers, repartitionTopic)) - valid} copies of ${valid} records, dropped by A (back) and C's tasks: ${(duplicates.get('A (back)') ?? 0) + (duplicates.get('C') ?? 0)}` : '';
  console.log(`${label}: ${sent.length} records, ${Math.round((Date.now() - began) / 1000)} s${copies}; decisions:\n  ${[...decisions].map(([n, d]) => `${n}: ${d}`).join('\n  ')}\nrestores:\n  ${summary.join('\n  ')}`);
  for (const name of ['A', 'B', 'C']) expect(owned.get(name)!.size, `${label}: ${name} was never assigned a partition`).toBeGreaterThan(0);
  for (const name of ['A', 'B', 'C', 'A (back)']) expect(decisions.get(name), `${label}: ${name}'s repartition decision`).toMatch(unkeyed ? /^repartitioning the input: / : /^reading the input directly: /);
  if (unkeyed) expect(decisions.get('A'), `${label}: A's reason`).toMatch(/has key null, not its key fields/);
  checkRun(label, sent, results.values(), deadLetters.values());
}

/** Sum of `topic`'s end offsets. */
async function endOffsets(brokers: string, topic: string): Promise<number> {
  const admin = new Kafka({ clientId: 'fault-tests', brokers: brokers.split(','), logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    return (await admin.fetchTopicOffsets(topic)).reduce((sum, p) => sum + Number(p.high), 0);
  } finally {
    await admin.disconnect();
  }
}

/** The tasks that `job`'s `/metrics` reports, per per-task series. */
async function taskSeries(job: Job): Promise<{ windowsOpen: string[]; watermark: string[]; restored: { task: string; source: string }[] }> {
  const text = await (await fetch(`http://127.0.0.1:${job.port}/metrics`, { signal: AbortSignal.timeout(5_000) })).text();
  const tasksOf = (metric: string): string[] => [...text.matchAll(new RegExp(`^${metric}\\{task="([^"]+)"\\} `, 'gm'))].map((m) => m[1]!);
  const restored = [...text.matchAll(/^stream_processor_task_restore_seconds\{task="([^"]+)",source="([^"]+)"\} /gm)].map((m) => ({ task: m[1]!, source: m[2]! }));
  return { windowsOpen: tasksOf('stream_processor_task_windows_open'), watermark: tasksOf('stream_processor_task_watermark_seconds'), restored };
}
