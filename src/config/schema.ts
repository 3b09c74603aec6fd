/**
 * The configuration schema: every key, its accepted values and its default
 * (DESIGN.md's example values). Defaults live here only; README.md in this
 * folder mirrors them for readers.
 */
import { isIP } from 'node:net';
import { availableParallelism } from 'node:os';
import { DEFAULT_MAX_RAW_BYTES } from '../events/dead-letter.js';
import {
  AGGREGATIONS,
  DEAD_LETTER_TYPES,
  LOG_LEVELS,
  OFFSET_RESETS,
  SASL_MECHANISMS,
  PROCESSING_GUARANTEES,
  REPARTITION_MODES,
  SINK_TYPES,
  SOURCE_TYPES,
  STATE_BACKENDS,
  WATERMARK_STRATEGIES,
  WINDOW_TYPES,
  type KafkaTlsConfig,
  type NamedWindowSpecConfig,
  type ProcessorConfig,
  type WindowsConfig,
} from './types.js';
import {
  boolean,
  filePath,
  isMapping,
  readableFile,
  secret,
  integer,
  list,
  mapping,
  numberIn,
  oneOf,
  optional,
  report,
  string,
  variant,
  type ReadContext,
  type Spec,
} from './spec.js';

const MAX_PORT = 65_535;
// Kafka's own rule for topic names (kafka.common.internals.Topic).
const TOPIC = /^[A-Za-z0-9._-]{1,249}$/;
const TOPIC_DESCRIPTION = 'a Kafka topic name (1–249 of A–Z a–z 0–9 . _ -)';
// host:port or [ipv6]:port; the port range is checked separately.
const BROKER = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+):(\d{1,5})$/;
const BROKERS_EXPECTED = 'host:port entries, comma-separated or as a list (e.g. "localhost:9092")';
// RFC 1123 host names: dot-separated labels of letters, digits and inner hyphens, 253 characters at most.
const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const BIND_HOST_EXPECTED = 'an IP address or host name to bind (e.g. "0.0.0.0", "127.0.0.1", "::")';

const seconds = (min: number, defaultValue: number): Spec<number> => integer({ min, default: defaultValue });
/**
 * Seconds between checkpoints; fractions allowed: with `exactly_once` results become visible
 * at each checkpoint, so 0.1 gives about 100 ms of latency. The floor keeps a typo in the
 * unit (0.0001) from turning into a transaction per record.
 */
const checkpointInterval: Spec<number> = {
  read(value, at, ctx) {
    if (value === undefined) return 60;
    if (typeof value === 'number' && Number.isFinite(value) && value >= 0.01) return value;
    return report(ctx, at, 'a number of seconds ≥ 0.01 (fractions allowed, e.g. 0.1)', value);
  },
};
const fieldName = string({ description: 'a non-empty field name' });
/**
 * The cap on a dead letter's `raw`, UTF-8 bytes. The ceiling keeps the worst case
 * under Kafka's default 1 MB message limit: JSON escapes a control byte as six
 * (`\u0000`), so 128 KiB of raw become at most 768 KiB of message.
 */
const MAX_RAW_BYTES_CEILING = 128 * 1024;
const maxRawBytes = integer({ min: 1, max: MAX_RAW_BYTES_CEILING, default: DEFAULT_MAX_RAW_BYTES });
const topic = (defaultValue: string): Spec<string> =>
  string({ default: defaultValue, pattern: TOPIC, description: TOPIC_DESCRIPTION });

/** Accepts `"a:9092,b:9092"` (the env var's natural form) or `[a:9092, b:9092]`. */
const brokers: Spec<readonly string[]> = {
  read(value, at, ctx) {
    if (value === undefined) return ['localhost:9092'];
    const entries =
      typeof value === 'string' ? value.split(',').map((s) => s.trim()) : Array.isArray(value) ? value : undefined;
    if (entries === undefined || entries.length === 0) return report(ctx, at, BROKERS_EXPECTED, value);
    const bad = entries.filter((entry: unknown) => !validBroker(entry));
    if (bad.length === 0) return entries as string[];
    return report(ctx, at, `${BROKERS_EXPECTED}; not host:port with a port 1–${MAX_PORT}: ${bad.map((b) => JSON.stringify(b)).join(', ')}`, value);
  },
};

/** Worker threads: an integer ≥ 1, or `auto` for one per core the process may use. */
const parallelism: Spec<number> = {
  read(value, at, ctx) {
    if (value === undefined) return 1;
    if (value === 'auto') return availableParallelism();
    if (typeof value === 'number' && Number.isInteger(value) && value >= 1) return value;
    return report(ctx, at, 'an integer ≥ 1 or "auto" (one per core)', value);
  },
};

/** A spec name: it files the spec's stored windows and appears in results (`window.spec`). */
const SPEC_NAME = /^[A-Za-z0-9_-]{1,64}$/;
const specName = string({ pattern: SPEC_NAME, description: 'a spec name (1–64 of A–Z a–z 0–9 _ -)' });
const specSize = integer({ min: 1 });
const specLateness = integer({ min: 0 });
const namedSpecVariant = variant(
  'type',
  {
    tumbling: { name: specName, size_secs: specSize, allowed_lateness_secs: specLateness },
    sliding: { name: specName, size_secs: specSize, slide_secs: specSize, allowed_lateness_secs: specLateness },
    session: { name: specName, gap_secs: specSize, allowed_lateness_secs: specLateness },
  },
  'tumbling',
);
/** One of `windows.specs`: every key of its type required (its `type` too), none of another type's. */
const namedSpec: Spec<NamedWindowSpecConfig> = {
  read(value, at, ctx) {
    if (isMapping(value) && value['type'] === undefined) return report(ctx, `${at}.type`, `one of ${WINDOW_TYPES.join(', ')}`, undefined);
    return namedSpecVariant.read(value, at, ctx);
  },
};

/** `windows.specs` and `windows.types` exclude each other; spec names are unique; a slide fits its size. */
function checkWindows(windows: WindowsConfig, at: string, ctx: ReadContext): void {
  if (windows.specs === undefined) return;
  if (windows.types !== undefined) report(ctx, `${at}.types`, 'no types together with specs (name each window in specs instead)', windows.types);
  const seen = new Set<string>();
  windows.specs.forEach((spec, i) => {
    if (seen.has(spec.name)) report(ctx, `${at}.specs[${i}].name`, 'a name no other spec has', spec.name);
    seen.add(spec.name);
    if (spec.type === 'sliding' && spec.slide_secs > spec.size_secs) report(ctx, `${at}.specs[${i}].slide_secs`, `a number ≤ size_secs (${spec.size_secs})`, spec.slide_secs);
  });
}

/** The HTTP endpoint's bind address: checked here so a typo fails at start, not as a listen error. */
const bindHost: Spec<string> = {
  read(value, at, ctx) {
    if (value === undefined) return '0.0.0.0';
    if (typeof value === 'string' && (isIP(value) !== 0 || HOSTNAME.test(value))) return value;
    return report(ctx, at, BIND_HOST_EXPECTED, value);
  },
};

function validBroker(entry: unknown): boolean {
  if (typeof entry !== 'string') return false;
  const match = BROKER.exec(entry);
  const port = Number(match?.[1]);
  return match !== null && port >= 1 && port <= MAX_PORT;
}

const tlsFiles = mapping(
  { ca_file: optional(readableFile()), cert_file: optional(readableFile()), key_file: optional(readableFile()), reject_unauthorized: boolean(true) },
  (tls, at, ctx) => {
    // A certificate without its key (or the reverse) cannot authenticate: say which one is missing.
    if (tls.cert_file !== undefined && tls.key_file === undefined) report(ctx, `${at}.key_file`, 'a key file with cert_file (mutual TLS needs both)', undefined);
    if (tls.key_file !== undefined && tls.cert_file === undefined) report(ctx, `${at}.cert_file`, 'a certificate file with key_file (mutual TLS needs both)', undefined);
  },
);

/** `ssl: true` (the system's CAs), `false`/absent (plaintext), or a mapping of PEM files. */
const ssl: Spec<KafkaTlsConfig | undefined> = {
  read(value, at, ctx) {
    if (value === undefined || value === false) return undefined;
    if (value === true) return { reject_unauthorized: true };
    if (isMapping(value)) return tlsFiles.read(value, at, ctx);
    return report(ctx, at, 'true, false, or a mapping with keys ca_file, cert_file, key_file, reject_unauthorized', value);
  },
};

const saslCredentials = { username: string({}), password: string({}) };
/** Values under `sasl` are never shown in messages (the password may be misspelt under any key). */
const sasl = secret(
  variant('mechanism', { plain: saslCredentials, 'scram-sha-256': saslCredentials, 'scram-sha-512': saslCredentials }, SASL_MECHANISMS[0]),
  ['mechanism', 'username'],
);

const processorSpec: Spec<ProcessorConfig> = mapping(
  {
    source: variant('type', { file: { path: filePath('data/sample-events.ndjson') }, stdin: {}, kafka: {} }, 'file'),
    sink: variant('type', { file: { path: filePath('out/metrics.ndjson') }, stdout: {}, kafka: {} }, 'file'),
    dead_letter: variant(
      'type',
      {
        file: { path: filePath('out/dead-letter.ndjson'), max_raw_bytes: maxRawBytes },
        stdout: { max_raw_bytes: maxRawBytes },
        stderr: { max_raw_bytes: maxRawBytes },
        kafka: { max_raw_bytes: maxRawBytes },
      },
      'file',
    ),
    state: variant('backend', { memory: {}, level: { path: filePath('data/state') } }, 'level'),
    checkpoint_interval_secs: checkpointInterval,
    buffer_size: integer({ min: 1, default: 10_000 }),
    parallelism,
    processing_guarantee: oneOf(PROCESSING_GUARANTEES, 'at_least_once'),
    event: mapping({
      time_field: string({ default: 'timestamp', description: 'a non-empty field name' }),
      key_fields: list(fieldName, { default: ['model'], minItems: 1, itemsName: 'field names' }),
      metric_fields: list(fieldName, { default: [], minItems: 0, itemsName: 'field names' }),
      // A day: beyond any real clock skew, short of what a wrong unit (seconds × 1000 twice) gives.
      max_future_secs: seconds(0, 86_400),
    }),
    windows: mapping({
      default_type: oneOf(WINDOW_TYPES, 'tumbling'),
      types: optional(list(oneOf(WINDOW_TYPES, 'tumbling'), { default: [], minItems: 1, itemsName: `window types (${WINDOW_TYPES.join(', ')})` })),
      specs: optional(list(namedSpec, { default: [], minItems: 1, itemsName: 'window specs' })),
      tumbling: mapping({ size_secs: seconds(1, 300), allowed_lateness_secs: seconds(0, 60) }),
      sliding: mapping(
        { size_secs: seconds(1, 300), slide_secs: seconds(1, 60), allowed_lateness_secs: seconds(0, 60) },
        (sliding, at, ctx) => {
          if (sliding.slide_secs > sliding.size_secs) {
            report(ctx, `${at}.slide_secs`, `a number ≤ size_secs (${sliding.size_secs})`, sliding.slide_secs);
          }
        },
      ),
      session: mapping({ gap_secs: seconds(1, 120), allowed_lateness_secs: seconds(0, 60) }),
    }, checkWindows),
    watermark: mapping({
      strategy: oneOf(WATERMARK_STRATEGIES, 'bounded_out_of_orderness'),
      max_out_of_orderness_secs: seconds(0, 30),
      idle_timeout_secs: seconds(1, 60),
    }),
    emit: mapping({ early_interval_secs: seconds(0, 0) }),
    aggregation: mapping(
      {
        enabled: list(oneOf(AGGREGATIONS, 'count'), {
          default: AGGREGATIONS,
          minItems: 1,
          itemsName: `aggregations (${AGGREGATIONS.join(', ')})`,
        }),
        percentiles: list(numberIn({ above: 0, atMost: 100 }), {
          default: [50, 95, 99],
          minItems: 0,
          itemsName: 'percentiles',
        }),
      },
      (aggregation, at, ctx) => {
        if (aggregation.enabled.includes('percentile') && aggregation.percentiles.length === 0) {
          report(ctx, `${at}.percentiles`, 'a list of 1 or more percentiles while enabled includes percentile', []);
        }
      },
    ),
    kafka: mapping({
      consumer: mapping({
        bootstrap_servers: brokers,
        group_id: string({ default: 'processor-group' }),
        topics: list(string({ pattern: TOPIC, description: TOPIC_DESCRIPTION }), { default: ['feedback-events'], minItems: 1, itemsName: 'topic names' }),
      }),
      producer: mapping({
        result_topic: topic('aggregated-metrics'),
        dead_letter_topic: topic('feedback-events-dlq'),
      }),
      topic_partitions: optional(integer({ min: 1, default: 1 })),
      state_topic: optional(string({ pattern: TOPIC, description: TOPIC_DESCRIPTION })),
      repartition: oneOf(REPARTITION_MODES, 'auto'),
      client_id: optional(string({})),
      ssl,
      sasl: optional(sasl),
      max_poll_records: optional(integer({ min: 1, default: 1 })),
      // Kafka's defaults; the broker accepts session timeouts within group.min/max.session.timeout.ms (6 s–30 min by default).
      session_timeout_ms: integer({ min: 1_000, default: 30_000 }),
      heartbeat_interval_ms: integer({ min: 100, default: 3_000 }),
      auto_offset_reset: oneOf(OFFSET_RESETS, 'earliest'),
    }, (kafka, at, ctx) => {
      // The coordinator evicts a member that has not heartbeated within the session timeout.
      if (kafka.heartbeat_interval_ms >= kafka.session_timeout_ms) {
        report(ctx, `${at}.heartbeat_interval_ms`, `an integer below session_timeout_ms (${kafka.session_timeout_ms}); a third of it is usual`, kafka.heartbeat_interval_ms);
      }
    }),
    metrics: mapping({ port: integer({ min: 0, max: MAX_PORT, default: 9464 }), host: bindHost }),
    log: mapping({ level: oneOf(LOG_LEVELS, 'info') }),
  },
  (config, at, ctx) => {
    // stdin cannot be replayed: a checkpoint's offset could never be resumed from, so
    // durable state would only claim a recovery that cannot happen.
    if (config.source.type === 'stdin' && config.state.backend === 'level') {
      report(ctx, `${at}.state.backend`, 'memory while source.type is stdin (stdin cannot be replayed, so checkpoints could not recover it)', 'level');
    }
    // Results and dead letters on one stream would be unparseable for the consumer.
    if (config.sink.type === 'stdout' && config.dead_letter.type === 'stdout') {
      report(ctx, `${at}.dead_letter.type`, 'not stdout while sink.type is stdout (use stderr or file)', 'stdout');
    }
    if (config.sink.type === 'file' && config.dead_letter.type === 'file' && config.sink.path === config.dead_letter.path) {
      report(ctx, `${at}.dead_letter.path`, `a different file from sink.path (${config.sink.path})`, config.dead_letter.path);
    }
    if (config.processing_guarantee === 'exactly_once') exactlyOnceNeeds(config, at, ctx);
    if (config.sink.type === 'kafka' && config.dead_letter.type === 'kafka') {
      const { result_topic, dead_letter_topic } = config.kafka.producer;
      if (result_topic === dead_letter_topic) {
        report(ctx, `${at}.kafka.producer.dead_letter_topic`, `a different topic from result_topic (${result_topic})`, dead_letter_topic);
      }
    }
  },
);

/**
 * `exactly_once` covers Kafka → Kafka only: one transaction holds the results, dead letters,
 * state and offsets. The repartition stage writes outside the tasks' transactions, so the
 * input must already be keyed by the key fields (`kafka.repartition: never`).
 */
function exactlyOnceNeeds(config: ProcessorConfig, at: string, ctx: ReadContext): void {
  const why = 'while processing_guarantee is exactly_once (a Kafka transaction covers Kafka topics only)';
  if (config.source.type !== 'kafka') report(ctx, `${at}.source.type`, `kafka ${why}`, config.source.type);
  if (config.sink.type !== 'kafka') report(ctx, `${at}.sink.type`, `kafka ${why}`, config.sink.type);
  if (config.dead_letter.type !== 'kafka') report(ctx, `${at}.dead_letter.type`, `kafka ${why}`, config.dead_letter.type);
  if (config.kafka.repartition !== 'never') {
    report(ctx, `${at}.kafka.repartition`, 'never while processing_guarantee is exactly_once (the repartition stage is not transactional: the input must be keyed by the key fields)', config.kafka.repartition);
  }
}

/** The document's root: a single `processor` key (absent means all defaults). */
export const rootSpec: Spec<{ processor: ProcessorConfig }> = mapping({ processor: processorSpec });
