import type { DeadLetterConfig, ProcessorConfig, SinkConfig } from '../config/index.js';
import { formatDeadLetter, formatWindowResult, toWindowOutput } from '../events/index.js';
import { FileSink, fileSink, streamSink, type LineSink } from '../io/index.js';
import type { KafkaSink, KafkaSinkOptions } from '../kafka/index.js';
import type { Logger, ProcessorMetrics } from '../observability/index.js';
import type { FeedbackWindowResult } from '../pipeline/feedback-pipeline.js';

/** A dead letter on its way out: DESIGN.md's `{"reason", "raw"}` plus context fields. */
export interface DeadLetterOut {
  readonly reason: string;
  readonly raw: string;
  readonly extra?: Readonly<Record<string, unknown>>;
}

/**
 * Where a job's results and dead letters go. Writes are synchronous and buffered
 * (the pipeline is synchronous); `flush` waits until everything written is safe.
 */
export interface JobOutputs {
  /** Writes a result; for outputs that acknowledge each message (Kafka), the promise of that acknowledgement. */
  writeResult(result: FeedbackWindowResult, emittedAt: number): Promise<void> | undefined;
  writeDeadLetter(deadLetter: DeadLetterOut): void;
  /** Records written but not yet acknowledged: what backpressure watches. */
  readonly inFlight: number;
  /** Output positions a checkpoint records (file byte lengths), by output name; empty where output cannot be rewound. */
  positions(): Record<string, number>;
  /**
   * Cuts outputs back to positions a checkpoint recorded (outputs it does not
   * name start empty), so a restarted run neither tears nor repeats a line.
   * Outputs that cannot be rewound (stdout, Kafka) are left alone.
   */
  rewindTo(positions: Readonly<Record<string, number>>): Promise<void>;
  flush(): Promise<void>;
  close(): Promise<void>;
}

/** One output stream of NDJSON lines: a line sink, or a Kafka topic (the line is the message value). */
export interface OutputChannel {
  /** Buffers the line; a Kafka channel returns the promise of the broker's acknowledgement. */
  write(line: string, key?: string): Promise<void> | undefined;
  readonly inFlight: number;
  flush(): Promise<void>;
  close(): Promise<void>;
  /** File channels only: byte length and truncation, for exactly-once recovery. */
  readonly file?: FileSink;
}

const lineChannel = (sink: LineSink): OutputChannel => ({
  write: (line) => {
    sink.write(line);
    return undefined;
  },
  get inFlight() {
    return sink.linesInFlight;
  },
  flush: () => sink.flush(),
  close: () => sink.close(),
  ...(sink instanceof FileSink ? { file: sink } : {}),
});

/**
 * A Kafka topic as a channel. Sends run in the background; a failed send is kept
 * and thrown by the next write and by `flush`, so it stops the job.
 */
function kafkaChannel(sink: KafkaSink): OutputChannel {
  let failure: unknown;
  const remember = (error: unknown): void => {
    failure ??= error;
  };
  return {
    write(line, key) {
      if (failure !== undefined) throw failure;
      const acked = sink.write({ key: key ?? null, value: line });
      acked.catch(remember);
      return acked;
    },
    get inFlight() {
      return sink.inFlight;
    },
    async flush() {
      await sink.flush().catch(remember);
      if (failure !== undefined) throw failure;
    },
    close: () => sink.close(),
  };
}

/** Where a job reports what its outputs do on their own (dropped dead letters). */
export interface OutputObservers {
  readonly logger?: Logger;
  readonly metrics?: ProcessorMetrics;
}

/**
 * Opens an output. `onRejected` (Kafka only): what to do with a message the broker
 * refuses for itself; without it such a refusal stops the job, as any send error does.
 */
export async function openChannel(
  target: SinkConfig | DeadLetterConfig,
  topic: string,
  config: ProcessorConfig,
  onRejected?: KafkaSinkOptions['onRejected'],
): Promise<OutputChannel> {
  switch (target.type) {
    case 'file':
      return lineChannel(fileSink(target.path));
    case 'stdout':
      return lineChannel(streamSink(process.stdout));
    case 'stderr':
      return lineChannel(streamSink(process.stderr));
    case 'kafka': {
      // Loaded on demand: runs without Kafka do not pay for the client at start-up.
      const { kafkaSink } = await import('../kafka/sink.js');
      return kafkaChannel(kafkaSink({ brokers: config.kafka.consumer.bootstrap_servers, topic, onRejected }));
    }
  }
}

/** Results and dead letters, each on its own channel. */
export class ChannelOutputs implements JobOutputs {
  constructor(
    readonly results: OutputChannel,
    readonly deadLetters: OutputChannel,
    /** `dead_letter.max_raw_bytes`: every dead letter's `raw` is capped here, too-late records included. */
    private readonly maxRawBytes?: number,
  ) {}

  /**
   * The outputs `sink` and `dead_letter` name. A dead letter the broker refuses
   * (too large even after the raw cap, say) is logged, counted and dropped: dead
   * letters must not stop the job. A refused result still does: a lost result is
   * lost data.
   */
  static async open(config: ProcessorConfig, observers: OutputObservers = {}): Promise<ChannelOutputs> {
    const topic = config.kafka.producer.dead_letter_topic;
    const dropDeadLetter: KafkaSinkOptions['onRejected'] = (error, message) => {
      observers.metrics?.deadLettersDropped.inc();
      observers.logger?.error({ err: error, topic, bytes: Buffer.byteLength(message.value) }, 'dead letter dropped: the broker rejected it');
    };
    const results = await openChannel(config.sink, config.kafka.producer.result_topic, config);
    try {
      const deadLetters = await openChannel(config.dead_letter, topic, config, dropDeadLetter);
      return new ChannelOutputs(results, deadLetters, config.dead_letter.max_raw_bytes);
    } catch (error) {
      void results.close();
      throw error;
    }
  }

  writeResult(result: FeedbackWindowResult, emittedAt: number): Promise<void> | undefined {
    // The Kafka message key is the joined key fields, so one key's results share a partition.
    return this.results.write(formatWindowResult(toWindowOutput(result, emittedAt)), result.key);
  }

  writeDeadLetter({ reason, raw, extra }: DeadLetterOut): void {
    this.deadLetters.write(formatDeadLetter(reason, raw, extra, this.maxRawBytes));
  }

  get inFlight(): number {
    return this.results.inFlight + this.deadLetters.inFlight;
  }

  positions(): Record<string, number> {
    const positions: Record<string, number> = {};
    if (this.results.file !== undefined) positions['results'] = this.results.file.position();
    if (this.deadLetters.file !== undefined) positions['dead_letter'] = this.deadLetters.file.position();
    return positions;
  }

  async rewindTo(positions: Readonly<Record<string, number>>): Promise<void> {
    await this.results.file?.truncateTo(positions['results'] ?? 0);
    await this.deadLetters.file?.truncateTo(positions['dead_letter'] ?? 0);
  }

  async flush(): Promise<void> {
    await Promise.all([this.results.flush(), this.deadLetters.flush()]);
  }

  /** Closes both channels even if one fails, then reports the first failure. */
  async close(): Promise<void> {
    const outcomes = await Promise.allSettled([this.results.close(), this.deadLetters.close()]);
    const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
  }
}
