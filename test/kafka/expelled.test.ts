/**
 * A member the coordinator expelled (no heartbeat within its session timeout, its
 * partitions given to others) rejoins without kafkajs's REBALANCING event: the source must
 * still report `rebalancing` from the moment kafkajs notices until the rejoin, since the
 * Kafka job writes no checkpoint meanwhile (src/runner/kafka-job.ts).
 */
import { afterEach, expect, it } from 'vitest';
import { logLevel } from 'kafkajs';
import { ensureTopics, kafkaSource } from '../../src/kafka/index.js';
import { brokers, produce, unique, waitFor } from './helpers.js';

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.allSettled(stops.splice(0).map((stop) => stop()));
});

/** The broker's smallest session timeout (`group.min.session.timeout.ms` default). */
const SESSION_TIMEOUT_MS = 6_000;

it('a member expelled after its session timeout counts as rebalancing until it has rejoined', async () => {
  const topic = unique('expelled-in');
  await ensureTopics({ brokers: brokers() }, [{ topic, numPartitions: 1 }]);
  await produce(topic, [{ value: 'first' }, { value: 'second' }]);
  /** `rebalancing` when kafkajs logged each line of interest. */
  const seen: { message: string; rebalancing: boolean }[] = [];
  const source = kafkaSource({
    brokers: brokers(),
    groupId: unique('expelled-group'),
    topics: [topic],
    sessionTimeoutMs: SESSION_TIMEOUT_MS,
    heartbeatIntervalMs: 500,
    logLevel: logLevel.ERROR,
    logCreator: () => ({ log }) => {
      if (log.message.includes('not aware of this member')) seen.push({ message: log.message, rebalancing: source.rebalancing });
    },
  });
  stops.push(() => source.stop(0));
  let joins = 0;
  source.assignments.subscribe(() => joins++);
  let blocked = false;
  const subscription = source.records.subscribe((record) => {
    source.ack(record);
    if (blocked) return;
    blocked = true;
    // No heartbeat for longer than the session timeout: the coordinator drops the member.
    const until = Date.now() + SESSION_TIMEOUT_MS * 1.5;
    while (Date.now() < until) {
      /* busy: the event loop is blocked */
    }
  });
  stops.push(async () => subscription.unsubscribe());

  await waitFor('kafkajs to notice the expulsion', () => seen.length > 0, 30_000);
  expect(seen[0]!.rebalancing, 'rebalancing when kafkajs noticed the expulsion').toBe(true);
  await waitFor('the rejoin', () => joins >= 2, 30_000);
  expect(source.rebalancing, 'rebalancing after the rejoin').toBe(false);
}, 60_000);
