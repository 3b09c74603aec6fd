/**
 * Dead letters cannot fail (issue 8): a dead letter the broker refuses is logged,
 * counted and dropped, and the job goes on; results still fail hard. Topics with a
 * small `max.message.bytes` provoke the broker's MESSAGE_TOO_LARGE.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/index.js';
import { ensureTopics, kafkaSink } from '../../src/kafka/index.js';
import { createProcessorMetrics } from '../../src/observability/metrics.js';
import { runLineJob } from '../../src/runner/file-job.js';
import { tempDir } from '../support/temp-dir.js';
import { brokers, readAll, unique } from './helpers.js';

const SMALL_MESSAGE_BYTES = 2_000;

async function smallTopic(prefix: string): Promise<string> {
  const topic = unique(prefix);
  await ensureTopics({ brokers: brokers() }, [{ topic, numPartitions: 1, configs: { 'max.message.bytes': String(SMALL_MESSAGE_BYTES) } }]);
  return topic;
}

const event = (minute: number): string =>
  JSON.stringify({ timestamp: Date.UTC(2026, 10, 26, 10, minute), model: 'm', metrics: { latency_ms: minute } });

function jobConfig(dir: string, topic: string): ReturnType<typeof parseConfig> {
  return parseConfig(
    {
      processor: {
        source: { type: 'file', path: join(dir, 'in.ndjson') },
        sink: { type: 'file', path: join(dir, 'out.ndjson') },
        dead_letter: { type: 'kafka' },
        state: { backend: 'memory' },
        kafka: { consumer: { bootstrap_servers: brokers() }, producer: { dead_letter_topic: topic } },
        log: { level: 'silent' },
      },
    },
    {},
  );
}

describe('dead letters the broker rejects', () => {
  it('kafkaSink with onRejected drops only the rejected message of a batch and keeps writing', async () => {
    const topic = await smallTopic('dlq-reject');
    const rejected: { type: unknown; bytes: number }[] = [];
    const sink = kafkaSink({
      brokers: brokers(),
      topic,
      onRejected: (error, message) => rejected.push({ type: (error as { type?: unknown }).type, bytes: message.value.length }),
    });
    try {
      // One batch: the broker refuses it whole, the sink resends message by message.
      await Promise.all([sink.write({ value: 'a' }), sink.write({ value: 'x'.repeat(5_000) }), sink.write({ value: 'c' })]);
      await sink.write({ value: 'd' });
      await sink.flush();
    } finally {
      await sink.close();
    }
    expect(rejected).toEqual([{ type: 'MESSAGE_TOO_LARGE', bytes: 5_000 }]);
    expect((await readAll(topic)).map((m) => m.value)).toEqual(['a', 'c', 'd']);
  });

  it('without onRejected (results) a rejected message still fails the sink and every later write', async () => {
    const topic = await smallTopic('results-reject');
    const sink = kafkaSink({ brokers: brokers(), topic });
    await expect(sink.write({ value: 'x'.repeat(5_000) })).rejects.toMatchObject({ type: 'MESSAGE_TOO_LARGE' });
    await expect(sink.write({ value: 'small' })).rejects.toMatchObject({ type: 'MESSAGE_TOO_LARGE' });
    await expect(sink.close()).rejects.toMatchObject({ type: 'MESSAGE_TOO_LARGE' });
  });

  it('a file job logs, counts and drops a dead letter too large for its topic, and finishes', async () => {
    const dir = tempDir('dlq-reject-');
    const topic = await smallTopic('dlq-job');
    const huge = 'not json ' + 'y'.repeat(50_000);
    writeFileSync(join(dir, 'in.ndjson'), [event(0), 'bad 1', huge, 'bad 2', event(1)].join('\n') + '\n');
    const metrics = createProcessorMetrics();
    const summary = await runLineJob({ config: jobConfig(dir, topic), metrics });

    expect(summary).toMatchObject({ recordsIn: 5, invalid: 3, aggregated: 2 });
    const deadLetters = (await readAll(topic)).map((m) => JSON.parse(m.value) as { reason: string; raw: string });
    expect(deadLetters.map((d) => [d.reason, d.raw])).toEqual([
      ['invalid_json', 'bad 1'],
      ['invalid_json', 'bad 2'],
    ]);
    expect((await metrics.deadLettersDropped.get()).values[0]?.value).toBe(1);
  });

  it('a megabyte of control bytes becomes a capped dead letter within the default message size', async () => {
    const dir = tempDir('dlq-cap-');
    const topic = unique('dlq-cap');
    await ensureTopics({ brokers: brokers() }, [{ topic, numPartitions: 1 }]);
    // JSON-escaped whole, this line would be a 6 MB message: the broker refused it and the job died.
    const binary = '\u0001'.repeat(1 << 20);
    writeFileSync(join(dir, 'in.ndjson'), [event(0), binary, event(1)].join('\n') + '\n');
    const metrics = createProcessorMetrics();
    await runLineJob({ config: jobConfig(dir, topic), metrics });

    const [message, ...rest] = await readAll(topic);
    expect(rest).toEqual([]);
    expect(Buffer.byteLength(message!.value)).toBeLessThan(400_000);
    const deadLetter = JSON.parse(message!.value) as Record<string, unknown>;
    expect(deadLetter).toMatchObject({ reason: 'invalid_json', raw: '\u0001'.repeat(65_536), raw_bytes: 1 << 20 });
    expect(deadLetter['raw_sha256']).toMatch(/^[0-9a-f]{64}$/);
    expect((await metrics.deadLettersDropped.get()).values[0]?.value).toBe(0);
  });
});
