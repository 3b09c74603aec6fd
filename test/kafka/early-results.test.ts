/**
 * Early results through the Kafka job (`emit.early_interval_secs`, issue 12): a one-minute
 * window shows its partial aggregate in the result topic while it is open, flagged and
 * numbered apart from the result the watermark fires, which is unchanged.
 */
import { describe, expect, it } from 'vitest';
import { runKafkaJob } from '../../src/runner/kafka-job.js';
import { event, oneMinuteJob, produce, rawKafka, readAll, unique, waitFor } from './helpers.js';

const T0 = Date.UTC(2026, 10, 26, 10);

interface Output {
  window: { start: number };
  revision: number;
  early?: boolean;
  event_count: number;
  metrics: { x: { sum: number } };
}

describe('early results (real broker)', () => {
  it('an open window appears early in the output, then fires with the same aggregate as without', async () => {
    const input = unique('early-in');
    const results = unique('early-out');
    const config = oneMinuteJob({
      emit: { early_interval_secs: 1 },
      kafka: { consumer: { group_id: unique('early-group'), topics: [input] }, producer: { result_topic: results, dead_letter_topic: unique('early-dlq') } },
    });
    const admin = rawKafka().admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: input, numPartitions: 1 }, { topic: results, numPartitions: 1 }], waitForLeaders: true });
    await admin.disconnect();

    const stop = new AbortController();
    let ready = false;
    const job = runKafkaJob({ config, signal: stop.signal, onReady: () => (ready = true) });
    let outputs: Output[] = [];
    const until = async (what: string, predicate: (all: Output[]) => boolean): Promise<void> => {
      const deadline = Date.now() + 30_000;
      while (!predicate((outputs = (await readAll(results)).map((m) => JSON.parse(m.value) as Output)))) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(outputs)}`);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    };
    try {
      await waitFor('the job to be ready', () => ready, 60_000);
      await produce(input, Array.from({ length: 10 }, (_, i) => event(i, T0 + 1_000 + i)));
      await until('an early result of 10 events', (all) => all.some((o) => o.event_count === 10));
      await produce(input, Array.from({ length: 5 }, (_, i) => event(10 + i, T0 + 2_000 + i)));
      await until('an early result of 15 events', (all) => all.some((o) => o.event_count === 15));
      await produce(input, [event(99, T0 + 3_600_000)]);
      await until('the fired result', (all) => all.some((o) => o.revision === 0));
    } finally {
      stop.abort();
      await job;
    }
    const [fired, ...rest] = outputs.filter((o) => o.early !== true);
    const early = outputs.filter((o) => o.early === true);
    // Fired: what the watermark alone gives, with no early key at all.
    expect(rest).toEqual([]);
    expect(fired).toMatchObject({ window: { start: T0 }, revision: 0, event_count: 15, metrics: { x: { sum: 105 } } });
    expect(Object.keys(fired!)).not.toContain('early');
    // Early: revision −1, each a partial aggregate, never repeated while nothing changed, all before the fired one.
    expect(early.map((o) => [o.window.start, o.revision, o.event_count])).toEqual([
      [T0, -1, 10],
      [T0, -1, 15],
    ]);
    expect(early.map((o) => o.metrics.x.sum)).toEqual([45, 105]);
    expect(outputs.indexOf(fired!)).toBe(outputs.length - 1);
  }, 90_000);
});
