/**
 * Repartitioning on the real broker (src/repartition): input with null message keys,
 * round-robin over 4 partitions, so every key's records are spread over every partition.
 * Event times increase strictly per key across the whole input, and all of it spans less
 * than the out-of-orderness bound plus the allowed lateness: no record can be late however
 * the repartition topic interleaves the partitions, so the final revision of every
 * (key, window) must equal a brute-force model exactly, crash or not.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/index.js';
import { ensureTopics, type KafkaSource } from '../../src/kafka/index.js';
import { createLogger } from '../../src/observability/index.js';
import { decideRepartition, judgeSample } from '../../src/repartition/decide.js';
import { repartitionTopicOf } from '../../src/repartition/repartitioner.js';
import { runKafkaJob } from '../../src/runner/kafka-job.js';
import { bruteQuantile, bruteStats, expectClose } from '../support/brute-force.js';
import { exited, onStderrLine, startCli } from '../support/cli.js';
import { tempDir } from '../support/temp-dir.js';
import { mulberry32 } from '../aggregation/random.js';
import { brokers, committedTotal, produce, rawKafka, readAll, unique, waitFor } from './helpers.js';

const PARTITIONS = 4;
const T0 = Date.UTC(2026, 10, 26, 10);
const WINDOW_MS = 10_000;
/** Sentinel keys, far in the future: enough that every repartition partition gets one (a miss: 4·(3/4)^64). */
const SENTINELS = 64;
const INVALID = 10;
const PERCENTILES = [50, 95, 99];

const settings = `
  windows: { default_type: tumbling, tumbling: { size_secs: ${WINDOW_MS / 1000}, allowed_lateness_secs: 60 } }
  watermark: { max_out_of_orderness_secs: 30, idle_timeout_secs: 60 }
  aggregation: { enabled: [count, sum, average, min, max, percentile, stddev], percentiles: [${PERCENTILES.join(', ')}] }`;

interface Event {
  readonly model: string;
  readonly timestamp: number;
  readonly latency: number;
}

/** `count` events, one ms apart (< 90 s in all: no record can be late), over `keys` models. */
function events(count: number, keys: number, seed: number): Event[] {
  const rnd = mulberry32(seed);
  return Array.from({ length: count }, (_, i) => ({ model: `m${Math.floor(rnd() * keys)}`, timestamp: T0 + i, latency: Math.round(rnd() * 20_000) / 10 }));
}

const line = (e: Event): string => JSON.stringify({ timestamp: e.timestamp, model: e.model, metrics: { latency_ms: e.latency } });

/** Null keys, round-robin, with a few invalid lines among them. */
async function produceUnkeyed(topic: string, input: readonly Event[]): Promise<void> {
  const messages = input.map((e, i) => ({ key: null, value: line(e), partition: i % PARTITIONS }));
  for (let i = 0; i < INVALID; i++) messages.splice(i * 997, 0, { key: null, value: `not json ${i}`, partition: i % PARTITIONS });
  await produce(topic, messages);
}

async function produceSentinels(topic: string): Promise<void> {
  const far = T0 + 86_400_000;
  await produce(topic, Array.from({ length: SENTINELS }, (_, i) => ({ key: null, partition: i % PARTITIONS, value: JSON.stringify({ timestamp: far, model: `sentinel-${i}`, metrics: {} }) })));
}

interface Output {
  key: { model: string };
  window: { start: number };
  revision: number;
  event_count: number;
  metrics: Record<string, Record<string, number>>;
}

/** The final revision of every (key, window) equals the brute-force statistics of its events. */
function expectModel(outputs: readonly string[], input: readonly Event[]): void {
  const last = new Map<string, Output>();
  for (const value of outputs) {
    const o = JSON.parse(value) as Output;
    const id = `${o.key.model}@${o.window.start}`;
    if ((last.get(id)?.revision ?? -1) <= o.revision) last.set(id, o);
  }
  const model = new Map<string, number[]>();
  for (const e of input) {
    const id = `${e.model}@${e.timestamp - (e.timestamp % WINDOW_MS)}`;
    model.set(id, [...(model.get(id) ?? []), e.latency]);
  }
  expect([...last.keys()].filter((id) => !id.startsWith('sentinel')).sort()).toEqual([...model.keys()].sort());
  for (const [id, values] of model) {
    const got = last.get(id)!;
    expect(got.event_count, id).toBe(values.length);
    const m = got.metrics['latency_ms']!;
    const want = bruteStats(values);
    expect([m['count'], m['min'], m['max']], id).toEqual([want.count, want.min, want.max]);
    expectClose(m['sum']!, want.sum);
    expectClose(m['avg']!, want.avg);
    expectClose(m['stddev']!, want.stddev, 1e-7);
    for (const p of PERCENTILES) expectClose(m[`p${p}`]!, bruteQuantile(values, p / 100));
  }
}

async function endOffsets(topic: string): Promise<number> {
  const admin = rawKafka().admin();
  await admin.connect();
  try {
    return (await admin.fetchTopicOffsets(topic)).reduce((sum, p) => sum + Number(p.high), 0);
  } finally {
    await admin.disconnect();
  }
}

describe('repartitioning (real broker)', () => {
  it('auto reads keyed input directly and repartitions unkeyed input, saying why', async () => {
    const keyed = unique('rp-keyed');
    const unkeyed = unique('rp-unkeyed');
    await ensureTopics({ brokers: brokers() }, [keyed, unkeyed].map((topic) => ({ topic, numPartitions: PARTITIONS })));
    const input = events(400, 8, 3);
    await produce(keyed, input.map((e, i) => ({ key: e.model, value: line(e), partition: i % PARTITIONS })));
    await produceUnkeyed(unkeyed, input);
    const config = (topic: string) => parseConfig({ processor: { kafka: { consumer: { group_id: unique('rp-decide'), topics: [topic] } } } }, { PROCESSOR_KAFKA_BROKERS: brokers() });
    const direct = await decideRepartition(config(keyed), unique('rp-none'));
    expect(direct).toMatchObject({ repartition: false });
    expect(direct.reason).toMatch(/keyed by their key fields/);
    const repartitioned = await decideRepartition(config(unkeyed), unique('rp-none'));
    expect(repartitioned).toMatchObject({ repartition: true });
    expect(repartitioned.reason).toMatch(/has key null, not its key fields/);
    // Nothing valid to judge: read directly, and the reason says how to force it.
    expect(judgeSample([{ topic: 't', partition: 0, offset: '0', key: null, value: 'not json' }], config(keyed)).reason).toMatch(/kafka.repartition: always/);
  }, 60_000);

  it('unkeyed input over 4 partitions: the final revision of every (key, window) equals brute force', async () => {
    const input = unique('rp-events');
    const results = unique('rp-results');
    const group = unique('rp-group');
    await ensureTopics({ brokers: brokers() }, [{ topic: input, numPartitions: PARTITIONS }]);
    const sent = events(40_000, 80, 11);
    await produceUnkeyed(input, sent);
    const config = parseConfig(
      {
        processor: {
          source: { type: 'kafka' },
          sink: { type: 'kafka' },
          dead_letter: { type: 'kafka' },
          state: { backend: 'memory' },
          windows: { default_type: 'tumbling', tumbling: { size_secs: WINDOW_MS / 1000, allowed_lateness_secs: 60 } },
          watermark: { max_out_of_orderness_secs: 30, idle_timeout_secs: 60 },
          aggregation: { percentiles: PERCENTILES },
          kafka: { consumer: { group_id: group, topics: [input] }, producer: { result_topic: results, dead_letter_topic: unique('rp-dlq') }, topic_partitions: PARTITIONS },
          metrics: { port: 0 },
        },
      },
      { PROCESSOR_KAFKA_BROKERS: brokers() },
    );
    const logs: string[] = [];
    const stop = new AbortController();
    let source: KafkaSource | undefined;
    const started = performance.now();
    const job = runKafkaJob({ config, signal: stop.signal, logger: createLogger({ level: 'info', destination: { write: (l: string) => logs.push(l) } }), onSource: (s) => (source = s) });
    await waitFor('the decision', () => logs.some((l) => l.includes('"repartitioning the input"')));
    expect(logs.find((l) => l.includes('"repartitioning the input"'))).toMatch(/has key null/);
    await waitFor('the input repartitioned', () => source !== undefined && source.stats().handedOver >= sent.length, 60_000);
    const seconds = (performance.now() - started) / 1000;
    await produceSentinels(input);
    await waitFor('the sentinels', () => source!.stats().handedOver >= sent.length + SENTINELS && source!.inFlight === 0, 30_000);
    stop.abort();
    const summary = await job;
    expect(summary.invalid).toBe(INVALID);
    expect(summary.aggregated).toBe(sent.length + SENTINELS);
    expectModel((await readAll(results)).map((m) => m.value), sent);
    console.log(`repartitioned ${sent.length} events through ${repartitionTopicOf(group)} in ${seconds.toFixed(1)} s (${Math.round(sent.length / seconds)}/s, group join included)`);
  }, 120_000);

  it('a SIGKILLed process restarted on the same group counts nothing twice: repartitioned copies are dropped', async () => {
    const dir = tempDir('kafka-repartition-crash-');
    const input = unique('rp-crash-events');
    const results = unique('rp-crash-results');
    const deadLetters = unique('rp-crash-dlq');
    const group = unique('rp-crash-group');
    const repartitionTopic = repartitionTopicOf(group);
    await ensureTopics({ brokers: brokers() }, [{ topic: input, numPartitions: PARTITIONS }]);
    const sent = events(80_000, 80, 23);
    await produceUnkeyed(input, sent);
    const total = sent.length + INVALID;
    const config = join(dir, 'config.yaml');
    writeFileSync(
      config,
      `processor:
  source: { type: kafka }
  sink: { type: kafka }
  dead_letter: { type: kafka }
  state: { backend: level, path: ${join(dir, 'state')} }
  checkpoint_interval_secs: 1${settings}
  kafka:
    consumer: { bootstrap_servers: "${brokers()}", group_id: ${group}, topics: [${input}] }
    producer: { result_topic: ${results}, dead_letter_topic: ${deadLetters} }
    topic_partitions: ${PARTITIONS}
  metrics: { port: 0 }
  log: { level: info }
`,
    );

    // Killed while the stage is a third through the input: it has produced records whose
    // input offsets it has not committed yet (it commits every second), and produces them again.
    const first = startCli(['--config', config]);
    const firstLog: string[] = [];
    onStderrLine(first, (l) => firstLog.push(l));
    const firstExit = exited(first);
    await waitFor('the first run to repartition a third of the input', () => firstLog.some((l) => l.includes('"repartitioning the input"')), 60_000);
    while ((await endOffsets(repartitionTopic).catch(() => 0)) < sent.length / 3) await new Promise((resolve) => setTimeout(resolve, 20));
    first.kill('SIGKILL');
    expect(await firstExit).toBe('SIGKILL');
    const producedBeforeKill = await endOffsets(repartitionTopic);

    const second = startCli(['--config', config]);
    const secondLog: string[] = [];
    onStderrLine(second, (l) => secondLog.push(l));
    const secondExit = exited(second);
    try {
      // A restart waits out the killed members' sessions (30 s) before it gets partitions.
      await waitFor('the input repartitioned', () => secondLog.some((l) => l.includes('"repartitioning the input"')), 60_000);
      expect(secondLog.find((l) => l.includes('"repartitioning the input"'))).toMatch(/exists: an earlier run/);
      const stageGroup = `${group}-repartitioner`;
      for (const want of [total, total + SENTINELS]) {
        const deadline = Date.now() + 90_000;
        while ((await committedTotal(stageGroup, input)) < want) {
          if (Date.now() > deadline) throw new Error(`the stage did not commit ${want}; stderr tail:\n${secondLog.slice(-10).join('\n')}`);
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
        if (want === total) await produceSentinels(input);
      }
      const end = await endOffsets(repartitionTopic);
      const deadline = Date.now() + 60_000;
      while ((await committedTotal(group, repartitionTopic)) < end) {
        if (Date.now() > deadline) throw new Error(`the tasks did not commit ${end}; stderr tail:\n${secondLog.slice(-10).join('\n')}`);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      second.kill('SIGTERM');
      expect(await secondExit).toBe(0);
      const copies = end - sent.length - SENTINELS;
      const stopped = JSON.parse(secondLog.find((l) => l.includes('"stopped"')) ?? '{}') as { duplicates?: number };
      console.log(`killed after ${producedBeforeKill} repartitioned; ${copies} copies in the repartition topic, ${stopped.duplicates ?? 0} dropped by the restarted run's tasks`);
      expect(copies, 'the stage produced records again after the kill').toBeGreaterThan(0);
      // Every copy reaches a task of the restarted run, whatever checkpoint it restored: all are dropped.
      expect(stopped.duplicates).toBe(copies);
      expectModel((await readAll(results)).map((m) => m.value), sent);
      const dlq = (await readAll(deadLetters)).map((m) => (JSON.parse(m.value) as { raw: string }).raw);
      expect(new Set(dlq)).toEqual(new Set(Array.from({ length: INVALID }, (_, i) => `not json ${i}`)));
    } finally {
      second.kill('SIGKILL');
    }
  }, 240_000);
});
