import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../src/config/index.js';

/** Parses `processor: <body>` and returns the error it must throw. */
function rejectionOf(body: string): ConfigError {
  try {
    parseConfig(`processor: ${body}`, {});
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error(`expected a ConfigError for ${body}`);
}

// [what is wrong, YAML under `processor:`, key path named, line in the message]
const badConfigs: ReadonlyArray<readonly [string, string, string, string]> = [
  ['unknown top-level key', '{ windowz: {} }', 'processor.windowz', 'processor.windowz: unknown key, expected one of source, sink, dead_letter, state, checkpoint_interval_secs, buffer_size, parallelism, processing_guarantee, event, windows, watermark, emit, aggregation, kafka, metrics, log (did you mean windows?)'],
  ['parallelism 0', '{ parallelism: 0 }', 'processor.parallelism', 'processor.parallelism: expected an integer ≥ 1 or "auto" (one per core), got 0'],
  ['parallelism as a word other than auto', '{ parallelism: all }', 'processor.parallelism', 'processor.parallelism: expected an integer ≥ 1 or "auto" (one per core), got "all"'],
  ['unknown nested key', '{ windows: { tumbling: { size: 300 } } }', 'processor.windows.tumbling.size', 'processor.windows.tumbling.size: unknown key, expected one of size_secs, allowed_lateness_secs (did you mean size_secs?)'],
  ['unknown source type', '{ source: { type: s3 } }', 'processor.source.type', 'processor.source.type: expected one of file, stdin, kafka, got "s3"'],
  ['stderr is not a sink', '{ sink: { type: stderr } }', 'processor.sink.type', 'processor.sink.type: expected one of file, stdout, kafka, got "stderr"'],
  ['path with a kafka source', '{ source: { type: kafka, path: x.ndjson } }', 'processor.source.path', 'processor.source.path: expected no path with type kafka (path applies to type file only), got "x.ndjson"'],
  ['path with the memory backend', '{ state: { backend: memory, path: data/state } }', 'processor.state.path', 'processor.state.path: expected no path with backend memory (path applies to backend level only), got "data/state"'],
  ['empty path', '{ sink: { path: "" } }', 'processor.sink.path', 'processor.sink.path: expected a non-empty file path, got ""'],
  ['number as a string', '{ checkpoint_interval_secs: "60" }', 'processor.checkpoint_interval_secs', 'processor.checkpoint_interval_secs: expected a number of seconds ≥ 0.01 (fractions allowed, e.g. 0.1), got "60"'],
  ['checkpoint interval too short', '{ checkpoint_interval_secs: 0.001 }', 'processor.checkpoint_interval_secs', 'processor.checkpoint_interval_secs: expected a number of seconds ≥ 0.01 (fractions allowed, e.g. 0.1), got 0.001'],
  ['unknown processing guarantee', '{ processing_guarantee: exactly-once }', 'processor.processing_guarantee', 'processor.processing_guarantee: expected one of at_least_once, exactly_once, got "exactly-once"'],
  ['exactly_once with a file sink', '{ processing_guarantee: exactly_once, source: { type: kafka }, dead_letter: { type: kafka }, kafka: { repartition: never } }', 'processor.sink.type', 'processor.sink.type: expected kafka while processing_guarantee is exactly_once (a Kafka transaction covers Kafka topics only), got "file"'],
  ['exactly_once with repartitioned input', '{ processing_guarantee: exactly_once, source: { type: kafka }, sink: { type: kafka }, dead_letter: { type: kafka } }', 'processor.kafka.repartition', 'processor.kafka.repartition: expected never while processing_guarantee is exactly_once (the repartition stage is not transactional: the input must be keyed by the key fields), got "auto"'],
  ['zero buffer', '{ buffer_size: 0 }', 'processor.buffer_size', 'processor.buffer_size: expected an integer ≥ 1, got 0'],
  ['fractional buffer', '{ buffer_size: 10.5 }', 'processor.buffer_size', 'processor.buffer_size: expected an integer ≥ 1, got 10.5'],
  ['empty key_fields', '{ event: { key_fields: [] } }', 'processor.event.key_fields', 'processor.event.key_fields: expected a list of 1 or more field names, got [] (an empty list)'],
  ['key_fields not a list', '{ event: { key_fields: model } }', 'processor.event.key_fields', 'processor.event.key_fields: expected a list of 1 or more field names, got "model"'],
  ['non-string metric field', '{ event: { metric_fields: [latency_ms, 7] } }', 'processor.event.metric_fields[1]', 'processor.event.metric_fields[1]: expected a non-empty field name, got 7'],
  ['unknown window type', '{ windows: { default_type: hopping } }', 'processor.windows.default_type', 'processor.windows.default_type: expected one of tumbling, sliding, session, got "hopping"'],
  ['negative window size', '{ windows: { tumbling: { size_secs: -300 } } }', 'processor.windows.tumbling.size_secs', 'processor.windows.tumbling.size_secs: expected an integer ≥ 1, got -300'],
  ['zero window size', '{ windows: { sliding: { size_secs: 0 } } }', 'processor.windows.sliding.size_secs', 'processor.windows.sliding.size_secs: expected an integer ≥ 1, got 0'],
  ['negative lateness', '{ windows: { session: { allowed_lateness_secs: -1 } } }', 'processor.windows.session.allowed_lateness_secs', 'processor.windows.session.allowed_lateness_secs: expected an integer ≥ 0, got -1'],
  ['slide larger than size', '{ windows: { sliding: { size_secs: 300, slide_secs: 600 } } }', 'processor.windows.sliding.slide_secs', 'processor.windows.sliding.slide_secs: expected a number ≤ size_secs (300), got 600'],
  ['zero session gap', '{ windows: { session: { gap_secs: 0 } } }', 'processor.windows.session.gap_secs', 'processor.windows.session.gap_secs: expected an integer ≥ 1, got 0'],
  ['unknown watermark strategy', '{ watermark: { strategy: punctuated } }', 'processor.watermark.strategy', 'processor.watermark.strategy: expected one of bounded_out_of_orderness, got "punctuated"'],
  ['zero idle timeout', '{ watermark: { idle_timeout_secs: 0 } }', 'processor.watermark.idle_timeout_secs', 'processor.watermark.idle_timeout_secs: expected an integer ≥ 1, got 0'],
  ['unknown aggregation', '{ aggregation: { enabled: [count, median] } }', 'processor.aggregation.enabled[1]', 'processor.aggregation.enabled[1]: expected one of count, sum, average, min, max, percentile, stddev, got "median"'],
  ['no aggregation', '{ aggregation: { enabled: [] } }', 'processor.aggregation.enabled', 'processor.aggregation.enabled: expected a list of 1 or more aggregations (count, sum, average, min, max, percentile, stddev), got [] (an empty list)'],
  ['percentile 0', '{ aggregation: { percentiles: [0, 50] } }', 'processor.aggregation.percentiles[0]', 'processor.aggregation.percentiles[0]: expected a number > 0 and ≤ 100, got 0'],
  ['percentile above 100', '{ aggregation: { percentiles: [50, 100.5] } }', 'processor.aggregation.percentiles[1]', 'processor.aggregation.percentiles[1]: expected a number > 0 and ≤ 100, got 100.5'],
  ['duplicate percentile', '{ aggregation: { percentiles: [50, 95, 50] } }', 'processor.aggregation.percentiles[2]', 'processor.aggregation.percentiles[2]: expected no duplicate percentiles, got 50'],
  ['no percentiles while percentile is enabled', '{ aggregation: { percentiles: [] } }', 'processor.aggregation.percentiles', 'processor.aggregation.percentiles: expected a list of 1 or more percentiles while enabled includes percentile, got [] (an empty list)'],
  ['empty topic list', '{ kafka: { consumer: { topics: [] } } }', 'processor.kafka.consumer.topics', 'processor.kafka.consumer.topics: expected a list of 1 or more topic names, got [] (an empty list)'],
  ['invalid topic name', '{ kafka: { producer: { result_topic: "my topic" } } }', 'processor.kafka.producer.result_topic', 'processor.kafka.producer.result_topic: expected a Kafka topic name (1–249 of A–Z a–z 0–9 . _ -), got "my topic"'],
  ['broker without port', '{ kafka: { consumer: { bootstrap_servers: "a:9092,b" } } }', 'processor.kafka.consumer.bootstrap_servers', 'processor.kafka.consumer.bootstrap_servers: expected host:port entries, comma-separated or as a list (e.g. "localhost:9092"); not host:port with a port 1–65535: "b", got "a:9092,b"'],
  ['zero topic partitions', '{ kafka: { topic_partitions: 0 } }', 'processor.kafka.topic_partitions', 'processor.kafka.topic_partitions: expected an integer ≥ 1, got 0'],
  ['port out of range', '{ metrics: { port: 70000 } }', 'processor.metrics.port', 'processor.metrics.port: expected an integer from 0 to 65535, got 70000'],
  ['stdin with durable state', '{ source: { type: stdin }, state: { backend: level, path: s } }', 'processor.state.backend', 'processor.state.backend: expected memory while source.type is stdin (stdin cannot be replayed, so checkpoints could not recover it), got "level"'],
  ['stdin with the default state backend (level)', '{ source: { type: stdin } }', 'processor.state.backend', 'processor.state.backend: expected memory while source.type is stdin (stdin cannot be replayed, so checkpoints could not recover it), got "level"'],
  ['bind address with a port', '{ metrics: { host: "localhost:9464" } }', 'processor.metrics.host', 'processor.metrics.host: expected an IP address or host name to bind (e.g. "0.0.0.0", "127.0.0.1", "::"), got "localhost:9464"'],
  ['bind address that is a URL', '{ metrics: { host: "http://0.0.0.0" } }', 'processor.metrics.host', 'processor.metrics.host: expected an IP address or host name to bind (e.g. "0.0.0.0", "127.0.0.1", "::"), got "http://0.0.0.0"'],
  ['bind address that is not a string', '{ metrics: { host: 8080 } }', 'processor.metrics.host', 'processor.metrics.host: expected an IP address or host name to bind (e.g. "0.0.0.0", "127.0.0.1", "::"), got 8080'],
  ['unknown log level', '{ log: { level: verbose } }', 'processor.log.level', 'processor.log.level: expected one of trace, debug, info, warn, error, fatal, silent, got "verbose"'],
  ['mapping given a scalar', '{ watermark: 30 }', 'processor.watermark', 'processor.watermark: expected a mapping with keys strategy, max_out_of_orderness_secs, idle_timeout_secs, got 30'],
  ['results and dead letters both on stdout', '{ sink: { type: stdout }, dead_letter: { type: stdout } }', 'processor.dead_letter.type', 'processor.dead_letter.type: expected not stdout while sink.type is stdout (use stderr or file), got "stdout"'],
  ['dead letters into the results file', '{ sink: { path: out/x.ndjson }, dead_letter: { path: out/x.ndjson } }', 'processor.dead_letter.path', 'processor.dead_letter.path: expected a different file from sink.path'],
  ['dead-letter raw cap of 0', '{ dead_letter: { type: stderr, max_raw_bytes: 0 } }', 'processor.dead_letter.max_raw_bytes', 'processor.dead_letter.max_raw_bytes: expected an integer from 1 to 131072, got 0'],
  ['dead-letter raw cap beyond what a Kafka message holds escaped', '{ dead_letter: { type: kafka, max_raw_bytes: 1048576 } }', 'processor.dead_letter.max_raw_bytes', 'processor.dead_letter.max_raw_bytes: expected an integer from 1 to 131072, got 1048576'],
  ['negative future bound', '{ event: { max_future_secs: -1 } }', 'processor.event.max_future_secs', 'processor.event.max_future_secs: expected an integer ≥ 0, got -1'],
  ['fractional future bound', '{ event: { max_future_secs: 1.5 } }', 'processor.event.max_future_secs', 'processor.event.max_future_secs: expected an integer ≥ 0, got 1.5'],
  ['dead letters into the result topic', '{ sink: { type: kafka }, dead_letter: { type: kafka }, kafka: { producer: { dead_letter_topic: aggregated-metrics } } }', 'processor.kafka.producer.dead_letter_topic', 'processor.kafka.producer.dead_letter_topic: expected a different topic from result_topic (aggregated-metrics), got "aggregated-metrics"'],
];

describe('validation', () => {
  it.each(badConfigs)('%s', (_what, body, keyPath, line) => {
    const error = rejectionOf(body);
    expect(error.issues.map((issue) => issue.path)).toEqual([keyPath]);
    expect(error.message.split('\n')[0]).toBe('invalid configuration (1 problem):');
    expect(error.message).toContain(`\n  ${line}`);
  });

  it('collects every problem, one per line, in document order', () => {
    const error = rejectionOf('{ buffer_size: -1, windows: { tumbling: { size_secs: 0 } }, metrics: { port: -1 }, bogus: 1 }');
    expect(error.issues.map((issue) => issue.path)).toEqual([
      'processor.bogus',
      'processor.buffer_size',
      'processor.windows.tumbling.size_secs',
      'processor.metrics.port',
    ]);
    expect(error.message.split('\n')).toHaveLength(5);
    expect(error.message.split('\n')[0]).toBe('invalid configuration (4 problems):');
  });

  it('keeps the message short for a file that is no config: 20 issues listed, long key names cut', () => {
    const keys = Array.from({ length: 50 }, (_, i) => `KEY_${i}: v`).join('\n');
    let error: unknown;
    try {
      parseConfig(`${keys}\n${'k'.repeat(200)}: v\n`, {});
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const { issues, message } = error as ConfigError;
    expect(issues).toHaveLength(51);
    const lines = message.split('\n');
    expect(lines).toHaveLength(22);
    expect(lines.at(-1)).toBe('  … and 31 more');
    expect(rejectionOf(`{ ${'k'.repeat(200)}: v }`).message).toContain(`  ${`processor.${'k'.repeat(200)}`.slice(0, 79)}…: unknown key`);
  });

  it('takes parallelism as a count or auto (the number of cores)', () => {
    expect(parseConfig('processor: { parallelism: 3 }', {}).parallelism).toBe(3);
    expect(parseConfig('processor: { parallelism: auto }', {}).parallelism).toBe(availableParallelism());
    expect(parseConfig('', { PROCESSOR_PARALLELISM: '2' }).parallelism).toBe(2);
  });

  it('rejects a document that is not a mapping, and unknown keys beside processor', () => {
    expect(() => parseConfig('- a\n- b\n', {})).toThrow('(document root): expected a mapping with keys processor; the document is a list (content not shown)');
    expect(() => parseConfig('processr: {}', {})).toThrow('processr: unknown key, expected one of processor (did you mean processor?)');
  });

  it('takes max_raw_bytes under every dead-letter type, and max_future_secs 0 (check off)', () => {
    for (const type of ['file', 'stdout', 'stderr', 'kafka']) {
      expect(parseConfig(`processor: { sink: { type: file }, dead_letter: { type: ${type}, max_raw_bytes: 100 } }`, {}).dead_letter.max_raw_bytes).toBe(100);
    }
    expect(parseConfig('processor: { event: { max_future_secs: 0 } }', {}).event.max_future_secs).toBe(0);
  });

  it('accepts port 0 (OS-assigned), IP addresses and host names to bind, and a slide equal to the size', () => {
    expect(parseConfig('processor: { metrics: { port: 0 } }', {}).metrics.port).toBe(0);
    for (const host of ['127.0.0.1', '::', '::1', 'localhost', 'metrics.internal.example.com']) {
      expect(parseConfig(`processor: { metrics: { host: "${host}" } }`, {}).metrics.host).toBe(host);
    }
    expect(parseConfig('processor: { windows: { sliding: { size_secs: 60, slide_secs: 60 } } }', {}).windows.sliding.slide_secs).toBe(60);
  });
});
