/**
 * The `kafka` client settings against the real broker (issue 12): the configured client id is
 * what the group coordinator sees, `max_poll_records` bounds the records handed over per
 * fetch, and `auto_offset_reset: latest` makes a job without state skip what the input
 * held before it started. (Session and heartbeat timeouts are not visible through the admin
 * API; test/config/kafka-client.test.ts checks they reach the consumer options.)
 */
import { describe, expect, it } from 'vitest';
import type { ProcessorConfig } from '../../src/config/index.js';
import { consumerSettings, kafkaConnection, kafkaSource, type KafkaRecord } from '../../src/kafka/index.js';
import { runKafkaJob } from '../../src/runner/kafka-job.js';
import { event, oneMinuteJob, produce, rawKafka, readAll, unique, waitFor } from './helpers.js';

const T0 = Date.UTC(2026, 10, 26, 10);
const config = (kafka: Record<string, unknown>): ProcessorConfig => oneMinuteJob({ kafka });

async function groupClientIds(groupId: string): Promise<string[]> {
  const admin = rawKafka().admin();
  await admin.connect();
  try {
    const { groups } = await admin.describeGroups([groupId]);
    return groups.flatMap((g) => g.members.map((m) => m.clientId));
  } finally {
    await admin.disconnect();
  }
}

describe('kafka client settings (real broker)', () => {
  it('client_id is the id the group coordinator shows; max_poll_records bounds each hand-over', async () => {
    const topic = unique('cs-in');
    const groupId = unique('cs-group');
    const clientId = unique('feedback-proc');
    const cfg = config({ client_id: clientId, max_poll_records: 10, consumer: { group_id: groupId, topics: [topic] } });
    const admin = rawKafka().admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
    await admin.disconnect();
    const sent = Array.from({ length: 200 }, (_, i) => event(i, T0));
    await produce(topic, sent);

    const source = kafkaSource({ ...kafkaConnection(cfg.kafka), ...consumerSettings(cfg.kafka), groupId, topics: [topic] });
    const offsets: string[] = [];
    // Records handed over in one synchronous run (no microtask between them): at most one
    // fetched batch's hand-over, since the next batch waits for the source's promise.
    let inThisRun = 0;
    let mostInOneRun = 0;
    const subscription = source.records.subscribe((record: KafkaRecord) => {
      if (inThisRun === 0) queueMicrotask(() => (inThisRun = 0));
      inThisRun++;
      mostInOneRun = Math.max(mostInOneRun, inThisRun);
      offsets.push(record.offset);
      source.ack(record);
    });
    try {
      await waitFor('every record', () => offsets.length >= sent.length);
      expect(await groupClientIds(groupId)).toEqual([clientId]);
    } finally {
      await source.stop();
      subscription.unsubscribe();
    }
    // Every record once, in order, although each batch was cut after ten and fetched again.
    expect(offsets).toEqual(sent.map((_, i) => String(i)));
    expect(mostInOneRun).toBeLessThanOrEqual(10);
  }, 60_000);

  it('auto_offset_reset: latest starts a job without state at the end of the input', async () => {
    const input = unique('latest-in');
    const results = unique('latest-out');
    const groupId = unique('latest-group');
    const clientId = unique('latest-client');
    const cfg = config({
      client_id: clientId,
      auto_offset_reset: 'latest',
      session_timeout_ms: 12_000,
      heartbeat_interval_ms: 1_000,
      consumer: { group_id: groupId, topics: [input] },
      producer: { result_topic: results, dead_letter_topic: unique('latest-dlq') },
    });
    const admin = rawKafka().admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: input, numPartitions: 1 }], waitForLeaders: true });
    await admin.disconnect();
    // Before the job starts: these must not be read.
    await produce(input, Array.from({ length: 30 }, (_, i) => event(i, T0 + 1_000)));

    const stop = new AbortController();
    let ready = false;
    const job = runKafkaJob({ config: cfg, signal: stop.signal, onReady: () => (ready = true) });
    try {
      await waitFor('the job to be ready', () => ready, 60_000);
      expect(await groupClientIds(groupId)).toEqual([clientId]);
      const later = Array.from({ length: 20 }, (_, i) => event(100 + i, T0 + 2_000));
      // A far later event fires the window of the ones above.
      await produce(input, [...later, event(999, T0 + 3_600_000)]);
      let outputs: { value: string }[] = [];
      const deadline = Date.now() + 30_000;
      while (outputs.length === 0 && Date.now() < deadline) {
        outputs = await readAll(results);
        if (outputs.length === 0) await new Promise((resolve) => setTimeout(resolve, 200));
      }
      const fired = outputs.map((o) => JSON.parse(o.value) as { window: { start: number }; event_count: number; metrics: { x: { sum: number } } });
      expect(fired.map((r) => [r.window.start, r.event_count, r.metrics.x.sum])).toEqual([[T0, 20, later.reduce((sum, _, i) => sum + 100 + i, 0)]]);
    } finally {
      stop.abort();
      await job;
    }
  }, 90_000);
});
