import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, describeConfig, loadConfig, parseConfig } from '../../src/config/index.js';

describe('bundled configuration files', () => {
  it('config/default.yaml runs on the sample without Kafka or LevelDB', async () => {
    const config = await loadConfig('config/default.yaml', {});
    expect(config.source).toEqual({ type: 'file', path: path.resolve('data/sample-events.ndjson') });
    expect(config.sink).toEqual({ type: 'file', path: path.resolve('out/metrics.ndjson') });
    expect(config.dead_letter).toEqual({ type: 'file', path: path.resolve('out/dead-letter.ndjson'), max_raw_bytes: 65_536 });
    expect(config.state).toEqual({ backend: 'memory' });
    expect(config.windows.default_type).toBe('tumbling');
    expect(config.windows.tumbling).toEqual({ size_secs: 300, allowed_lateness_secs: 60 });
    expect(config.watermark).toMatchObject({ max_out_of_orderness_secs: 30, idle_timeout_secs: 60 });
    expect(config.aggregation.enabled).toHaveLength(7);
    expect(config.aggregation.percentiles).toEqual([50, 95, 99]);
    expect(config.metrics.port).toBe(9464);
  });

  it('config/kafka.yaml reads and writes Kafka and keeps state in LevelDB', async () => {
    const config = await loadConfig('config/kafka.yaml', {});
    expect(config.source).toEqual({ type: 'kafka' });
    expect(config.sink).toEqual({ type: 'kafka' });
    expect(config.dead_letter).toEqual({ type: 'kafka', max_raw_bytes: 65_536 });
    expect(config.state).toEqual({ backend: 'level', path: path.resolve('data/state') });
    expect(config.kafka.consumer).toEqual({
      bootstrap_servers: ['127.0.0.1:9092'],
      group_id: 'processor-group',
      topics: ['feedback-events'],
    });
    expect(config.kafka.producer).toEqual({ result_topic: 'aggregated-metrics', dead_letter_topic: 'feedback-events-dlq' });
  });

  it('config/managed-kafka.yaml is the seed\'s example on a managed Kafka: TLS, SASL with the password from the environment', async () => {
    const secret = 'not-in-the-file-42';
    const config = await loadConfig('config/managed-kafka.yaml', { PROCESSOR_KAFKA_SASL_PASSWORD: secret, PROCESSOR_KAFKA_BROKERS: 'b-1.example:9096,b-2.example:9096' });
    expect(config.source).toEqual({ type: 'kafka' });
    expect(config.sink).toEqual({ type: 'kafka' });
    expect(config.kafka).toMatchObject({
      consumer: { bootstrap_servers: ['b-1.example:9096', 'b-2.example:9096'], group_id: 'processor-group', topics: ['feedback-events'] },
      client_id: 'feedback-processor',
      ssl: { reject_unauthorized: true },
      sasl: { mechanism: 'scram-sha-512', username: 'feedback-processor', password: secret },
      max_poll_records: 500,
      session_timeout_ms: 30_000,
      heartbeat_interval_ms: 3_000,
      auto_offset_reset: 'earliest',
    });
    expect(config.windows).toMatchObject({ default_type: 'tumbling', sliding: { size_secs: 300, slide_secs: 60 }, session: { gap_secs: 120 } });
    expect(config.emit.early_interval_secs).toBe(30);
    expect(describeConfig(config)).not.toContain(secret);
    // Without the variable the file is incomplete, and the message says which key is missing.
    await expect(loadConfig('config/managed-kafka.yaml', {})).rejects.toThrow(/processor\.kafka\.sasl\.password: expected a non-empty string$/m);
  });

  it('config/stdin.yaml sits in a shell pipeline: stdin in, stdout out, logs and dead letters elsewhere', async () => {
    const config = await loadConfig('config/stdin.yaml', {});
    expect(config.source).toEqual({ type: 'stdin' });
    expect(config.sink).toEqual({ type: 'stdout' });
    expect(config.dead_letter).toEqual({ type: 'file', path: path.resolve('out/dead-letter.ndjson'), max_raw_bytes: 65_536 });
    expect(config.state).toEqual({ backend: 'memory' });
    expect(config.metrics.port).toBe(0);
  });

  it('names the file and the reason when it cannot be read or parsed', async () => {
    await expect(loadConfig('config/does-not-exist.yaml', {})).rejects.toThrow(/config\/does-not-exist\.yaml[\s\S]*ENOENT/);
    const dir = await mkdtemp(path.join(os.tmpdir(), 'config-test-'));
    const broken = path.join(dir, 'broken.yaml');
    await writeFile(broken, 'processor:\n  windows: [unclosed\n');
    const error: unknown = await loadConfig(broken, {}).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toContain(broken);
    expect((error as ConfigError).message).toMatch(/valid YAML: .+ \(line 3, column 1\)$/m);
    // js-yaml's message quotes the input around the error; ours must not.
    expect((error as ConfigError).message).not.toContain('unclosed');
  });

  it('rejects several YAML documents in one file', () => {
    expect(() => parseConfig('processor: {}\n---\nprocessor: {}\n', {})).toThrow(/a single YAML document, found 2/);
  });
});

describe('describeConfig', () => {
  it.each(['config/default.yaml', 'config/kafka.yaml'])('round-trips %s through parseConfig', async (file) => {
    const config = await loadConfig(file, {});
    expect(parseConfig(describeConfig(config), {})).toEqual(config);
  });

  it('round-trips a configuration using every variant, optional key and env override', () => {
    const config = parseConfig(
      'processor: { source: { type: stdin }, sink: { type: stdout }, dead_letter: { type: stderr }, state: { backend: memory }, kafka: { topic_partitions: 6 } }',
      { PROCESSOR_KAFKA_BROKERS: 'a:1,b:2', PROCESSOR_GROUP_ID: '0123', PROCESSOR__EVENT__KEY_FIELDS: '[model, variant]', PROCESSOR__AGGREGATION__PERCENTILES: '[99.9, 100]' },
    );
    const text = describeConfig(config);
    expect(text).toMatch(/^processor:\n/);
    expect(text).toContain('topic_partitions: 6');
    expect(parseConfig(text, {})).toEqual(config);
  });

  it('prints shared default lists in full rather than as YAML anchors', () => {
    expect(describeConfig(parseConfig('', {}))).not.toMatch(/[&*]ref/);
  });
});
