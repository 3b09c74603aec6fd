import { open } from 'node:fs/promises';
import { crc32 } from 'node:zlib';
import type { DeadLetterConfig, ProcessorConfig, SinkConfig } from '../config/index.js';
import { formatDeadLetter, formatWindowResult, toWindowOutput } from '../events/index.js';
import { FileSink, fileSink, streamSink, type LineSink } from '../io/index.js';
import type { KafkaSink, KafkaSinkOptions } from '../kafka/index.js';
import type { Logger, ProcessorMetrics } from '../observability/index.js';
import type { FeedbackWindowResult } from '../pipeline/feedback-pipeline.js';
import type { Checkpoint, OutputIdentity } from '../state/index.js';
import type { Sink } from '../builder/plugins.js';

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
   * What identifies each output at `positions` (taken by `positions()`, flushed
   * since), for the checkpoint: a resume checks it before cutting a file back.
   */
  identify(positions: Readonly<Record<string, number>>): Promise<Record<string, OutputIdentity>>;
  /**
   * Cuts outputs back to the positions the checkpoint recorded, so a restarted
   * run neither tears nor repeats a line; without a checkpoint (a fresh start)
   * they start empty. Outputs that cannot be rewound (stdout, Kafka) are left
   * alone. Throws {@link OutputMismatchError}, touching nothing, when a file is
   * not the one the checkpoint wrote.
   */
  rewindTo(checkpoint: Pick<Checkpoint, 'sinks' | 'outputs'> | undefined): Promise<void>;
  flush(): Promise<void>;
  close(): Promise<void>;
}

/** An output file that is not the one a checkpoint recorded: resuming would cut the wrong file. */
export class OutputMismatchError extends Error {
  override readonly name = 'OutputMismatchError';

  constructor(
    readonly path: string,
    /** Why, e.g. "the checkpoint was taken while writing /other/path". */
    readonly problem: string,
  ) {
    super(`output file ${path} does not match the checkpoint: ${problem}`);
  }
}

/** Bytes before the position that an identity checksums: enough to tell outputs apart, cheap to read at every checkpoint. */
const IDENTITY_TAIL_BYTES = 4096;

/** The identity of the file at `path` cut at `position`; undefined when the file is shorter than that. */
async function identityAt(path: string, position: number): Promise<OutputIdentity | undefined> {
  const handle = await open(path, 'r');
  try {
    if ((await handle.stat()).size < position) return undefined;
    const tailBytes = Math.min(position, IDENTITY_TAIL_BYTES);
    const tail = Buffer.alloc(tailBytes);
    await handle.read(tail, 0, tailBytes, position - tailBytes);
    return { path, tailBytes, tailCrc32: crc32(tail) };
  } finally {
    await handle.close();
  }
}

/** Why the file at `position` is not the one `recorded` describes, or undefined when it is. */
async function mismatch(file: FileSink, position: number | undefined, recorded: OutputIdentity | undefined): Promise<string | undefined> {
  if (position === undefined) return 'the checkpoint records no such output file (the sink configuration changed since it was taken)';
  if (recorded === undefined) return 'the checkpoint was written by an older version that did not record which file it wrote';
  if (recorded.path !== file.path) return `the checkpoint was taken while writing ${recorded.path}`;
  const actual = await identityAt(file.path, position);
  if (actual === undefined) return `the file is shorter than the ${position} bytes the checkpoint recorded`;
  if (actual.tailBytes !== recorded.tailBytes || actual.tailCrc32 !== recorded.tailCrc32) {
    return `its last ${recorded.tailBytes} bytes before offset ${position} differ from those the checkpoint recorded (another run's output?)`;
  }
  return undefined;
}

/** One output stream of NDJSON lines: a line sink, a Kafka topic (the line is the message value), or any `Sink`. */
export interface OutputChannel extends Sink {
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

/** Where a job reports what its outputs do on their own (failed sends, dropped dead letters). */
export interface OutputObservers {
  readonly logger?: Logger;
  readonly metrics?: ProcessorMetrics;
}

/**
 * Opens an output. Kafka only: `onRejected`, what to do with a message the broker
 * refuses for itself (without it such a refusal stops the job, as any send error does);
 * `onSendError`, told of every failed send.
 */
export async function openChannel(
  target: SinkConfig | DeadLetterConfig,
  topic: string,
  config: ProcessorConfig,
  hooks: Pick<KafkaSinkOptions, 'onRejected' | 'onSendError'> = {},
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
      const [{ kafkaSink }, { kafkaConnection }] = await Promise.all([import('../kafka/sink.js'), import('../kafka/settings.js')]);
      return kafkaChannel(kafkaSink({ ...kafkaConnection(config.kafka), topic, ...hooks }));
    }
  }
}

/** Sinks that replace the configured `sink` or `dead_letter` (see `createPipeline().withSink`). */
export interface CustomOutputs {
  readonly results?: Sink;
  readonly deadLetters?: Sink;
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
  static async open(config: ProcessorConfig, observers: OutputObservers = {}, custom: CustomOutputs = {}): Promise<ChannelOutputs> {
    const topic = config.kafka.producer.dead_letter_topic;
    const dropDeadLetter: KafkaSinkOptions['onRejected'] = (error, message) => {
      observers.metrics?.deadLettersDropped.inc();
      observers.metrics?.errors.dead_letter_dropped.inc();
      observers.logger?.error({ err: error, topic, bytes: Buffer.byteLength(message.value) }, 'dead letter dropped: the broker rejected it');
    };
    const onSendError = (): void => observers.metrics?.errors.send_failed.inc();
    const results = custom.results ?? (await openChannel(config.sink, config.kafka.producer.result_topic, config, { onSendError }));
    try {
      const deadLetters = custom.deadLetters ?? (await openChannel(config.dead_letter, topic, config, { onRejected: dropDeadLetter, onSendError }));
      return new ChannelOutputs(results, deadLetters, config.dead_letter.max_raw_bytes);
    } catch (error) {
      void results.close();
      throw error;
    }
  }

  writeResult(result: FeedbackWindowResult, emittedAt: number): Promise<void> | undefined {
    // The Kafka message key is the joined key fields, so one key's results share a partition.
    return this.results.write(formatWindowResult(toWindowOutput(result, emittedAt), result.result.texts), result.key);
  }

  writeDeadLetter({ reason, raw, extra }: DeadLetterOut): void {
    this.deadLetters.write(formatDeadLetter(reason, raw, extra, this.maxRawBytes));
  }

  get inFlight(): number {
    return this.results.inFlight + this.deadLetters.inFlight;
  }

  positions(): Record<string, number> {
    return Object.fromEntries(this.files().map(([name, file]) => [name, file.position()]));
  }

  async identify(positions: Readonly<Record<string, number>>): Promise<Record<string, OutputIdentity>> {
    const identities: Record<string, OutputIdentity> = {};
    for (const [name, file] of this.files()) {
      const position = positions[name];
      if (position === undefined) continue;
      const identity = await identityAt(file.path, position);
      // The positions were flushed before this call: a shorter file means someone else cut it.
      if (identity === undefined) throw new OutputMismatchError(file.path, `it is shorter than the ${position} bytes just written`);
      identities[name] = identity;
    }
    return identities;
  }

  async rewindTo(checkpoint: Pick<Checkpoint, 'sinks' | 'outputs'> | undefined): Promise<void> {
    const files = this.files();
    // Every file is checked before any is cut: a refusal leaves all of them as they were.
    if (checkpoint !== undefined) {
      for (const [name, file] of files) {
        const problem = await mismatch(file, checkpoint.sinks[name], checkpoint.outputs?.[name]);
        if (problem !== undefined) throw new OutputMismatchError(file.path, problem);
      }
    }
    for (const [name, file] of files) await file.truncateTo(checkpoint?.sinks[name] ?? 0);
  }

  /** The file outputs by the name checkpoints record them under. */
  private files(): [name: string, file: FileSink][] {
    const files: [string, FileSink][] = [];
    if (this.results.file !== undefined) files.push(['results', this.results.file]);
    if (this.deadLetters.file !== undefined) files.push(['dead_letter', this.deadLetters.file]);
    return files;
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
