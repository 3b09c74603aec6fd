/**
 * The Kafka sink's batches stay under the broker's `message.max.bytes` (default 1,048,588)
 * once encoded: a send of 1,000 messages whose keys and values add up to just under 1 MiB
 * was refused as MESSAGE_TOO_LARGE (each record's framing on top), which failed every
 * checkpoint of a job whose state records are large.
 */
import { afterEach, expect, it } from 'vitest';
import { ensureTopics, kafkaSink } from '../../src/kafka/index.js';
import { brokers, readAll, unique } from './helpers.js';

const closes: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.allSettled(closes.splice(0).map((close) => close()));
});

it('a full batch of messages on one partition is accepted by a broker with the default message.max.bytes', async () => {
  const topic = unique('sink-batch');
  await ensureTopics({ brokers: brokers() }, [{ topic, numPartitions: 1 }]);
  const sink = kafkaSink({ brokers: brokers(), topic });
  closes.push(() => sink.close());
  // 1,000 messages (the default batch count) of 1,040 + 8 bytes: 1,048,000 bytes of keys and values.
  const messages = Array.from({ length: 1_000 }, (_, i) => ({ key: `k${String(i).padStart(7, '0')}`, value: Buffer.alloc(1_040, i % 256), partition: 0 }));
  await Promise.all(messages.map((m) => sink.write(m)));
  await sink.flush();
  const read = await readAll(topic);
  expect(read.length).toBe(messages.length);
}, 60_000);
