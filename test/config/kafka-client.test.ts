/**
 * The Kafka client settings of the `kafka` section (issue 12): validation that names the key,
 * secrets that no message or `--validate` output shows, and the kafkajs options built from them.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, describeConfig, parseConfig } from '../../src/config/index.js';
import { consumerSettings, kafkaConnection } from '../../src/kafka/settings.js';
import { tempDir } from '../support/temp-dir.js';

const PASSWORD = 'hunter2-s3cret';

function issuesOf(yaml: string, env: Record<string, string> = {}, cwd?: string): ConfigError {
  try {
    parseConfig(yaml, env, cwd === undefined ? {} : { cwd });
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error(`expected a ConfigError for ${yaml}`);
}

describe('kafka client settings: defaults', () => {
  it('are Kafka\'s consumer defaults, plaintext, no SASL, one client id per role', () => {
    const { kafka } = parseConfig('', {});
    expect(kafka).toMatchObject({ session_timeout_ms: 30_000, heartbeat_interval_ms: 3_000, auto_offset_reset: 'earliest' });
    expect(kafka.ssl ?? kafka.sasl ?? kafka.client_id ?? kafka.max_poll_records).toBeUndefined();
    expect(kafkaConnection(kafka)).toEqual({ brokers: ['localhost:9092'] });
    expect(consumerSettings(kafka)).toEqual({ sessionTimeoutMs: 30_000, heartbeatIntervalMs: 3_000, fromBeginning: true });
  });
});

describe('kafka client settings: the kafkajs options built from the YAML', () => {
  it('client id, timeouts, max_poll_records and latest reach the consumer options', () => {
    const { kafka } = parseConfig(
      'processor: { kafka: { client_id: feedback-proc, session_timeout_ms: 45000, heartbeat_interval_ms: 5000, max_poll_records: 250, auto_offset_reset: latest } }',
      {},
    );
    expect(kafkaConnection(kafka)).toEqual({ brokers: ['localhost:9092'], clientId: 'feedback-proc' });
    expect(consumerSettings(kafka)).toEqual({ sessionTimeoutMs: 45_000, heartbeatIntervalMs: 5_000, fromBeginning: false, maxRecordsPerBatch: 250 });
  });

  it('ssl: true is TLS with the system CAs', () => {
    const { kafka } = parseConfig('processor: { kafka: { ssl: true } }', {});
    expect(kafkaConnection(kafka).ssl).toEqual({ rejectUnauthorized: true });
    expect(kafkaConnection(parseConfig('processor: { kafka: { ssl: false } }', {}).kafka).ssl).toBeUndefined();
  });

  it('ssl files are read (relative to the working directory) into ca, cert and key', () => {
    const dir = tempDir('kafka-tls');
    writeFileSync(join(dir, 'ca.pem'), 'CA PEM');
    writeFileSync(join(dir, 'client.pem'), 'CERT PEM');
    writeFileSync(join(dir, 'client.key'), 'KEY PEM');
    const { kafka } = parseConfig('processor: { kafka: { ssl: { ca_file: ca.pem, cert_file: client.pem, key_file: client.key, reject_unauthorized: false } } }', {}, { cwd: dir });
    expect(kafka.ssl?.ca_file).toBe(join(dir, 'ca.pem'));
    expect(kafkaConnection(kafka).ssl).toEqual({ rejectUnauthorized: false, ca: ['CA PEM'], cert: 'CERT PEM', key: 'KEY PEM' });
  });

  it.each(['plain', 'scram-sha-256', 'scram-sha-512'] as const)('sasl %s with the password from the environment', (mechanism) => {
    const { kafka } = parseConfig(`processor: { kafka: { ssl: true, sasl: { mechanism: ${mechanism}, username: svc } } }`, { PROCESSOR_KAFKA_SASL_PASSWORD: PASSWORD });
    expect(kafkaConnection(kafka)).toEqual({ brokers: ['localhost:9092'], ssl: { rejectUnauthorized: true }, sasl: { mechanism, username: 'svc', password: PASSWORD } });
  });

  it('a password of digits from the environment stays a string', () => {
    const { kafka } = parseConfig('processor: { kafka: { sasl: { username: svc } } }', { PROCESSOR_KAFKA_SASL_PASSWORD: '0123' });
    expect(kafka.sasl).toEqual({ mechanism: 'plain', username: 'svc', password: '0123' });
  });
});

describe('kafka client settings: validation names the key', () => {
  const cases: ReadonlyArray<readonly [string, string, string]> = [
    ['heartbeat not below the session timeout', '{ session_timeout_ms: 10000, heartbeat_interval_ms: 10000 }', 'processor.kafka.heartbeat_interval_ms: expected an integer below session_timeout_ms (10000); a third of it is usual, got 10000'],
    ['session timeout too small', '{ session_timeout_ms: 10 }', 'processor.kafka.session_timeout_ms: expected an integer ≥ 1000, got 10'],
    ['max_poll_records zero', '{ max_poll_records: 0 }', 'processor.kafka.max_poll_records: expected an integer ≥ 1, got 0'],
    ['unknown offset reset', '{ auto_offset_reset: none }', 'processor.kafka.auto_offset_reset: expected one of earliest, latest, got "none"'],
    ['ssl not a boolean or mapping', '{ ssl: yes-please }', 'processor.kafka.ssl: expected true, false, or a mapping with keys ca_file, cert_file, key_file, reject_unauthorized, got "yes-please"'],
    ['missing CA file', '{ ssl: { ca_file: /nonexistent/ca.pem } }', 'processor.kafka.ssl.ca_file: expected a readable file (ENOENT), got "/nonexistent/ca.pem"'],
    ['unknown SASL mechanism', '{ sasl: { mechanism: gssapi, username: u, password: p } }', 'processor.kafka.sasl.mechanism: expected one of plain, scram-sha-256, scram-sha-512, got "gssapi"'],
    ['empty client id', '{ client_id: "" }', 'processor.kafka.client_id: expected a non-empty string, got ""'],
  ];
  it.each(cases)('%s', (_what, kafka, line) => {
    expect(issuesOf(`processor: { kafka: ${kafka} }`).message.split('\n')).toContain(`  ${line}`);
  });

  it('a certificate without its key names the missing key', () => {
    const dir = tempDir('kafka-tls');
    writeFileSync(join(dir, 'client.pem'), 'CERT PEM');
    const error = issuesOf('processor: { kafka: { ssl: { cert_file: client.pem } } }', {}, dir);
    expect(error.issues.map((i) => i.path)).toEqual(['processor.kafka.ssl.key_file']);
  });

  it('a password is never shown: not when invalid, not under a misspelt key, not by describeConfig', () => {
    const misspelt = issuesOf(`processor: { kafka: { sasl: { username: svc, pasword: ${PASSWORD} } } }`);
    expect(misspelt.issues.map((i) => i.path).sort()).toEqual(['processor.kafka.sasl.password', 'processor.kafka.sasl.pasword']);
    const fromEnv = issuesOf('processor: { kafka: { sasl: { username: svc } } }', { PROCESSOR_KAFKA_SASL_PASSWORD: ' ' });
    expect(fromEnv.message).toContain('processor.kafka.sasl.password (from env PROCESSOR_KAFKA_SASL_PASSWORD): expected a non-empty string (value not shown)');
    const wrongType = issuesOf(`processor: { kafka: { sasl: "${PASSWORD}" } }`);
    for (const error of [misspelt, fromEnv, wrongType]) {
      expect(error.message).not.toContain(PASSWORD);
      expect(JSON.stringify(error.issues)).not.toContain(PASSWORD);
    }
    const config = parseConfig('processor: { kafka: { sasl: { mechanism: scram-sha-512, username: svc } } }', { PROCESSOR_KAFKA_SASL_PASSWORD: PASSWORD });
    const described = describeConfig(config);
    expect(described).not.toContain(PASSWORD);
    expect(described).toContain('password: (hidden)');
  });
});
