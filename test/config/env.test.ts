import { describe, expect, it } from 'vitest';
import { ConfigError, ENV_OVERRIDES, parseConfig } from '../../src/config/index.js';

const cwd = '/srv/processor';

function errorFrom(yaml: string, env: Record<string, string>): ConfigError {
  try {
    parseConfig(yaml, env, { cwd });
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('environment overrides', () => {
  it('applies every named variable over the file', () => {
    const config = parseConfig(
      'processor: { log: { level: info }, metrics: { port: 9464 }, buffer_size: 5 }',
      {
        PROCESSOR_KAFKA_BROKERS: 'kafka-0:9092,kafka-1:9092',
        PROCESSOR_GROUP_ID: 'team-a',
        PROCESSOR_LOG_LEVEL: 'debug',
        PROCESSOR_METRICS_PORT: '9100',
        PROCESSOR_STATE_PATH: 'state-dir',
        PROCESSOR_SOURCE_PATH: '/data/in.ndjson',
        PROCESSOR_SINK_PATH: 'results.ndjson',
        PROCESSOR_DEAD_LETTER_PATH: 'dlq.ndjson',
        PROCESSOR_CHECKPOINT_INTERVAL_SECS: '15',
        PROCESSOR_BUFFER_SIZE: '20000',
      },
      { cwd },
    );
    expect(config.kafka.consumer.bootstrap_servers).toEqual(['kafka-0:9092', 'kafka-1:9092']);
    expect(config.kafka.consumer.group_id).toBe('team-a');
    expect(config.log.level).toBe('debug');
    expect(config.metrics.port).toBe(9100);
    expect(config.state).toEqual({ backend: 'level', path: '/srv/processor/state-dir' });
    expect(config.source).toEqual({ type: 'file', path: '/data/in.ndjson' });
    expect(config.sink).toEqual({ type: 'file', path: '/srv/processor/results.ndjson' });
    expect(config.dead_letter).toEqual({ type: 'file', path: '/srv/processor/dlq.ndjson', max_raw_bytes: 65_536 });
    expect(config.checkpoint_interval_secs).toBe(15);
    expect(config.buffer_size).toBe(20_000);
  });

  it('documents exactly the variables it applies', () => {
    expect(ENV_OVERRIDES.map((o) => o.name)).toEqual([
      'PROCESSOR_KAFKA_BROKERS',
      'PROCESSOR_GROUP_ID',
      'PROCESSOR_KAFKA_CLIENT_ID',
      'PROCESSOR_KAFKA_SASL_USERNAME',
      'PROCESSOR_KAFKA_SASL_PASSWORD',
      'PROCESSOR_LOG_LEVEL',
      'PROCESSOR_METRICS_PORT',
      'PROCESSOR_METRICS_HOST',
      'PROCESSOR_STATE_PATH',
      'PROCESSOR_SOURCE_PATH',
      'PROCESSOR_SINK_PATH',
      'PROCESSOR_DEAD_LETTER_PATH',
      'PROCESSOR_CHECKPOINT_INTERVAL_SECS',
      'PROCESSOR_BUFFER_SIZE',
      'PROCESSOR_PARALLELISM',
    ]);
  });

  it('takes path and id variables verbatim, not as YAML', () => {
    const config = parseConfig('', { PROCESSOR_GROUP_ID: '0123', PROCESSOR_SINK_PATH: '~' }, { cwd });
    expect(config.kafka.consumer.group_id).toBe('0123');
    expect(config.sink).toEqual({ type: 'file', path: '/srv/processor/~' });
  });

  it('maps PROCESSOR__A__B__C to processor.a.b.c with a YAML value', () => {
    const config = parseConfig(
      'processor: { windows: { default_type: tumbling } }',
      {
        PROCESSOR__WINDOWS__DEFAULT_TYPE: 'sliding',
        PROCESSOR__WINDOWS__SLIDING__SLIDE_SECS: '30',
        PROCESSOR__KAFKA__CONSUMER__TOPICS: '[a, b]',
        PROCESSOR__AGGREGATION: '{ enabled: [count, percentile], percentiles: [99.9] }',
        PROCESSOR__KAFKA__TOPIC_PARTITIONS: '4',
      },
      { cwd },
    );
    expect(config.windows.default_type).toBe('sliding');
    expect(config.windows.sliding.slide_secs).toBe(30);
    expect(config.kafka.consumer.topics).toEqual(['a', 'b']);
    expect(config.aggregation).toEqual({ enabled: ['count', 'percentile'], percentiles: [99.9] });
    expect(config.kafka.topic_partitions).toBe(4);
  });

  it('ignores empty values and PROCESSOR_* names it does not know (Windows sets some)', () => {
    const config = parseConfig('', { PROCESSOR_LOG_LEVEL: '', PROCESSOR__BUFFER_SIZE: '', PROCESSOR_ARCHITECTURE: 'AMD64', PROCESSOR_LEVEL: '6' }, { cwd });
    expect(config).toEqual(parseConfig('', {}, { cwd }));
  });

  it('does not modify the document it was given', () => {
    const document = { processor: { log: { level: 'info' } } };
    parseConfig(document, { PROCESSOR_LOG_LEVEL: 'warn' });
    expect(document.processor.log.level).toBe('info');
  });

  const invalid: ReadonlyArray<readonly [string, string, Record<string, string>, string]> = [
    ['a log level outside the list', '', { PROCESSOR_LOG_LEVEL: 'loud' }, 'processor.log.level (from env PROCESSOR_LOG_LEVEL): expected one of trace, debug, info, warn, error, fatal, silent, got "loud"'],
    ['a port that is not a number', '', { PROCESSOR_METRICS_PORT: 'http' }, 'processor.metrics.port (from env PROCESSOR_METRICS_PORT): expected an integer from 0 to 65535, got "http"'],
    ['a port out of range', '', { PROCESSOR_METRICS_PORT: '65536' }, 'processor.metrics.port (from env PROCESSOR_METRICS_PORT): expected an integer from 0 to 65535, got 65536'],
    ['a broker list with a bad entry', '', { PROCESSOR_KAFKA_BROKERS: 'kafka-0:9092,kafka-1' }, 'processor.kafka.consumer.bootstrap_servers (from env PROCESSOR_KAFKA_BROKERS): expected host:port entries'],
    ['a zero buffer', '', { PROCESSOR_BUFFER_SIZE: '0' }, 'processor.buffer_size (from env PROCESSOR_BUFFER_SIZE): expected an integer ≥ 1, got 0'],
    ['a checkpoint interval below 10 ms', '', { PROCESSOR_CHECKPOINT_INTERVAL_SECS: '0.005' }, 'processor.checkpoint_interval_secs (from env PROCESSOR_CHECKPOINT_INTERVAL_SECS): expected a number of seconds ≥ 0.01 (fractions allowed, e.g. 0.1), got 0.005'],
    ['a state path with the memory backend', 'processor: { state: { backend: memory } }', { PROCESSOR_STATE_PATH: '/var/state' }, 'processor.state.path (from env PROCESSOR_STATE_PATH): expected no path with backend memory (path applies to backend level only), got "/var/state"'],
    ['a source path with a kafka source', 'processor: { source: { type: kafka } }', { PROCESSOR_SOURCE_PATH: 'x' }, 'processor.source.path (from env PROCESSOR_SOURCE_PATH): expected no path with type kafka'],
    ['a generic variable naming an unknown key', '', { PROCESSOR__WINDOWS__TUMBLING__SIZE: '60' }, 'processor.windows.tumbling.size (from env PROCESSOR__WINDOWS__TUMBLING__SIZE): unknown key, expected one of size_secs, allowed_lateness_secs (did you mean size_secs?)'],
    ['a generic variable with a bad nested value', '', { PROCESSOR__WATERMARK: '{ idle_timeout_secs: -5 }' }, 'processor.watermark.idle_timeout_secs (from env PROCESSOR__WATERMARK): expected an integer ≥ 1, got -5'],
    ['a generic variable with invalid YAML', '', { PROCESSOR__KAFKA__CONSUMER__TOPICS: '[a, b' }, 'processor.kafka.consumer.topics (from env PROCESSOR__KAFKA__CONSUMER__TOPICS): expected a YAML value'],
    ['a generic variable with an empty segment', '', { PROCESSOR__WINDOWS____SIZE_SECS: '5' }, '(environment) (from env PROCESSOR__WINDOWS____SIZE_SECS): expected PROCESSOR__ followed by key names separated by __'],
    ['a generic variable with a bad list item', '', { PROCESSOR__KAFKA__CONSUMER__TOPICS: '[ok, "bad topic"]' }, 'processor.kafka.consumer.topics[1] (from env PROCESSOR__KAFKA__CONSUMER__TOPICS): expected a Kafka topic name'],
    ['two variables for one key', '', { PROCESSOR_LOG_LEVEL: 'warn', PROCESSOR__LOG__LEVEL: 'error' }, 'processor.log.level (from env PROCESSOR__LOG__LEVEL): expected one variable per key, but PROCESSOR_LOG_LEVEL also sets it'],
    ['a slide made larger than the file size', 'processor: { windows: { sliding: { size_secs: 120 } } }', { PROCESSOR__WINDOWS__SLIDING__SLIDE_SECS: '300' }, 'processor.windows.sliding.slide_secs (from env PROCESSOR__WINDOWS__SLIDING__SLIDE_SECS): expected a number ≤ size_secs (120), got 300'],
  ];

  it.each(invalid)('rejects %s and names the variable', (_what, yaml, env, line) => {
    const error = errorFrom(yaml, env);
    expect(error.issues).toHaveLength(1);
    expect(error.message).toContain(`\n  ${line}`);
  });

  it('reports env problems together with file problems', () => {
    const error = errorFrom('processor: { buffer_size: -1 }', { PROCESSOR_METRICS_PORT: '-1' });
    expect(error.issues.map((issue) => [issue.path, issue.envVar])).toEqual([
      ['processor.buffer_size', undefined],
      ['processor.metrics.port', 'PROCESSOR_METRICS_PORT'],
    ]);
  });
});
