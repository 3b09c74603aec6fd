/**
 * Fault suite, scale-out (issue 9): three instances of one group (own state folders, same
 * output topics) on a 6-partition input, while 1,000,000 events flow in at a controlled rate
 * (`RATE`): A and B start, C joins late, B is SIGKILLed (the group keeps it until its 30 s
 * session timeout), A leaves with SIGTERM and comes back on its own state folder, and the
 * last `AFTER_RETURN` events are produced only once A is back. Each of these happens
 * mid-stream, which the test asserts: input was still to come, and the group's committed
 * offsets had moved on since the previous one. After the sentinels, the final revision of
 * every (key, window) must equal the brute-force model, which is what one uninterrupted
 * instance gives (no record is late), so every valid record is counted once; repeats of a
 * (key, window, revision) must be identical, nothing may be late or dead-lettered, and the
 * group's committed offsets must reach the end of what the tasks read. Prints every restore
 * the instances logged ('tasks restored': where from, how long) and the timeline.
 *
 * Twice: input keyed by the key fields (read directly), and unkeyed input (null message
 * keys, round-robin), which `kafka.repartition: auto` must decide to repartition: each
 * instance then also runs the repartition stage, in group `<group>-repartitioner`, and the
 * SIGKILLed B stays in both groups until its session timeout. The stage produces again what
 * B had repartitioned but not committed; the tasks must drop those copies. Unkeyed event
 * times increase over the whole input (1 ms an event: 1,000 s), which spans less than
 * out-of-orderness + lateness (600 s + 900 s), so no interleaving of the repartitioned
 * partitions makes a record late; the idle timeout (60 s) is longer than any stall of the run.
 * The sentinels come once the stage has committed the whole input: behind them, a backlog
 * would (rightly) be late.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { onStderrLine } from '../support/cli.js';
import { Kafka, logLevel } from 'kafkajs';
import {
  Flow, Job, type InputMode, type Sent, bruteForceModel, checkRun, committedTotal, finish, produce, sleep, waitUntil, writeConfig, cleanUp, outputs, scenario, track,
} from './harness.js';

const PARTITIONS = 6;
/** Valid events per run (the sentinels come on top). */
const TOTAL = 1_000_000;
/** Events a second the input flows at (at most: a busy machine produces slower). */
const RATE = 12_000;
/** Events per partition before anyone starts: `auto` decides from them. */
const PREFILL = 100;
/** Events produced only once A is back, so that it rejoins mid-stream. */
const AFTER_RETURN = 300_000;
/** How far the input has flowed when C joins, B is SIGKILLed and A leaves. */
const MILESTONES = { cJoins: 100_000, bKilled: 300_000, aLeaves: 400_000 } as const;
/** Out-of-orderness and lateness of the unkeyed run: the input must span less than their sum. */
const UNKEYED_TIME = { maxOutOfOrdernessSecs: 600, allowedLatenessSecs: 900, idleTimeoutSecs: 60 } as const;
/** Alone a run takes ~2 min; on a machine running other suites at once it took up to 6.5 min. */
const TIMEOUT_MS = 600_000;

afterEach(cleanUp);

interface Restore {
  readonly instance: string;
  readonly ms: number;
  readonly tasks: { partition: number; from: string; windows: number }[];
}

describe('fault suite: scale-out', () => {
  it('three instances, 1M events keyed by the key fields: one joins late, one is SIGKILLed, one leaves with SIGTERM and comes back', () => threeInstances('keyed'), TIMEOUT_MS);
  it('three instances, 1M unkeyed events repartitioned: one joins late, one is SIGKILLed, one leaves with SIGTERM and comes back', () => threeInstances('unkeyed'), TIMEOUT_MS);
});

/** The choreography, on input of `mode`. */
async function threeInstances(mode: InputMode): Promise<void> {
  const began = Date.now();
  const unkeyed = mode === 'unkeyed';
  const { label, gen, t, dir } = await scenario(unkeyed ? 'scale-out-unkeyed' : 'scale-out', inject('kafkaBrokers'), PARTITIONS, mode);
  const repartitionTopic = `${t.group}-repartition`;
  const taskTopic = unkeyed ? repartitionTopic : t.input;
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

  // Some input before anyone starts: `auto` decides from it (empty input is read directly).
  const sent: Sent[] = await produce(t.brokers, t.input, gen.batch(PREFILL));
  const a = start('A', 'A');
  const b = start('B', 'B');
  await Promise.all([a.waitReady(), b.waitReady()]);

  /** Each event of the choreography: when, how far the input had flowed, what the group had committed. */
  const timeline: { event: string; s: number; produced: number; committed: number }[] = [];
  const flowBegan = Date.now();
  const flow = new Flow(t.brokers, t.input, gen, TOTAL - PREFILL * PARTITIONS - AFTER_RETURN, RATE, sent);
  let rest: Flow | undefined;
  const produced = (): number => PREFILL * PARTITIONS + flow.produced + (rest?.produced ?? 0);
  /** Asserts that `event` happens mid-stream: input still to come, and the group moved on since the previous event. */
  const midStream = async (event: string, progressed = true): Promise<void> => {
    const committed = await committedTotal(t, taskTopic);
    const previous = timeline[timeline.length - 1]?.committed ?? 0;
    timeline.push({ event, s: Math.round((Date.now() - flowBegan) / 1000), produced: produced(), committed });
    expect(produced(), `${label}: ${event} while input is still to come`).toBeLessThan(TOTAL);
    if (progressed) expect(committed, `${label}: the group's committed offsets moved on before ${event}`).toBeGreaterThan(previous);
  };

  // C joins while input flows.
  await flow.reached(MILESTONES.cJoins);
  await midStream('C joins');
  const c = start('C', 'C');
  await c.waitReady();

  // B is SIGKILLed mid-stream; A leaves with SIGTERM while the group still waits for B, and comes back.
  await flow.reached(MILESTONES.bKilled);
  await midStream('B SIGKILLed');
  await b.stop('SIGKILL');
  await flow.reached(MILESTONES.aLeaves);
  await midStream('A SIGTERMed');
  const aStop = await a.stop('SIGTERM', 60_000);
  expect(aStop.code, `${label}: A's exit code after SIGTERM (${aStop.ms} ms)\n${a.tail()}`).toBe(0);
  const a2 = start('A (back)', 'A');
  await a2.waitReady(120_000);
  // The group may still have been rebalancing since A left: no progress required here.
  await midStream('A back', false);
  await flow.done;
  rest = new Flow(t.brokers, t.input, gen, AFTER_RETURN, RATE, sent);
  await rest.done;
  const flowSecs = Math.round((Date.now() - flowBegan) / 1000);
  expect(sent.length, `${label}: valid events produced`).toBe(TOTAL);
  if (unkeyed) expect(gen.span(), `${label}: the unkeyed input spans less than out-of-orderness + lateness`).toBeLessThan((UNKEYED_TIME.maxOutOfOrdernessSecs + UNKEYED_TIME.allowedLatenessSecs) * 1000);

  if (unkeyed) {
    // The sentinels must reach the repartition topic after every record, or they would (rightly)
    // make the records the stage has still to repartition late: wait until it committed the input.
    const stage = { ...t, group: `${t.group}-repartitioner` };
    let committed = 0;
    await waitUntil(`${label}: the repartition stage to commit the whole input`, async () => (committed = await committedTotal(stage)) >= TOTAL, 240_000, () => `committed ${committed}`, 1_000);
  }
  await finish(t, sent, gen, results, 150_000);
  const finished = Date.now();
  // Per-task metrics: each task is reported by its current owner alone (a revoked task's series went).
  await sleep(1_500);
  for (const job of [a2, c]) expect(job.running, `${label}: ${job.name} exited by itself (${String(job.exitCode)})\n${job.tail(30)}`).toBe(true);
  const reported = await Promise.all([a2, c].map((job) => taskSeries(job)));
  const tasks = reported.flatMap((r) => r.windowsOpen);
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
  // Every record the tasks read is behind the committed offsets: nothing left for another run.
  expect(await committedTotal(t, taskTopic), `${label}: committed offsets on ${taskTopic}`).toBe(await endOffsets(t.brokers, taskTopic));

  await results.caughtUp();
  await deadLetters.caughtUp();
  const summary = restores.map((r) => `${r.instance}: ${r.ms} ms, ${r.tasks.map((x) => `p${x.partition} ${x.from} (${x.windows} windows)`).join(', ')}`);
  const valid = sent.filter((s) => s.kind !== 'poison').length;
  const copies = unkeyed ? `; repartition topic: ${(await endOffsets(t.brokers, repartitionTopic)) - valid} copies of ${valid} records, dropped by A (back) and C's tasks: ${(duplicates.get('A (back)') ?? 0) + (duplicates.get('C') ?? 0)}` : '';
  console.log(
    `${label}: ${sent.length} records, ${results.messages.size} results for ${bruteForceModel(sent).size} windows; ${Math.round((Date.now() - began) / 1000)} s in all ` +
      `(input flowed ${flowSecs} s, every result there ${Math.round((finished - flowBegan) / 1000)} s after the flow began)${copies}\n` +
      `timeline:\n  ${timeline.map((e) => `${e.s} s: ${e.event} (produced ${e.produced}, committed ${e.committed})`).join('\n  ')}\n` +
      `decisions:\n  ${[...decisions].map(([n, d]) => `${n}: ${d}`).join('\n  ')}\nrestores:\n  ${summary.join('\n  ')}`,
  );
  for (const name of ['A', 'B', 'C', 'A (back)']) expect(owned.get(name)!.size, `${label}: ${name} was never assigned a partition`).toBeGreaterThan(0);
  for (const name of ['A', 'B', 'C', 'A (back)']) expect(decisions.get(name), `${label}: ${name}'s repartition decision`).toMatch(unkeyed ? /^repartitioning the input: / : /^reading the input directly: /);
  // A and B start together: whichever decides first samples the input (the other may find the topic it made).
  if (unkeyed) expect([decisions.get('A'), decisions.get('B')].some((d) => /has key null, not its key fields/.test(d ?? '')), `${label}: A's or B's reason`).toBe(true);
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
