import type { DeadLetterConfig, SinkConfig } from '../config/index.js';
import { formatDeadLetter, formatWindowResult, toWindowOutput } from '../events/index.js';
import { FileSink, type LineSink } from '../io/index.js';
import type { FeedbackWindowResult } from '../pipeline/feedback-pipeline.js';
import { openLineSink } from './line-sinks.js';

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
  writeResult(result: FeedbackWindowResult, emittedAt: number): void;
  writeDeadLetter(deadLetter: DeadLetterOut): void;
  /** Records written but not yet acknowledged: what backpressure watches. */
  readonly inFlight: number;
  /** Output positions a checkpoint records (file byte lengths), by output name; empty where output cannot be rewound. */
  positions(): Record<string, number>;
  /**
   * Cuts outputs back to positions a checkpoint recorded (outputs it does not
   * name start empty), so a restarted run neither tears nor repeats a line.
   */
  rewindTo(positions: Readonly<Record<string, number>>): Promise<void>;
  flush(): Promise<void>;
  close(): Promise<void>;
}

/** NDJSON outputs (file, stdout, stderr). */
export class LineOutputs implements JobOutputs {
  constructor(
    readonly results: LineSink,
    readonly deadLetters: LineSink,
  ) {}

  static open(sink: SinkConfig, deadLetter: DeadLetterConfig): LineOutputs {
    const results = openLineSink(sink);
    try {
      return new LineOutputs(results, openLineSink(deadLetter));
    } catch (error) {
      void results.close();
      throw error;
    }
  }

  writeResult(result: FeedbackWindowResult, emittedAt: number): void {
    this.results.write(formatWindowResult(toWindowOutput(result, emittedAt)));
  }

  writeDeadLetter({ reason, raw, extra }: DeadLetterOut): void {
    this.deadLetters.write(formatDeadLetter(reason, raw, extra));
  }

  positions(): Record<string, number> {
    const positions: Record<string, number> = {};
    if (this.results instanceof FileSink) positions['results'] = this.results.position();
    if (this.deadLetters instanceof FileSink) positions['dead_letter'] = this.deadLetters.position();
    return positions;
  }

  async rewindTo(positions: Readonly<Record<string, number>>): Promise<void> {
    if (this.results instanceof FileSink) await this.results.truncateTo(positions['results'] ?? 0);
    if (this.deadLetters instanceof FileSink) await this.deadLetters.truncateTo(positions['dead_letter'] ?? 0);
  }

  get inFlight(): number {
    return this.results.linesInFlight + this.deadLetters.linesInFlight;
  }

  async flush(): Promise<void> {
    await Promise.all([this.results.flush(), this.deadLetters.flush()]);
  }

  /** Closes both sinks even if one fails, then reports the first failure. */
  async close(): Promise<void> {
    const outcomes = await Promise.allSettled([this.results.close(), this.deadLetters.close()]);
    const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
  }
}
