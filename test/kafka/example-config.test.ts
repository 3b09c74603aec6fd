/**
 * config/kafka.yaml, the seed-like example with Kafka source and sink, runs as shipped
 * (only the deployment's env overrides: brokers, group, topics, state folder) through
 * the builder the service uses, against the real broker.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createPipeline } from '../../src/builder/create-pipeline.js';
import { loadConfig } from '../../src/config/index.js';
import { tempDir } from '../support/temp-dir.js';
import { brokers, produce, readAll, unique, waitFor } from './helpers.js';

const T0 = Date.UTC(2026, 10, 26, 10);

describe('config/kafka.yaml (real broker)', () => {
  it('runs: every model\'s window of the input fires with its count', async () => {
    const [input, results, deadLetters] = [unique('example-in'), unique('example-out'), unique('example-dlq')];
    const config = await loadConfig('config/kafka.yaml', {
      PROCESSOR_KAFKA_BROKERS: brokers(),
      PROCESSOR_GROUP_ID: unique('example-group'),
      PROCESSOR_STATE_PATH: join(tempDir('example-state-'), 'state'),
      PROCESSOR_LOG_LEVEL: 'silent',
      PROCESSOR__KAFKA__CONSUMER__TOPICS: `[${input}]`,
      PROCESSOR__KAFKA__PRODUCER__RESULT_TOPIC: results,
      PROCESSOR__KAFKA__PRODUCER__DEAD_LETTER_TOPIC: deadLetters,
    });
    const models = ['gpt-4o', 'claude-3-5-sonnet', 'mistral-large'];
    const counts = [7, 11, 5];
    const stop = new AbortController();
    let ready = false;
    const job = createPipeline().withConfig(config).build().run({ signal: stop.signal, onReady: () => (ready = true) });
    try {
      await waitFor('the job to be ready', () => ready, 60_000);
      const events = models.flatMap((model, m) =>
        Array.from({ length: counts[m]! }, (_, i) => ({ key: model, value: JSON.stringify({ timestamp: T0 + 1_000 * i, model, metrics: { latency_ms: 100 + i } }) })),
      );
      // The file creates 3 partitions: a far later event in each fires every window.
      const sentinels = [0, 1, 2].map((partition) => ({ key: 'sentinel', partition, value: JSON.stringify({ timestamp: T0 + 3_600_000, model: 'sentinel', metrics: {} }) }));
      await produce(input, [...events, ...sentinels]);
      let fired: { key: { model: string }; window: { start: number }; event_count: number }[] = [];
      const deadline = Date.now() + 60_000;
      while (fired.length < models.length && Date.now() < deadline) {
        fired = (await readAll(results).catch(() => [])).map((m) => JSON.parse(m.value) as (typeof fired)[number]);
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
      expect(fired.map((r) => [r.key.model, r.window.start, r.event_count]).sort()).toEqual(models.map((model, m) => [model, T0, counts[m]]).sort());
    } finally {
      stop.abort();
      await job;
    }
  }, 120_000);
});
