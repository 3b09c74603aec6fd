/**
 * `createPipeline()`: the seed's fluent builder, and the one way a job is assembled — the
 * YAML service builds its job here too (`createPipeline().withConfig(config)`).
 *
 * ```ts
 * const job = createPipeline()
 *   .withKafkaSource({ brokers: 'localhost:9092', topics: ['feedback-events'], groupId: 'processor-group' })
 *   .withWatermarkGenerator({ maxOutOfOrdernessSecs: 30, idleTimeoutSecs: 60 })
 *   .withTumblingWindow({ sizeSecs: 300, allowedLatenessSecs: 60 })
 *   .withStateBackend({ backend: 'level', path: 'data/state' })
 *   .withKafkaSink({ topic: 'aggregated-metrics' })
 *   .build();
 * const summary = await job.run({ signal });
 * ```
 *
 * Every step sets keys of the configuration (DESIGN.md's shape), so `build()` validates
 * with the same rules and messages as a YAML file, and the job runs as the service's does.
 * Window steps with a `name` add named specs (`windows.specs`: e.g. a 1-minute and a 1-hour
 * tumbling window in one pass); without one, window types (`windows.types`). The two do not mix.
 */
import { parseConfig, type Aggregation, type ProcessorConfig, type WindowType } from '../config/index.js';
import type { Logger, ProcessorMetrics, ProgressReporter } from '../observability/index.js';
import type { AggregateView } from '@llm-feedback/stream-operators';
import type { FeedbackPipelineHooks, FeedbackResult } from '../pipeline/feedback-pipeline.js';
import { runLineJob } from '../runner/file-job.js';
import type { JobSummary } from '../runner/job-stats.js';
import { ChannelOutputs, type CustomOutputs } from '../runner/outputs.js';
import type { PartitionedSource, Sink, Source } from './plugins.js';

/** The YAML document under `processor:`, as plain data (snake_case keys, seconds). */
export type SettingsDocument = Record<string, unknown>;

export interface KafkaSourceSpec {
  /** `host:port` entries, or one comma-separated string. */
  readonly brokers: string | readonly string[];
  readonly topics: readonly string[];
  readonly groupId: string;
}

export interface RunOptions {
  /** Stops the job: a final checkpoint (durable state), else every window flushed (bounded input runs to its end without it). */
  readonly signal?: AbortSignal;
  readonly logger?: Logger;
  readonly metrics?: ProcessorMetrics;
  /** Called once state is restored and input is about to be read. */
  readonly onReady?: () => void;
  /** The open windows, for queries and gauges. */
  readonly onWindows?: (view: AggregateView<FeedbackResult>) => void;
  /** Kafka jobs: whether the brokers answer, on every change. */
  readonly onBrokerReachable?: (reachable: boolean) => void;
  /** Line jobs: progress over the input. */
  readonly progress?: ProgressReporter;
}

/** A validated job, ready to run. */
export interface Pipeline {
  readonly config: ProcessorConfig;
  run(options?: RunOptions): Promise<JobSummary>;
}

export class PipelineBuilder {
  private document: SettingsDocument = {};
  private source: Source | PartitionedSource | undefined;
  private sinks: { results?: Sink; deadLetters?: Sink } = {};
  private windows: WindowType[] = [];
  /** Named window specs (`windows.specs`), in the order added. */
  private namedSpecs: SettingsDocument[] = [];
  private base: ProcessorConfig | undefined;

  /** Starts from a validated configuration (the YAML service); later steps override its keys. */
  withConfig(config: ProcessorConfig): this {
    this.base = config;
    return this;
  }

  /** Sets keys as YAML would (`{ checkpoint_interval_secs: 10, event: { key_fields: [model, variant] } }`), merged into what is set. */
  withSettings(settings: SettingsDocument): this {
    this.document = merge(this.document, settings);
    return this;
  }

  withKafkaSource(spec: KafkaSourceSpec): this {
    this.source = undefined;
    return this.withSettings({
      source: { type: 'kafka' },
      kafka: { consumer: { bootstrap_servers: spec.brokers, topics: spec.topics, group_id: spec.groupId } },
    });
  }

  withFileSource(path: string): this {
    this.source = undefined;
    return this.withSettings({ source: { type: 'file', path } });
  }

  withStdinSource(): this {
    this.source = undefined;
    return this.withSettings({ source: { type: 'stdin' } });
  }

  /**
   * Any `Source` (one partition, read by the line job) or `PartitionedSource` (partitions that
   * come and go, read by the task runner as Kafka's are), see `plugins.ts`; the configured
   * `source` is then ignored.
   */
  withSource(source: Source | PartitionedSource): this {
    this.source = source;
    return this;
  }

  /** Where the event time and the key come from (`event.time_field`, `event.key_fields`), and which metrics count. */
  withEvents(spec: { timeField?: string; keyFields?: readonly string[]; metricFields?: readonly string[]; maxFutureSecs?: number }): this {
    return this.withSettings({
      event: defined({ time_field: spec.timeField, key_fields: spec.keyFields, metric_fields: spec.metricFields, max_future_secs: spec.maxFutureSecs }),
    });
  }

  withWatermarkGenerator(spec: { maxOutOfOrdernessSecs?: number; idleTimeoutSecs?: number }): this {
    return this.withSettings({ watermark: defined({ max_out_of_orderness_secs: spec.maxOutOfOrdernessSecs, idle_timeout_secs: spec.idleTimeoutSecs }) });
  }

  /** `name`: a named spec (`windows.specs`; `allowedLatenessSecs` then required). */
  withTumblingWindow(spec: { name?: string; sizeSecs: number; allowedLatenessSecs?: number }): this {
    return this.window('tumbling', spec.name, { size_secs: spec.sizeSecs, allowed_lateness_secs: spec.allowedLatenessSecs });
  }

  /** `name`: a named spec (`windows.specs`; `allowedLatenessSecs` then required). */
  withSlidingWindow(spec: { name?: string; sizeSecs: number; slideSecs: number; allowedLatenessSecs?: number }): this {
    return this.window('sliding', spec.name, { size_secs: spec.sizeSecs, slide_secs: spec.slideSecs, allowed_lateness_secs: spec.allowedLatenessSecs });
  }

  /** `name`: a named spec (`windows.specs`; `allowedLatenessSecs` then required). */
  withSessionWindow(spec: { name?: string; gapSecs: number; allowedLatenessSecs?: number }): this {
    return this.window('session', spec.name, { gap_secs: spec.gapSecs, allowed_lateness_secs: spec.allowedLatenessSecs });
  }

  withAggregations(spec: { enabled?: readonly Aggregation[]; percentiles?: readonly number[] }): this {
    return this.withSettings({ aggregation: defined({ enabled: spec.enabled, percentiles: spec.percentiles }) });
  }

  /** Early results of open windows every `intervalSecs` of processing time (`emit.early_interval_secs`). */
  withEarlyResults(intervalSecs: number): this {
    return this.withSettings({ emit: { early_interval_secs: intervalSecs } });
  }

  withStateBackend(state: { backend: 'memory' } | { backend: 'level'; path: string }): this {
    return this.withSettings({ state });
  }

  withCheckpointInterval(secs: number): this {
    return this.withSettings({ checkpoint_interval_secs: secs });
  }

  /** Results to a file, stdout, or any `Sink`. */
  withSink(sink: { type: 'file'; path: string } | { type: 'stdout' } | Sink): this {
    if (isSink(sink)) {
      this.sinks.results = sink;
      return this;
    }
    delete this.sinks.results;
    return this.withSettings({ sink });
  }

  /** Results to a Kafka topic (the source's brokers, or `brokers`). */
  withKafkaSink(spec: { topic: string; brokers?: string | readonly string[] }): this {
    delete this.sinks.results;
    return this.withSettings({ sink: { type: 'kafka' }, kafka: defined({ producer: { result_topic: spec.topic }, consumer: spec.brokers === undefined ? undefined : { bootstrap_servers: spec.brokers } }) });
  }

  /** Dead letters (invalid and too-late records) to a file, stdout, stderr, a Kafka topic, or any `Sink`. */
  withDeadLetterSink(sink: { type: 'file'; path: string } | { type: 'stdout' } | { type: 'stderr' } | { type: 'kafka'; topic: string } | Sink): this {
    if (isSink(sink)) {
      this.sinks.deadLetters = sink;
      return this;
    }
    delete this.sinks.deadLetters;
    if (sink.type === 'kafka') return this.withSettings({ dead_letter: { type: 'kafka' }, kafka: { producer: { dead_letter_topic: sink.topic } } });
    return this.withSettings({ dead_letter: sink });
  }

  /**
   * Validates everything set (the configuration's rules, `ConfigError` naming each bad key)
   * and how the parts fit: a custom `Source` with durable state must be replayable, and
   * exactly-once needs the Kafka source (its transactions are Kafka's).
   */
  build(): Pipeline {
    const windows = this.windowSettings();
    const document = merge(merge(this.base === undefined ? {} : (toDocument(this.base) as SettingsDocument), this.document), windows);
    // A custom source replaces the configured one, which is then validated as the default file
    // source (never read); whether it can be checkpointed is checked below.
    const sourceStandIn = this.source === undefined ? {} : { source: { type: 'file' } };
    const source = this.source;
    if (source !== undefined && document.processing_guarantee === 'exactly_once') {
      throw new Error('createPipeline: processing_guarantee exactly_once needs the Kafka source (withKafkaSource): a custom source\'s reads cannot join Kafka transactions');
    }
    const config = parseConfig({ processor: merge(document, sourceStandIn) }, {});
    if (source !== undefined && !isPartitioned(source) && !source.replayable && config.state.backend === 'level') {
      throw new Error('createPipeline: a source that is not replayable cannot use state.backend level (a checkpoint could never be resumed from); use withStateBackend({ backend: "memory" })');
    }
    const sinks: CustomOutputs = { ...this.sinks };
    return {
      config,
      run: (options = {}) => run(config, source, sinks, options),
    };
  }

  private window(type: WindowType, name: string | undefined, settings: SettingsDocument): this {
    if (name !== undefined) {
      this.namedSpecs.push(defined({ name, type, ...settings }));
      return this;
    }
    if (!this.windows.includes(type)) this.windows.push(type);
    return this.withSettings({ windows: { [type]: defined(settings) } });
  }

  /** The `windows` keys the window steps set; named and unnamed ones together are passed on for the configuration to refuse. */
  private windowSettings(): SettingsDocument {
    const types = this.windows.length === 0 ? {} : { default_type: this.windows[0], ...(this.windows.length > 1 || this.namedSpecs.length > 0 ? { types: this.windows } : {}) };
    const specs = this.namedSpecs.length === 0 ? {} : { specs: this.namedSpecs };
    return this.windows.length === 0 && this.namedSpecs.length === 0 ? {} : { windows: { ...types, ...specs } };
  }
}

export function createPipeline(): PipelineBuilder {
  return new PipelineBuilder();
}

async function run(config: ProcessorConfig, source: Source | PartitionedSource | undefined, sinks: CustomOutputs, options: RunOptions): Promise<JobSummary> {
  const { logger, metrics } = options;
  const hooks: FeedbackPipelineHooks = options.onWindows === undefined ? {} : { onWindowState: options.onWindows };
  const partitioned = source !== undefined && isPartitioned(source) ? source : undefined;
  const lineSource = source !== undefined && !isPartitioned(source) ? source : undefined;
  if (partitioned !== undefined || (source === undefined && config.source.type === 'kafka')) {
    // Task jobs. A partitioned source always writes through outputs opened here; a Kafka job
    // opens the configured ones itself unless a sink is custom.
    const custom = partitioned !== undefined || sinks.results !== undefined || sinks.deadLetters !== undefined;
    const outputs = custom ? await ChannelOutputs.open(config, { logger, metrics }, sinks) : undefined;
    const signal = options.signal ?? new AbortController().signal;
    try {
      if (partitioned !== undefined && outputs !== undefined) {
        const { runPartitionedJob } = await import('../runner/partitioned-job.js');
        return await runPartitionedJob({ config, source: partitioned, outputs, signal, logger, metrics, onReady: options.onReady, onWindows: options.onWindows });
      }
      // Loaded on demand: file and stdin jobs do not load the Kafka client.
      const { runKafkaJob } = await import('../runner/kafka-job.js');
      return await runKafkaJob({
        config,
        signal,
        ...defined({ outputs, logger, metrics, onReady: options.onReady, onWindows: options.onWindows, onBrokerReachable: options.onBrokerReachable }),
      });
    } finally {
      await outputs?.close();
    }
  }
  return runLineJob({ config, hooks, sinks, ...defined({ source: lineSource, logger, metrics, signal: options.signal, onReady: options.onReady, progress: options.progress }) });
}

function isPartitioned(source: Source | PartitionedSource): source is PartitionedSource {
  return typeof (source as Partial<PartitionedSource>).assignments === 'object';
}

function isSink(value: object): value is Sink {
  return typeof (value as Partial<Sink>).write === 'function';
}

/** `value` without its undefined fields (the configuration treats a present key as set). */
function defined<T extends Record<string, unknown>>(value: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as { [K in keyof T]?: Exclude<T[K], undefined> };
}

/** A deep merge of plain mappings; lists and other values of `over` replace those of `base`. */
function merge(base: SettingsDocument, over: SettingsDocument): SettingsDocument {
  const out: SettingsDocument = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const previous = out[key];
    out[key] = isPlain(value) && isPlain(previous) ? merge(previous, value) : value;
  }
  return out;
}

const isPlain = (value: unknown): value is SettingsDocument => typeof value === 'object' && value !== null && !Array.isArray(value);

/** A validated configuration as a document again (frozen objects copied, so merges can extend them). */
function toDocument(config: ProcessorConfig): unknown {
  return structuredClone(config);
}

