/**
 * SASL/PLAIN against a real listener (issue 12): a broker of the test's own
 * (scripts/kafka-up.sh with KAFKA_SASL_PORT) authenticates the clients built from the
 * `kafka` section; a wrong password fails with an error that does not contain it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/index.js';
import { ensureTopics, kafkaConnection, kafkaSink, kafkaSource, type KafkaRecord } from '../../src/kafka/index.js';
import { freePort, startOwnBroker, type OwnBroker } from '../support/own-broker.js';
import { unique, waitFor } from './helpers.js';

const PASSWORD = 'pl4in-s3cret';
let broker: OwnBroker | undefined;
let saslBrokers = '';

beforeAll(async () => {
  const saslPort = await freePort();
  broker = await startOwnBroker('sasl-broker-', { KAFKA_SASL_PORT: String(saslPort), KAFKA_SASL_PLAIN_USERS: `processor:${PASSWORD}` });
  saslBrokers = `127.0.0.1:${saslPort}`;
}, 240_000);

afterAll(async () => {
  await broker?.remove();
}, 120_000);

const connection = (password: string): ReturnType<typeof kafkaConnection> =>
  kafkaConnection(
    parseConfig('processor: { kafka: { client_id: sasl-test, sasl: { mechanism: plain, username: processor } } }', {
      PROCESSOR_KAFKA_BROKERS: saslBrokers,
      PROCESSOR_KAFKA_SASL_PASSWORD: password,
    }).kafka,
  );

describe('SASL/PLAIN on a real listener', () => {
  it('the configured credentials authenticate the admin client, a producer and a consumer group', async () => {
    const topic = unique('sasl');
    const conn = connection(PASSWORD);
    await ensureTopics(conn, [{ topic }]);
    const sink = kafkaSink({ ...conn, topic });
    await sink.write({ key: 'k', value: 'over sasl' });
    await sink.close();
    const source = kafkaSource({ ...conn, groupId: unique('sasl-group'), topics: [topic] });
    const got: string[] = [];
    const subscription = source.records.subscribe((record: KafkaRecord) => {
      got.push(record.value);
      source.ack(record);
    });
    try {
      await waitFor('the message', () => got.length > 0, 60_000);
    } finally {
      await source.stop();
      subscription.unsubscribe();
    }
    expect(got).toEqual(['over sasl']);
  }, 90_000);

  it('a wrong password is refused, and the error does not show it', async () => {
    const wrong = 'wr0ng-passw0rd';
    const error = await ensureTopics(connection(wrong), [{ topic: unique('sasl-refused') }]).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(error?.message).toMatch(/SASL PLAIN authentication failed|Authentication failed/i);
    expect(`${error?.message} ${String(error?.cause)}`).not.toContain(wrong);
  }, 60_000);
});
