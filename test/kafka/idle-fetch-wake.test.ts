/**
 * The consumer's wakeable idle sleep (src/kafka/idle-fetch-wake.ts): the sleep alone, that
 * kafkajs's consumer loads it, and on the real broker that a partition released or resumed
 * while every partition was paused is fetched without waiting out the consumer's maxWaitTime.
 */
import { Subscription } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { ensureTopics, kafkaSource, type KafkaRecord, type KafkaSource } from '../../src/kafka/index.js';
import { idleSleep, SLEEP_MODULE, wakeIdleFetchers } from '../../src/kafka/idle-fetch-wake.js';
import { brokers, produce, unique, waitFor } from './helpers.js';
import { moduleCacheAfterImport } from './kafkajs-modules.js';

/** Long enough that a consumer which sleeps it out misses every bound below by far. */
const MAX_WAIT_MS = 2_500;
/** What a woken consumer gets to fetch (a round trip on a loaded machine). */
const WOKEN_WITHIN_MS = 1_200;

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const close of cleanup.splice(0).reverse()) await close();
});

/** Resolves with `promise`'s settling, or 'pending' if it is still pending after `ms`. */
const within = (promise: Promise<void>, ms: number): Promise<'done' | 'pending'> =>
  Promise.race([promise.then(() => 'done' as const), new Promise<'pending'>((resolve) => setTimeout(() => resolve('pending'), ms))]);

describe('idleSleep', () => {
  it('sleeps its time unless woken; a wake ends every sleep under way, not later ones', async () => {
    expect(await within(idleSleep(20), 1_000)).toBe('done');
    const a = idleSleep(60_000);
    const b = idleSleep(60_000);
    expect(await within(a, 50)).toBe('pending');
    wakeIdleFetchers();
    expect(await within(Promise.all([a, b]).then(() => undefined), 100)).toBe('done');
    const later = idleSleep(60_000);
    expect(await within(later, 50)).toBe('pending');
    wakeIdleFetchers();
    await later;
  });

  it("is kafkajs's sleep once the project's kafkajs module is imported", () => {
    const cache = moduleCacheAfterImport('src/kafka/index.ts', [SLEEP_MODULE], ['kafkajs/src/consumer/consumerGroup.js']);
    expect(cache.exports[SLEEP_MODULE]).toBe('idleSleep');
    expect(cache.loaded['kafkajs/src/consumer/consumerGroup.js']).toBe(true);
  });
});

describe('a consumer with every partition paused', () => {
  /** A source over `topic` with a long maxWaitTime; with `hold`, it holds what it is assigned (as a task manager does while tasks restore). */
  function start(options: { topic: string; bufferSize?: number; hold?: boolean }): { source: KafkaSource; records: KafkaRecord[]; arrivals: number[] } {
    const source = kafkaSource({ brokers: brokers(), groupId: unique('idle-wake-group'), topics: [options.topic], maxWaitTimeMs: MAX_WAIT_MS, bufferSize: options.bufferSize });
    const records: KafkaRecord[] = [];
    const arrivals: number[] = [];
    const subscription = new Subscription();
    cleanup.push(() => source.stop(0));
    cleanup.push(() => subscription.unsubscribe());
    if (options.hold === true) subscription.add(source.assignments.subscribe((change) => source.hold(change.assigned)));
    subscription.add(
      source.records.subscribe((record) => {
        records.push(record);
        arrivals.push(Date.now());
      }),
    );
    return { source, records, arrivals };
  }

  it('fetches a partition released after its assignment at once', async () => {
    const topic = unique('idle-wake-release');
    await ensureTopics({ brokers: brokers() }, [{ topic, numPartitions: 2 }]);
    await produce(topic, [
      { value: 'a', partition: 0 },
      { value: 'b', partition: 1 },
    ]);
    const { source, records } = start({ topic, hold: true });
    await waitFor('the assignment', () => source.assignment.length === 2);
    // Long enough for the consumer to find nothing to fetch and fall asleep.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const releasedAt = Date.now();
    for (const tp of source.assignment) source.release(tp, undefined);
    await waitFor('both records', () => records.length === 2, WOKEN_WITHIN_MS);
    expect(Date.now() - releasedAt).toBeLessThan(WOKEN_WITHIN_MS);
    expect(records.map((r) => r.value).sort()).toEqual(['a', 'b']);
  });

  it('fetches again at once when backpressure resumes it', async () => {
    const topic = unique('idle-wake-resume');
    await ensureTopics({ brokers: brokers() }, [{ topic, numPartitions: 1 }]);
    await produce(
      topic,
      Array.from({ length: 8 }, (_, i) => ({ value: `m${i}` })),
    );
    const { source, records, arrivals } = start({ topic, bufferSize: 4 });
    await waitFor('a full buffer', () => records.length === 4);
    // Paused at four in flight; the consumer has nothing to fetch and falls asleep.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(records).toHaveLength(4);
    const resumedAt = Date.now();
    for (const record of records.slice(0, 3)) source.ack(record);
    // One in flight is below half the buffer: the consumer resumes and hands over three more.
    await waitFor('the next records', () => records.length === 7, WOKEN_WITHIN_MS);
    expect(arrivals[4]! - resumedAt).toBeLessThan(WOKEN_WITHIN_MS);
    expect(records.map((r) => r.value)).toEqual(['m0', 'm1', 'm2', 'm3', 'm4', 'm5', 'm6']);
    expect(source.stats()).toMatchObject({ pauses: 2, resumes: 1 });
  });
});
