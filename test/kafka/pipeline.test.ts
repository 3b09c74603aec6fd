import { describe, expect, it } from 'vitest';
import { generateEvents } from '../../scripts/generate-sample.js';
import { parseConfig, type ProcessorConfig } from '../../src/config/index.js';
import { createLogger, createProcessorMetrics } from '../../src/observability/index.js';
import { runKafkaJob } from '../../src/runner/kafka-job.js';
import type { KafkaSource } from '../../src/kafka/index.js';
import { exactPercentile, isoTime, statsOf } from '../support/oracle.js';
import { brokers, produce, readAll, unique, waitFor } from './helpers.js';

const PARTITIONS = 4;
const SIZE_MS = 60_000;

interface Output {
  key: { model: string };
  window: { start: number; end: number };
  revision: number;
  event_count: number;
  metrics: Record<string, Record<string, number>>;
}

function kafkaConfig(overrides: Record<string, unknown>): ProcessorConfig {
  return parseConfig(
    {
      processor: {
        source: { type: 'kafka' },
        sink: { type: 'kafka' },
        dead_letter: { type: 'kafka' },
        state: { backend: 'memory' },
        windows: { default_type: 'tumbling', tumbling: { size_secs: SIZE_MS / 1000, allowed_lateness_secs: 30 } },
        watermark: { max_out_of_orderness_secs: 20, idle_timeout_secs: 600 },
        metrics: { port: 0 },
        log: { level: 'silent' },
        ...overrides,
      },
    },
    { PROCESSOR_KAFKA_BROKERS: brokers() },
  );
}

/**
 * Events keyed by model (co-partitioned, as Kafka Streams requires), then one far-future
 * sentinel per partition to fire every window. Models are spread over the partitions by
 * hand so that every partition delivers from the start: a partition that delivers nothing
 * holds the watermark back (DESIGN.md), and no record would be late.
 */
function messages(count: number): { key: string | null; value: string; partition?: number }[] {
  const lines = generateEvents({ count, seed: 5, startMs: Date.UTC(2026, 10, 26, 10), durationMs: 30 * 60_000, invalidPerKind: 2 });
  const models = new Map<string, number>();
  const out: { key: string | null; value: string; partition?: number }[] = lines.map((value, i) => {
    let model: unknown;
    try {
      model = (JSON.parse(value) as { model?: unknown }).model;
    } catch {
      // Not JSON: no key.
    }
    if (typeof model !== 'string') return { key: null, value, partition: i % PARTITIONS };
    if (!models.has(model)) models.set(model, models.size % PARTITIONS);
    return { key: model, value, partition: models.get(model)! };
  });
  for (let p = 0; p < PARTITIONS; p++) {
    out.push({ key: 'sentinel', partition: p, value: JSON.stringify({ timestamp: Date.UTC(2026, 10, 28), model: 'sentinel', metrics: {} }) });
  }
  return out;
}

describe('Kafka to Kafka pipeline (real broker)', () => {
  it('every record ends in exactly one of: a final window aggregate, the late output, the dead-letter output', async () => {
    const input = unique('events');
    const results = unique('results');
    const deadLetters = unique('dlq');
    const config = kafkaConfig({
      kafka: {
        consumer: { group_id: unique('group'), topics: [input] },
        producer: { result_topic: results, dead_letter_topic: deadLetters },
        topic_partitions: PARTITIONS,
      },
    });
    const sent = messages(4000);
    const stop = new AbortController();
    let source: KafkaSource | undefined;
    let ready = false;
    const metrics = createProcessorMetrics();
    const job = runKafkaJob({
      config,
      metrics,
      signal: stop.signal,
      logger: createLogger({ level: 'silent' }),
      onSource: (s) => (source = s),
      onReady: () => (ready = true),
    });
    await waitFor('assignment', () => ready);
    await produce(input, sent);
    await waitFor('every message handed over', () => source !== undefined && source.stats().handedOver >= sent.length, 60_000);
    await waitFor('every message acknowledged', () => source!.inFlight === 0);
    stop.abort();
    const summary = await job;
    // Lag is published per partition; everything was read, so each is 0 (the sentinel is the last message).
    const exposition = await metrics.registry.metrics();
    for (let p = 0; p < PARTITIONS; p++) expect(exposition).toContain(`stream_processor_consumer_lag{topic="${input}",partition="${p}"} 0`);
    expect(exposition).toMatch(new RegExp(`stream_processor_records_in_total\\{outcome="aggregated"\\} ${summary.aggregated}`));

    const out = (await readAll(results)).map((m) => ({ key: m.key, output: JSON.parse(m.value) as Output }));
    const dlq = (await readAll(deadLetters)).map((m) => JSON.parse(m.value) as { reason: string; raw: string });

    const valid = sent.flatMap((m) => {
      try {
        const e = JSON.parse(m.value) as { model?: string; timestamp?: string | number; metrics?: Record<string, number | null> };
        const ts = typeof e.timestamp === 'number' ? e.timestamp : isoTime(String(e.timestamp));
        if (m.key === 'sentinel' || m.key === null || !Number.isFinite(ts) || typeof e.metrics !== 'object' || e.metrics === null || Array.isArray(e.metrics)) return [];
        if (Object.values(e.metrics).some((v) => v !== null && typeof v !== 'number')) return [];
        return [{ raw: m.value, model: e.model!, ts, metrics: e.metrics }];
      } catch {
        return [];
      }
    });
    const tooLate = new Set(dlq.filter((d) => d.reason === 'too_late').map((d) => JSON.stringify(JSON.parse(d.raw))));
    expect(summary.recordsIn).toBe(sent.length);
    expect(dlq.filter((d) => d.reason !== 'too_late').length).toBe(summary.invalid);
    expect(summary.invalid + summary.late + summary.aggregated).toBe(sent.length);
    expect(tooLate.size).toBe(summary.late);
    expect(summary.late).toBeGreaterThan(0);

    // Final revision per (key, window) = brute force over that window's records minus the too-late ones.
    const last = new Map<string, Output>();
    for (const { key, output } of out) {
      expect(key).toBe(output.key.model);
      const id = `${output.key.model}@${output.window.start}`;
      const previous = last.get(id);
      expect(output.revision).toBe(previous === undefined ? 0 : previous.revision + 1);
      last.set(id, output);
    }
    const expected = new Map<string, typeof valid>();
    for (const e of valid) {
      if (tooLate.has(JSON.stringify(JSON.parse(e.raw)))) continue;
      const id = `${e.model}@${e.ts - (e.ts % SIZE_MS)}`;
      expected.set(id, [...(expected.get(id) ?? []), e]);
    }
    expect([...last.keys()].sort()).toEqual([...expected.keys()].sort());
    expect([...last.values()].some((o) => o.revision > 0)).toBe(true);
    for (const [id, events] of expected) {
      const got = last.get(id)!;
      expect(got.event_count, id).toBe(events.length);
      const latency = events.map((e) => e.metrics['latency_ms']).filter((v): v is number => typeof v === 'number');
      if (latency.length === 0) continue;
      const want = statsOf(latency);
      expect(got.metrics['latency_ms']!['count']).toBe(want.count);
      expect(got.metrics['latency_ms']!['sum']).toBeCloseTo(want.sum, 6);
      expect(got.metrics['latency_ms']!['max']).toBe(want.max);
      expect(got.metrics['latency_ms']!['p95']).toBeCloseTo(exactPercentile(want.sorted, 95), 9);
    }
  }, 120_000);

  it('a stop that comes while the job is still setting up ends it, not a hang', async () => {
    const input = unique('events');
    const config = kafkaConfig({
      kafka: {
        consumer: { group_id: unique('group'), topics: [input] },
        producer: { result_topic: unique('results'), dead_letter_topic: unique('dlq') },
        topic_partitions: PARTITIONS,
      },
    });
    await produce(input, messages(200));
    const stop = new AbortController();
    const started = Date.now();
    // The source exists, the tasks' runner has not started: the stop lands between the two.
    const summary = await runKafkaJob({ config, signal: stop.signal, logger: createLogger({ level: 'silent' }), onSource: () => stop.abort() });
    expect(summary.recordsIn).toBeLessThanOrEqual(204);
    expect(Date.now() - started).toBeLessThan(20_000);
  }, 30_000);

  it('a broker that cannot be reached at start is a clear error, not a hang', async () => {
    const config = parseConfig(
      { processor: { source: { type: 'kafka' }, sink: { type: 'stdout' }, dead_letter: { type: 'stderr' }, state: { backend: 'memory' }, metrics: { port: 0 } } },
      { PROCESSOR_KAFKA_BROKERS: '127.0.0.1:1' },
    );
    const started = Date.now();
    await expect(runKafkaJob({ config, signal: new AbortController().signal })).rejects.toThrow(/cannot connect to Kafka brokers 127\.0\.0\.1:1/);
    expect(Date.now() - started).toBeLessThan(20_000);
  }, 30_000);
});
