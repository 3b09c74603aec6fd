import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/index.js';

const cwd = '/srv/processor';

describe('defaults', () => {
  it('an empty document takes every default from DESIGN.md', () => {
    expect(parseConfig('', {}, { cwd })).toEqual({
      source: { type: 'file', path: '/srv/processor/data/sample-events.ndjson' },
      sink: { type: 'file', path: '/srv/processor/out/metrics.ndjson' },
      dead_letter: { type: 'file', path: '/srv/processor/out/dead-letter.ndjson', max_raw_bytes: 65_536 },
      state: { backend: 'level', path: '/srv/processor/data/state' },
      checkpoint_interval_secs: 60,
      buffer_size: 10_000,
      parallelism: 1,
      processing_guarantee: 'at_least_once',
      event: { time_field: 'timestamp', key_fields: ['model'], metric_fields: [], max_future_secs: 86_400 },
      windows: {
        default_type: 'tumbling',
        tumbling: { size_secs: 300, allowed_lateness_secs: 60 },
        sliding: { size_secs: 300, slide_secs: 60, allowed_lateness_secs: 60 },
        session: { gap_secs: 120, allowed_lateness_secs: 60 },
      },
      watermark: { strategy: 'bounded_out_of_orderness', max_out_of_orderness_secs: 30, idle_timeout_secs: 60 },
      emit: { early_interval_secs: 0 },
      aggregation: {
        enabled: ['count', 'sum', 'average', 'min', 'max', 'percentile', 'stddev'],
        percentiles: [50, 95, 99],
      },
      kafka: {
        consumer: { bootstrap_servers: ['localhost:9092'], group_id: 'processor-group', topics: ['feedback-events'] },
        producer: { result_topic: 'aggregated-metrics', dead_letter_topic: 'feedback-events-dlq' },
        repartition: 'auto',
        session_timeout_ms: 30_000,
        heartbeat_interval_ms: 3_000,
        auto_offset_reset: 'earliest',
      },
      metrics: { port: 9464, host: '0.0.0.0' },
      log: { level: 'info' },
    });
  });

  it('treats a comment-only file, `processor: {}` and an empty `processor:` like an empty one', () => {
    const empty = parseConfig('', {}, { cwd });
    expect(parseConfig('# nothing here\n', {}, { cwd })).toEqual(empty);
    expect(parseConfig('processor: {}', {}, { cwd })).toEqual(empty);
    expect(parseConfig('processor:\n  kafka:\n', {}, { cwd })).toEqual(empty);
    expect(parseConfig({}, {}, { cwd })).toEqual(empty);
  });

  it('fills the keys a partial mapping leaves out', () => {
    const config = parseConfig('processor: { windows: { sliding: { slide_secs: 30 } }, kafka: { consumer: { group_id: g } } }', {}, { cwd });
    expect(config.windows.sliding).toEqual({ size_secs: 300, slide_secs: 30, allowed_lateness_secs: 60 });
    expect(config.kafka.consumer).toEqual({ bootstrap_servers: ['localhost:9092'], group_id: 'g', topics: ['feedback-events'] });
    expect(config.kafka.topic_partitions).toBeUndefined();
  });

  it('resolves relative paths against the working directory and keeps absolute ones', () => {
    const config = parseConfig('processor: { source: { path: in.ndjson }, sink: { path: /tmp/out.ndjson } }', {}, { cwd });
    expect(config.source).toEqual({ type: 'file', path: '/srv/processor/in.ndjson' });
    expect(config.sink).toEqual({ type: 'file', path: '/tmp/out.ndjson' });
    expect(parseConfig('', {}).state).toEqual({ backend: 'level', path: path.resolve('data/state') });
  });

  it('gives non-file sources and sinks no path', () => {
    const config = parseConfig('processor: { source: { type: stdin }, sink: { type: stdout }, dead_letter: { type: stderr }, state: { backend: memory } }', {});
    expect(config.source).toEqual({ type: 'stdin' });
    expect(config.sink).toEqual({ type: 'stdout' });
    expect(config.dead_letter).toEqual({ type: 'stderr', max_raw_bytes: 65_536 });
    expect(config.state).toEqual({ backend: 'memory' });
  });

  it('accepts brokers as a comma-separated string or a list, and a slide that does not divide the size', () => {
    const config = parseConfig(
      'processor: { kafka: { consumer: { bootstrap_servers: "a:9092, b:9093,[::1]:9094" } }, windows: { sliding: { size_secs: 300, slide_secs: 70 } } }',
      {},
    );
    expect(config.kafka.consumer.bootstrap_servers).toEqual(['a:9092', 'b:9093', '[::1]:9094']);
    expect(config.windows.sliding.slide_secs).toBe(70);
    expect(parseConfig('processor: { kafka: { consumer: { bootstrap_servers: [a:1, b:2] } } }', {}).kafka.consumer.bootstrap_servers).toEqual(['a:1', 'b:2']);
  });

  it('returns a frozen configuration', () => {
    const config = parseConfig('', {});
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.windows.tumbling)).toBe(true);
    expect(Object.isFrozen(config.aggregation.percentiles)).toBe(true);
  });
});
