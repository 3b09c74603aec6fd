/**
 * Crash recovery in Kafka mode (issue 4): CLI processes SIGKILLed at random points after
 * checkpoints, several times, then restarted to the end. After de-duplication by
 * (key, window, revision) their results must equal an uninterrupted run's, with no window
 * lost and every dead letter present.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createRandom, generateEvents } from '../../scripts/generate-sample.js';
import { ensureTopics } from '../../src/kafka/index.js';
import { exited, onStderrLine, startCli } from '../support/cli.js';
import { brokers, committedTotal, produce, readAll, unique } from './helpers.js';
import { tempDir } from '../support/temp-dir.js';

const T0 = Date.UTC(2026, 10, 26, 10);

interface Names {
  readonly group: string;
  readonly results: string;
  readonly deadLetters: string;
}

/** A config file `<file>.yaml`; runs that share `state` share the LevelDB folder (one instance, restarted). */
function writeConfig(dir: string, file: string, state: string, input: string, names: Names): string {
  const path = join(dir, `${file}.yaml`);
  writeFileSync(
    path,
    `processor:
  source: { type: kafka }
  sink: { type: kafka }
  dead_letter: { type: kafka }
  state: { backend: level, path: ${join(dir, `${state}-state`)} }
  checkpoint_interval_secs: 1
  windows: { default_type: tumbling, tumbling: { size_secs: 60, allowed_lateness_secs: 60 } }
  # No idleness within the test: a partition turning idle lets the watermark follow
  # processing time, which would make lateness depend on how long a restart took.
  watermark: { max_out_of_orderness_secs: 30, idle_timeout_secs: 3600 }
  kafka:
    consumer: { bootstrap_servers: "${brokers()}", group_id: ${names.group}, topics: [${input}] }
    producer: { result_topic: ${names.results}, dead_letter_topic: ${names.deadLetters} }
    topic_partitions: 1
  metrics: { port: 0 }
  log: { level: debug }
`,
  );
  return path;
}

interface RunOutcome {
  code: number | string;
  resumed: boolean;
  checkpoints: number;
  stderr: string[];
}

/**
 * Runs the CLI. With `killAfterReady`, SIGKILLs it that many ms after it is ready
 * (state restored); otherwise SIGTERMs it once it is ready and the group's committed
 * offset reaches `end` (every input record is in a complete checkpoint, its results flushed).
 */
async function run(config: string, group: string, input: string, end: number, killAfterReady?: number): Promise<RunOutcome> {
  const child = startCli(['--config', config]);
  const stderr: string[] = [];
  let checkpoints = 0;
  let resumed = false;
  let ready = false;
  let killDue = false;
  // A run that starts without a checkpoint is killed only after its first one, so that later
  // runs resume (a busy machine can take longer than the kill's delay to the first
  // checkpoint; kills before any checkpoint are the start-up kills of faults/kill.test.ts).
  // A resumed run is killed by the clock alone: at the end of the input it takes no further
  // checkpoint (no new records), and must still be killed.
  const killWhenDue = (): void => {
    if (killDue && (resumed || checkpoints > 0)) child.kill('SIGKILL');
  };
  onStderrLine(child, (line) => {
    stderr.push(line);
    if (line.includes('"ready: state restored')) {
      ready = true;
      if (killAfterReady !== undefined) {
        setTimeout(() => {
          killDue = true;
          killWhenDue();
        }, killAfterReady);
      }
    }
    if (line.includes('"resuming from checkpoint"')) {
      resumed = true;
      killWhenDue();
    }
    if (line.includes('"checkpoint complete"')) {
      checkpoints++;
      killWhenDue();
    }
  });
  const code = exited(child);
  if (killAfterReady === undefined) {
    let ended = false;
    void code.then(() => (ended = true));
    // A restart in the group of a killed member first waits out that member's session (30 s).
    const deadline = Date.now() + 90_000;
    // Ready first: a SIGTERM before the process installed its handlers would kill it, and
    // the committed offset may already be at the end when an earlier run got that far.
    while (!ended && (!ready || (await committedTotal(group, input)) < end)) {
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`run with ${config} did not commit offset ${end} within 90 s; stderr tail:\n${stderr.slice(-20).join('\n')}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    // Graceful stop: final checkpoint, then exit 0.
    if (!ended) child.kill('SIGTERM');
  }
  return { code: await code, resumed, checkpoints, stderr };
}

interface Result {
  key: { model: string };
  window: { start: number; end: number };
  revision: number;
  emitted_at: number;
}

/** (key, window, revision) → the result without `emitted_at`; duplicates must be identical. */
function dedupe(values: string[], what: string): Map<string, string> {
  const out = new Map<string, string>();
  const conflicts: string[] = [];
  for (const value of values) {
    const r = JSON.parse(value) as Result;
    const id = `${r.key.model}@${r.window.start}#${r.revision}`;
    const body = value.replace(/"emitted_at":\d+,/, '');
    const previous = out.get(id);
    if (previous !== undefined && previous !== body) conflicts.push(`${id}:\n  ${previous}\n  ${body}`);
    out.set(id, body);
  }
  expect(conflicts, `${what}: repeats of one (key, window, revision) with different aggregates`).toEqual([]);
  return out;
}

/** Dead letters by (raw, offset): a replay after a crash writes them again. */
function deadLetterSet(values: string[]): Set<string> {
  return new Set(
    values.map((v) => {
      const d = JSON.parse(v) as { reason: string; raw: string; offset?: string };
      return JSON.stringify([d.reason, d.raw, d.offset]);
    }),
  );
}

describe('Kafka mode crash recovery (real broker)', () => {
  it('results after SIGKILLs at random points equal an uninterrupted run once de-duplicated', async () => {
    const dir = tempDir('kafka-crash-');
    // One input partition: the uninterrupted run is then deterministic. With several
    // partitions the interleaving of their records, and so which records are late (and
    // which revisions exist), differs from run to run, and no two runs could be compared.
    const input = unique('crash-events');
    await ensureTopics({ brokers: brokers() }, [{ topic: input, numPartitions: 1 }]);
    const lines = generateEvents({ count: 150_000, seed: 17, startMs: T0, durationMs: 12 * 3_600_000, invalidPerKind: 20 });
    // Far in the future: fires every window, so the end of the input is visible in the output.
    lines.push(JSON.stringify({ timestamp: T0 + 86_400_000, model: 'sentinel', metrics: {} }));
    await produce(input, lines.map((value) => ({ key: null, value })));

    const reference: Names = { group: unique('crash-ref-group'), results: unique('crash-ref-results'), deadLetters: unique('crash-ref-dlq') };
    const crashedTopics = { results: unique('crash-results'), deadLetters: unique('crash-dlq') };
    const referenceConfig = writeConfig(dir, 'reference', 'reference', input, reference);

    // The uninterrupted run goes alongside the crashing ones (its own group, topics and state).
    const referenceRun = run(referenceConfig, reference.group, input, lines.length);

    // Each killed process starts in a group of its own. The broker keeps a SIGKILLed member
    // in its group until its session times out (30 s), and the restarted member's join waits
    // for that; three of those would not fit the test's time. Recovery does not depend on the
    // group: the restarted job seeks to the positions of its last complete checkpoint (a fresh
    // group without that seek would start from the beginning and double-count, which this
    // test would catch). The final run restarts in the last killed run's group, so the real
    // case, a crashed member rejoining its own group, is covered once.
    const seed = Date.now() % 100_000;
    const random = createRandom(seed);
    let kills = 0;
    let resumes = 0;
    let crashed: Names | undefined;
    for (let attempt = 0; attempt < 3; attempt++) {
      crashed = { group: unique('crash-group'), ...crashedTopics };
      const config = writeConfig(dir, `crashed-${attempt}`, 'crashed', input, crashed);
      const outcome = await run(config, crashed.group, input, lines.length, 300 + Math.floor(random() * 2_000));
      if (outcome.resumed) resumes++;
      expect(outcome.code, `seed ${seed}: a run to be killed ended by itself; stderr tail:\n${outcome.stderr.slice(-10).join('\n')}`).toBe('SIGKILL');
      kills++;
    }
    const final = await run(writeConfig(dir, 'crashed-final', 'crashed', input, crashed!), crashed!.group, input, lines.length);
    if (final.resumed) resumes++;
    const ref = await referenceRun;
    expect(ref.code, `reference run exit; stderr tail:\n${ref.stderr.slice(-10).join('\n')}`).toBe(0);
    expect(final.code, `seed ${seed}: final run exit; stderr tail:\n${final.stderr.slice(-10).join('\n')}`).toBe(0);
    expect(kills).toBe(3);
    // The first run is killed after its first checkpoint, so every later run resumes.
    expect(resumes, `seed ${seed}: runs that resumed from a checkpoint`).toBe(3);

    const [refResults, crashedResults, refDlq, crashedDlq] = await Promise.all([
      readAll(reference.results),
      readAll(crashedTopics.results),
      readAll(reference.deadLetters),
      readAll(crashedTopics.deadLetters),
    ]);
    const want = dedupe(refResults.map((m) => m.value), 'reference');
    expect(want.size, 'the reference repeats nothing').toBe(refResults.length);
    const got = dedupe(crashedResults.map((m) => m.value), `seed ${seed}`);
    const missing = [...want.keys()].filter((id) => !got.has(id));
    const extra = [...got.keys()].filter((id) => !want.has(id));
    expect(missing, `seed ${seed}: results of the uninterrupted run missing after the crashes`).toEqual([]);
    expect(extra, `seed ${seed}: results the uninterrupted run does not have`).toEqual([]);
    const different = [...want].filter(([id, body]) => got.get(id) !== body).map(([id]) => id);
    expect(different, `seed ${seed}: results whose aggregates differ from the uninterrupted run`).toEqual([]);
    expect([...want.keys()].some((id) => !id.endsWith('#0')), 'the input has late-accepted updates').toBe(true);

    const wantDlq = deadLetterSet(refDlq.map((m) => m.value));
    const gotDlq = deadLetterSet(crashedDlq.map((m) => m.value));
    expect(wantDlq.size).toBe(refDlq.length);
    expect([...wantDlq].some((d) => d.includes('too_late'))).toBe(true);
    expect([...gotDlq].sort(), `seed ${seed}: dead letters`).toEqual([...wantDlq].sort());
  }, 240_000);
});
