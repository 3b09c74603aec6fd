/**
 * The validated configuration. Keys keep the YAML's snake_case spelling so that
 * one name serves the file, the error messages (`processor.windows.sliding.slide_secs`),
 * the generic environment overrides (`PROCESSOR__WINDOWS__SLIDING__SLIDE_SECS`),
 * the docs and the code. Durations are whole seconds, as in the file; convert
 * to milliseconds where the stream model needs them. Paths are absolute
 * (resolved against the working directory at load time). Every object is frozen.
 *
 * `ProcessorConfig` is what the YAML's top-level `processor:` key holds.
 */

import type { WindowType } from '@llm-feedback/stream-operators';

export const SOURCE_TYPES = ['file', 'stdin', 'kafka'] as const;
export const SINK_TYPES = ['file', 'stdout', 'kafka'] as const;
/** stderr lets a shell pipeline keep dead letters apart from results on stdout. */
export const DEAD_LETTER_TYPES = ['file', 'stdout', 'stderr', 'kafka'] as const;
export const STATE_BACKENDS = ['memory', 'level'] as const;
export const WINDOW_TYPES = ['tumbling', 'sliding', 'session'] as const satisfies readonly WindowType[];
export const WATERMARK_STRATEGIES = ['bounded_out_of_orderness'] as const;
export const REPARTITION_MODES = ['auto', 'always', 'never'] as const;
export const SASL_MECHANISMS = ['plain', 'scram-sha-256', 'scram-sha-512'] as const;
export const OFFSET_RESETS = ['earliest', 'latest'] as const;
export const PROCESSING_GUARANTEES = ['at_least_once', 'exactly_once'] as const;
export const AGGREGATIONS = ['count', 'sum', 'average', 'min', 'max', 'percentile', 'stddev'] as const;
/** pino's levels; `silent` turns logging off (tests, pipelines that own stderr). */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

// The stream model's union: configuration and operators name one type.
export type { WindowType };
export type Aggregation = (typeof AGGREGATIONS)[number];
export type LogLevel = (typeof LOG_LEVELS)[number];
export type RepartitionMode = (typeof REPARTITION_MODES)[number];
export type SaslMechanism = (typeof SASL_MECHANISMS)[number];
export type OffsetReset = (typeof OFFSET_RESETS)[number];

/**
 * TLS to the brokers (`ssl: true` is `{ reject_unauthorized: true }` with the system's CAs).
 * Files are PEM, read when the clients connect.
 */
export interface KafkaTlsConfig {
  readonly ca_file?: string;
  /** With `key_file`: a client certificate (mutual TLS). */
  readonly cert_file?: string;
  readonly key_file?: string;
  /** `false` accepts any broker certificate: for tests only. */
  readonly reject_unauthorized: boolean;
}

export interface KafkaSaslConfig {
  readonly mechanism: SaslMechanism;
  readonly username: string;
  /** Never printed: `describeConfig` and validation messages hide it. */
  readonly password: string;
}
export type ProcessingGuarantee = (typeof PROCESSING_GUARANTEES)[number];

/** Reads NDJSON from `path`, NDJSON lines from stdin, or `kafka.consumer.topics`. */
export type SourceConfig =
  | { readonly type: 'file'; readonly path: string }
  | { readonly type: 'stdin' }
  | { readonly type: 'kafka' };

/** Writes NDJSON to `path` or stdout, or produces to `kafka.producer.result_topic`. */
export type SinkConfig =
  | { readonly type: 'file'; readonly path: string }
  | { readonly type: 'stdout' }
  | { readonly type: 'kafka' };

/**
 * Like the sink; `kafka` produces to `kafka.producer.dead_letter_topic`.
 * `max_raw_bytes` caps each dead letter's `raw` (UTF-8 bytes; see `events/dead-letter.ts`).
 */
export type DeadLetterConfig = (
  | { readonly type: 'file'; readonly path: string }
  | { readonly type: 'stdout' }
  | { readonly type: 'stderr' }
  | { readonly type: 'kafka' }
) & { readonly max_raw_bytes: number };

export type StateConfig =
  | { readonly backend: 'memory' }
  | { readonly backend: 'level'; readonly path: string };

export interface EventConfig {
  /** Field holding the event time: ISO-8601 string or epoch milliseconds. */
  readonly time_field: string;
  /** Fields whose values form the grouping key (at least one). */
  readonly key_fields: readonly string[];
  /** Fields of `metrics` to aggregate; empty means every numeric field. */
  readonly metric_fields: readonly string[];
  /** Event times further than this ahead of the wall clock are dead letters (`future_timestamp`); 0 turns the check off. */
  readonly max_future_secs: number;
}

/** One named window spec of `windows.specs`: its name, type and that type's settings. */
export type NamedWindowSpecConfig = { readonly name: string; readonly allowed_lateness_secs: number } & (
  | { readonly type: 'tumbling'; readonly size_secs: number }
  | { readonly type: 'sliding'; readonly size_secs: number; readonly slide_secs: number }
  | { readonly type: 'session'; readonly gap_secs: number }
);

export interface WindowsConfig {
  readonly default_type: WindowType;
  /**
   * Named window specs computed in one pass, e.g. a 1-minute and a 1-hour tumbling window
   * (each result carries `window.spec`, its name). Not with `types`; when present, the
   * type sections and `default_type` are not used.
   */
  readonly specs?: readonly NamedWindowSpecConfig[];
  /**
   * Several window types computed in one pass (each with its section's settings; each result
   * carries its `window.type`). Absent: `[default_type]`. See `windowSpecs` (src/pipeline/windowing.ts).
   */
  readonly types?: readonly WindowType[];
  readonly tumbling: { readonly size_secs: number; readonly allowed_lateness_secs: number };
  /** `slide_secs ≤ size_secs`; it need not divide `size_secs` (windows start at every multiple of the slide). */
  readonly sliding: { readonly size_secs: number; readonly slide_secs: number; readonly allowed_lateness_secs: number };
  readonly session: { readonly gap_secs: number; readonly allowed_lateness_secs: number };
}

export interface EmitConfig {
  /**
   * Every this many seconds of processing time, an early result (`"early": true`, revision −1)
   * of each open window that took records since its last one; 0 = none. Unbounded sources only.
   */
  readonly early_interval_secs: number;
}

export interface WatermarkConfig {
  readonly strategy: (typeof WATERMARK_STRATEGIES)[number];
  readonly max_out_of_orderness_secs: number;
  /** A partition silent this long stops holding the watermark back. */
  readonly idle_timeout_secs: number;
}

export interface AggregationConfig {
  readonly enabled: readonly Aggregation[];
  /** Each in (0, 100]; used when `enabled` includes `percentile`. */
  readonly percentiles: readonly number[];
}

export interface KafkaConfig {
  readonly consumer: {
    /** `host:port` entries; the file may give a comma-separated string or a list. */
    readonly bootstrap_servers: readonly string[];
    readonly group_id: string;
    readonly topics: readonly string[];
  };
  readonly producer: { readonly result_topic: string; readonly dead_letter_topic: string };
  /** When set, missing topics are created with this many partitions; when absent, none are created. */
  readonly topic_partitions?: number;
  /**
   * The compacted topic holding the tasks' state (DESIGN.md "Scale-out"), co-partitioned with
   * the input; default `<group_id>-state`. Created when missing.
   */
  readonly state_topic?: string;
  /**
   * Whether the tasks read the input through `<group_id>-repartition`, keyed by the key
   * fields (DESIGN.md "Scale-out"): `auto` decides from the input (src/repartition/decide.ts).
   */
  readonly repartition: RepartitionMode;
  /** The client id of every Kafka client of the service (quotas, ACLs, broker logs); absent: one per role. */
  readonly client_id?: string;
  /** Absent: plaintext. */
  readonly ssl?: KafkaTlsConfig;
  readonly sasl?: KafkaSaslConfig;
  /**
   * Records of one fetched partition batch handed to the pipeline before the source fetches
   * again (kafkajs has no `max.poll.records`: the rest of the batch is fetched anew). Absent:
   * the whole batch, which `max.partition.fetch.bytes` (1 MiB) bounds.
   */
  readonly max_poll_records?: number;
  readonly session_timeout_ms: number;
  readonly heartbeat_interval_ms: number;
  /** Where a partition without state (and a group without committed offsets) starts reading. */
  readonly auto_offset_reset: OffsetReset;
}

export interface ProcessorConfig {
  readonly source: SourceConfig;
  readonly sink: SinkConfig;
  readonly dead_letter: DeadLetterConfig;
  readonly state: StateConfig;
  /** Seconds, fractions allowed (with `exactly_once` results become visible at each checkpoint). */
  readonly checkpoint_interval_secs: number;
  /**
   * Kafka → Kafka only. `exactly_once`: each checkpoint is one Kafka transaction per task
   * (results, dead letters, state-topic changes and consumer offsets); see README.md.
   */
  readonly processing_guarantee: ProcessingGuarantee;
  /** Records in flight downstream before the Kafka source pauses (resumes below half). */
  readonly buffer_size: number;
  /** Worker threads, each owning a share of the tasks (`auto` is resolved to the number of cores). */
  readonly parallelism: number;
  readonly event: EventConfig;
  readonly windows: WindowsConfig;
  readonly watermark: WatermarkConfig;
  readonly emit: EmitConfig;
  readonly aggregation: AggregationConfig;
  readonly kafka: KafkaConfig;
  /**
   * The HTTP endpoint. `port` 0 lets the OS pick a free port (tests, several
   * instances on one host); `host` is the bind address, an IP address or host name.
   */
  readonly metrics: { readonly port: number; readonly host: string };
  readonly log: { readonly level: LogLevel };
}

/** The window types a job computes: `windows.types`, else `windows.default_type` alone. */
