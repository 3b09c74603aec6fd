/**
 * Backpressure of the whole Kafka job (issue 3, "a deliberately slow sink"): a results
 * output that acknowledges only every 200 ms must pause the consumer, keep the records in
 * flight at or under `buffer_size`, and still let every record through in the end.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig, type ProcessorConfig } from '../../src/config/index.js';
import { ensureTopics, type KafkaSource } from '../../src/kafka/index.js';
import { createLogger } from '../../src/observability/index.js';
import type { FeedbackWindowResult } from '../../src/pipeline/feedback-pipeline.js';
import { runKafkaJob } from '../../src/runner/kafka-job.js';
import { ChannelOutputs, type DeadLetterOut, type JobOutputs } from '../../src/runner/outputs.js';
import { brokers, produce, unique, waitFor } from './helpers.js';
import { tempDir } from '../support/temp-dir.js';

const BUFFER_SIZE = 50;
const KEYS = 100;
const WINDOWS = 40;
/** Two events per key per 1 s window: each window closes with KEYS results, twice BUFFER_SIZE. */
const PER_WINDOW = 2 * KEYS;
const T0 = Date.UTC(2026, 10, 26, 10);
const ACK_EVERY_MS = 200;

/**
 * Real file outputs, but results count as in flight until a timer acknowledges them
 * every 200 ms (a sink slower than the pipeline, like a congested broker). `flush`
 * waits for that acknowledgement too, so the job's hold-the-acks path waits on it.
 */
class SlowResults implements JobOutputs {
  private pending: (() => void)[] = [];
  private waiters: (() => void)[] = [];
  private readonly timer: NodeJS.Timeout;
  /** The most results ever unacknowledged at once (for the report, not asserted: one record may close many windows). */
  maxPending = 0;

  constructor(private readonly inner: ChannelOutputs) {
    this.timer = setInterval(() => void this.acknowledge(), ACK_EVERY_MS);
  }

  private async acknowledge(): Promise<void> {
    const batch = this.pending;
    const waiters = this.waiters;
    this.pending = [];
    this.waiters = [];
    await this.inner.flush();
    for (const done of batch) done();
    for (const done of waiters) done();
  }

  writeResult(result: FeedbackWindowResult, emittedAt: number): Promise<void> {
    void this.inner.writeResult(result, emittedAt);
    return new Promise<void>((resolve) => {
      this.pending.push(resolve);
      this.maxPending = Math.max(this.maxPending, this.pending.length);
    });
  }

  writeDeadLetter(deadLetter: DeadLetterOut): void {
    this.inner.writeDeadLetter(deadLetter);
  }

  get inFlight(): number {
    return this.pending.length + this.inner.inFlight;
  }

  positions(): Record<string, number> {
    return this.inner.positions();
  }

  identify(positions: Readonly<Record<string, number>>): ReturnType<JobOutputs['identify']> {
    return this.inner.identify(positions);
  }

  rewindTo(checkpoint: Parameters<JobOutputs['rewindTo']>[0]): Promise<void> {
    return this.inner.rewindTo(checkpoint);
  }

  async flush(): Promise<void> {
    if (this.pending.length > 0) await new Promise<void>((resolve) => this.waiters.push(resolve));
    await this.inner.flush();
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.acknowledge();
    await this.inner.close();
  }
}

interface Output {
  key: { model: string };
  window: { start: number; end: number };
  revision: number;
  event_count: number;
}

describe('Kafka job backpressure (real broker)', () => {
  it('a slow results sink pauses the consumer, keeps in-flight records ≤ buffer_size, and loses nothing', async () => {
    const dir = tempDir('kafka-backpressure-');
    const input = unique('bp-events');
    // One partition: event time then rises with the offset, so no record is late and
    // every (key, window) has exactly one result (revision 0): the count check is exact.
    await ensureTopics({ brokers: brokers() }, [{ topic: input, numPartitions: 1 }]);
    const config: ProcessorConfig = parseConfig(
      {
        processor: {
          source: { type: 'kafka' },
          sink: { type: 'file', path: join(dir, 'results.ndjson') },
          dead_letter: { type: 'file', path: join(dir, 'dlq.ndjson') },
          state: { backend: 'memory' },
          buffer_size: BUFFER_SIZE,
          windows: { default_type: 'tumbling', tumbling: { size_secs: 1, allowed_lateness_secs: 0 } },
          watermark: { max_out_of_orderness_secs: 0, idle_timeout_secs: 600 },
          kafka: { consumer: { group_id: unique('bp-group'), topics: [input] } },
          metrics: { port: 0 },
          log: { level: 'silent' },
        },
      },
      { PROCESSOR_KAFKA_BROKERS: brokers() },
    );

    const messages: { key: string; value: string }[] = [];
    for (let i = 0; i < WINDOWS * PER_WINDOW; i++) {
      const model = `m-${i % KEYS}`;
      const timestamp = T0 + Math.floor((i * 1000) / PER_WINDOW);
      messages.push({ key: model, value: JSON.stringify({ timestamp, model, metrics: { latency_ms: i % 997 } }) });
    }
    // Far in the future: fires every window of the input.
    messages.push({ key: 'sentinel', value: JSON.stringify({ timestamp: T0 + 86_400_000, model: 'sentinel', metrics: {} }) });
    await produce(input, messages);

    const outputs = new SlowResults(await ChannelOutputs.open(config));
    const stop = new AbortController();
    let source: KafkaSource | undefined;
    let sampledMax = 0;
    const sampler = setInterval(() => {
      if (source !== undefined) sampledMax = Math.max(sampledMax, source.inFlight);
    }, 5);
    const job = runKafkaJob({ config, signal: stop.signal, outputs, logger: createLogger({ level: 'silent' }), onSource: (s) => (source = s) });
    let summary;
    try {
      await waitFor('every message handed over to the pipeline', () => source !== undefined && source.stats().handedOver >= messages.length, 50_000);
      await waitFor('every message acknowledged', () => source!.inFlight === 0 && outputs.inFlight === 0, 10_000);
    } finally {
      clearInterval(sampler);
      stop.abort();
      summary = await job;
      await outputs.close();
    }

    const stats = source!.stats();
    // The slow sink must have made the source stop fetching, and let it go on again.
    expect(stats.pauses, 'consumer pauses').toBeGreaterThan(0);
    expect(stats.resumes, 'consumer resumes').toBeGreaterThan(0);
    expect(stats.maxInFlight, 'max records in flight (source statistics)').toBeLessThanOrEqual(BUFFER_SIZE);
    expect(sampledMax, 'max records in flight (sampled)').toBeLessThanOrEqual(BUFFER_SIZE);
    // Acknowledgements really were held back: without that nothing would ever be in flight.
    expect(stats.maxInFlight).toBeGreaterThan(BUFFER_SIZE / 2);
    expect(stats.handedOver).toBe(messages.length);
    expect(stats.acked).toBe(messages.length);
    expect(summary.recordsIn).toBe(messages.length);
    expect(summary.late + summary.invalid).toBe(0);

    const results = readFileSync(join(dir, 'results.ndjson'), 'utf8')
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as Output);
    const real = results.filter((r) => r.key.model !== 'sentinel');
    expect(real.length).toBe(WINDOWS * KEYS);
    const seen = new Set<string>();
    for (const r of real) {
      const id = `${r.key.model}@${r.window.start}`;
      expect(seen.has(id), `duplicate result ${id}`).toBe(false);
      seen.add(id);
      expect(r.revision, id).toBe(0);
      expect(r.event_count, id).toBe(PER_WINDOW / KEYS);
      expect(r.window.start >= T0 && r.window.start < T0 + WINDOWS * 1000, id).toBe(true);
    }
  }, 60_000);
});
