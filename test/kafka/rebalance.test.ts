/**
 * Two instances of the Kafka job in one consumer group (issue 3: "a second instance in
 * the same group takes over half the partitions"; "every window's result produced, none
 * lost on rebalance"). The second instance joins while the first is consuming.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig, type ProcessorConfig } from '../../src/config/index.js';
import { ensureTopics, type AssignmentChange, type KafkaSource } from '../../src/kafka/index.js';
import { createLogger } from '../../src/observability/index.js';
import { runKafkaJob } from '../../src/runner/kafka-job.js';
import type { JobSummary } from '../../src/runner/job-stats.js';
import { brokers, produce, unique, waitFor } from './helpers.js';
import { tempDir } from '../support/temp-dir.js';

const PARTITIONS = 4;
const MODELS = 12;
const SIZE_MS = 10_000;
const T0 = Date.UTC(2026, 10, 26, 10);
/** Batches produced one after another while the instances run; each batch spans 2 s of event time. */
const BATCHES = 40;
const PER_BATCH = 150;
const BATCH_SPAN_MS = 2_000;

interface Output {
  key: { model: string };
  window: { start: number; end: number };
  revision: number;
  event_count: number;
}

interface Instance {
  readonly name: string;
  readonly dir: string;
  readonly stop: AbortController;
  readonly done: Promise<JobSummary>;
  readonly changes: AssignmentChange[];
  source?: KafkaSource;
}

function jobConfig(dir: string, groupId: string, input: string, checkpointSecs: number): ProcessorConfig {
  return parseConfig(
    {
      processor: {
        source: { type: 'kafka' },
        sink: { type: 'file', path: join(dir, 'results.ndjson') },
        dead_letter: { type: 'file', path: join(dir, 'dlq.ndjson') },
        state: { backend: 'level', path: join(dir, 'state') },
        checkpoint_interval_secs: checkpointSecs,
        // A large allowed lateness: records of a partition read behind the others (or read
        // again after the handover) update their window instead of being dropped, so the
        // final revision of each window is comparable with a brute-force count.
        windows: { default_type: 'tumbling', tumbling: { size_secs: SIZE_MS / 1000, allowed_lateness_secs: 3_600 } },
        // A long idle timeout: a revoked partition must stop holding the old owner's
        // watermark back at once (assignWatermarks `assigned`), not after idleness.
        watermark: { max_out_of_orderness_secs: 0, idle_timeout_secs: 600 },
        kafka: { consumer: { group_id: groupId, topics: [input] } },
        metrics: { port: 0 },
        log: { level: 'silent' },
      },
    },
    { PROCESSOR_KAFKA_BROKERS: brokers() },
  );
}

function startJob(name: string, groupId: string, input: string, checkpointSecs = 1): Instance {
  const dir = tempDir(`kafka-rebalance-${name}-`);
  const stop = new AbortController();
  const changes: AssignmentChange[] = [];
  const instance: Instance = {
    name,
    dir,
    stop,
    changes,
    done: runKafkaJob({
      config: jobConfig(dir, groupId, input, checkpointSecs),
      signal: stop.signal,
      logger: createLogger({ level: 'silent' }),
      onAssignment: (change) => changes.push(change),
      onSource: (s) => (instance.source = s),
    }),
  };
  return instance;
}

describe('two Kafka job instances in one group (real broker)', () => {
  it('both get partitions, and every window of the input has a final result with at least its true count', async () => {
    const input = unique('rb-events');
    const groupId = unique('rb-group');
    await ensureTopics({ brokers: brokers() }, [{ topic: input, numPartitions: PARTITIONS }]);

    // Events in event-time order, keyed (and partitioned) by model: model i on partition i mod 4.
    const batches: { key: string; value: string; partition: number }[][] = [];
    const truth = new Map<string, number>();
    let n = 0;
    for (let b = 0; b < BATCHES; b++) {
      const batch: { key: string; value: string; partition: number }[] = [];
      for (let i = 0; i < PER_BATCH; i++, n++) {
        const m = n % MODELS;
        const model = `m-${m}`;
        const timestamp = T0 + b * BATCH_SPAN_MS + Math.floor((i * BATCH_SPAN_MS) / PER_BATCH);
        batch.push({ key: model, partition: m % PARTITIONS, value: JSON.stringify({ timestamp, model, metrics: { latency_ms: n % 500 } }) });
        const id = `${model}@${timestamp - (timestamp % SIZE_MS)}`;
        truth.set(id, (truth.get(id) ?? 0) + 1);
      }
      batches.push(batch);
    }
    const total = n + PARTITIONS;

    const a = startJob('a', groupId, input);
    let b: Instance | undefined;
    try {
      await waitFor('instance a to get its partitions', () => a.changes.length > 0);
      expect(a.changes[0]!.current.length).toBe(PARTITIONS);
      for (let i = 0; i < BATCHES; i++) {
        await produce(input, batches[i]!);
        // The second instance joins a third of the way in, while the first is consuming
        // and after it has committed some checkpoints (the new owner starts from those offsets).
        if (i === Math.floor(BATCHES / 3)) b = startJob('b', groupId, input);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      await waitFor('instance b to get partitions', () => b!.changes.some((c) => c.current.length > 0), 30_000);
      await waitFor('instance a to give partitions up', () => a.changes.some((c) => c.revoked.length > 0), 30_000);
      // One sentinel per partition, far in the future: fires every window of its owner.
      await produce(
        input,
        Array.from({ length: PARTITIONS }, (_, p) => ({ key: 'sentinel', partition: p, value: JSON.stringify({ timestamp: T0 + 86_400_000, model: 'sentinel', metrics: {} }) })),
      );
      // Done when every message was handed over (some twice: at-least-once), nothing is in
      // flight and the result files stopped growing for a while.
      await waitFor('every message handed over', () => a.source!.stats().handedOver + b!.source!.stats().handedOver >= total, 30_000);
      let lastSize = -1;
      let stableSince = Date.now();
      await waitFor(
        'the results to stop growing',
        () => {
          const size = resultLines(a.dir).length + resultLines(b!.dir).length;
          if (size !== lastSize) {
            lastSize = size;
            stableSince = Date.now();
          }
          return a.source!.inFlight === 0 && b!.source!.inFlight === 0 && Date.now() - stableSince > 3_000;
        },
        30_000,
      );
    } finally {
      a.stop.abort();
      b?.stop.abort();
      await Promise.allSettled([a.done, b?.done]);
    }
    await a.done;
    await b!.done;

    // Both instances own partitions at the end, and between them all four.
    const finalA = a.changes.at(-1)!.current.map((tp) => tp.partition);
    const finalB = b!.changes.at(-1)!.current.map((tp) => tp.partition);
    expect(finalA.length, `a's partitions ${finalA}`).toBeGreaterThan(0);
    expect(finalB.length, `b's partitions ${finalB}`).toBeGreaterThan(0);
    expect([...finalA, ...finalB].sort()).toEqual([0, 1, 2, 3]);

    // Per instance, the last revision of each window; then summed over the instances.
    const finals = [a, b!].map((instance) => {
      const last = new Map<string, Output>();
      for (const o of resultLines(instance.dir)) {
        if (o.key.model === 'sentinel') continue;
        const id = `${o.key.model}@${o.window.start}`;
        if ((last.get(id)?.revision ?? -1) < o.revision) last.set(id, o);
      }
      return last;
    });
    const lost: string[] = [];
    const short: string[] = [];
    for (const [id, count] of truth) {
      const got = finals.map((f) => f.get(id)?.event_count ?? 0);
      if (got.every((c) => c === 0)) lost.push(id);
      // At-least-once: records the old owner processed after its last checkpoint are
      // processed again by the new owner, so the sum may exceed the true count, never fall short.
      else if (got[0]! + got[1]! < count) short.push(`${id}: a ${got[0]} + b ${got[1]} < ${count}`);
    }
    expect(lost, 'windows without any result').toEqual([]);
    expect(short, 'windows whose results miss records').toEqual([]);
    const unexpected = [...new Set([...finals[0]!.keys(), ...finals[1]!.keys()])].filter((id) => !truth.has(id));
    expect(unexpected, 'results for windows the input does not have').toEqual([]);
    // No dead letters: every record is valid and nothing is too late.
    expect(readLines(join(a.dir, 'dlq.ndjson')).length + readLines(join(b!.dir, 'dlq.ndjson')).length).toBe(0);
  }, 90_000);
  it('a member that keeps a partition through a rebalance does not count its records twice', async () => {
    const input = unique('rb-keep-events');
    const groupId = unique('rb-keep-group');
    await ensureTopics({ brokers: brokers() }, [{ topic: input, numPartitions: 2 }]);
    // Two models, one per partition, 60 s of event time: six windows each.
    const sent: { key: string; value: string; partition: number }[] = [];
    const truth = new Map<string, number>();
    for (let i = 0; i < 1_200; i++) {
      const p = i % 2;
      const model = `m-${p}`;
      const timestamp = T0 + i * 50;
      sent.push({ key: model, partition: p, value: JSON.stringify({ timestamp, model, metrics: { latency_ms: i } }) });
      const id = `${model}@${timestamp - (timestamp % SIZE_MS)}`;
      truth.set(id, (truth.get(id) ?? 0) + 1);
    }
    await produce(input, sent);
    // No checkpoint completes before the rebalance (60 s interval), so nothing is committed:
    // whatever `a` read before `b` joined is in a's window state only.
    const a = startJob('a', groupId, input, 60);
    let b: Instance | undefined;
    try {
      await waitFor('instance a to read the input', () => a.source !== undefined && a.source.stats().handedOver >= sent.length);
      b = startJob('b', groupId, input, 60);
      await waitFor('instance b to get a partition', () => b!.changes.some((c) => c.current.length > 0), 30_000);
      await waitFor('instance a to give one up', () => a.changes.some((c) => c.revoked.length > 0), 30_000);
      await produce(input, [0, 1].map((p) => ({ key: 'sentinel', partition: p, value: JSON.stringify({ timestamp: T0 + 86_400_000, model: 'sentinel', metrics: {} }) })));
      const kept = a.changes.at(-1)!.current.map((tp) => `m-${tp.partition}`);
      expect(kept.length).toBe(1);
      // The outputs are flushed on stop: wait for the sentinel to reach `a`, then stop and read.
      await waitFor('a to read its sentinel', () => a.source!.stats().handedOver > sent.length && a.source!.inFlight === 0, 20_000);
      a.stop.abort();
      await a.done;
      const last = new Map<string, Output>();
      for (const o of resultLines(a.dir)) {
        if (o.key.model !== kept[0]) continue;
        const id = `${o.key.model}@${o.window.start}`;
        if ((last.get(id)?.revision ?? -1) < o.revision) last.set(id, o);
      }
      const wrong = [...truth].filter(([id]) => id.startsWith(`${kept[0]}@`)).filter(([id, count]) => last.get(id)?.event_count !== count);
      expect(
        wrong.map(([id, count]) => `${id}: ${last.get(id)?.event_count} (revision ${last.get(id)?.revision}) instead of ${count}`),
        'windows of the kept partition whose final count is not the true count',
      ).toEqual([]);
    } finally {
      a.stop.abort();
      b?.stop.abort();
      await Promise.allSettled([a.done, b?.done]);
    }
  }, 60_000);
});

function readLines(path: string): string[] {
  try {
    return readFileSync(path, 'utf8').split('\n').filter((l) => l !== '');
  } catch {
    return [];
  }
}

const resultLines = (dir: string): Output[] => readLines(join(dir, 'results.ndjson')).map((l) => JSON.parse(l) as Output);
