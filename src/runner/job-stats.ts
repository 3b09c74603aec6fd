import type { ProcessorMetrics } from '../observability/index.js';
import type { DeadLetter, DeadLetterReason } from '../events/index.js';
import type { KafkaRecord } from '../kafka/index.js';
import type { JobOutputs } from './outputs.js';

/** What a job reports when it ends. */
export interface JobSummary {
  /** Input records read in this run (each ends in exactly one of the three outcomes below). */
  readonly recordsIn: number;
  readonly aggregated: number;
  readonly late: number;
  readonly invalid: number;
  /** Repartitioned records seen before (src/repartition), dropped: not part of the three outcomes. */
  readonly duplicates: number;
  /** Output records written (one per key, window and revision). */
  readonly windowsEmitted: number;
  /** Early results written (`emit.early_interval_secs`), not in `windowsEmitted`. */
  readonly earlyResults: number;
  readonly durationMs: number;
  /** File jobs: the byte offset the run resumed from (0 for a fresh start). */
  readonly resumedFrom: number;
}

/**
 * A job's running totals. The hot path bumps plain numbers; `publish` copies
 * the increments into the Prometheus instruments (prom-client costs ~0.1 µs per
 * call, too much per record at millions of records per second).
 */
export class JobStats {
  recordsIn = 0;
  late = 0;
  invalid = 0;
  duplicates = 0;
  windowsEmitted = 0;
  updates = 0;
  earlyResults = 0;
  readonly invalidByReason = new Map<DeadLetterReason, number>();
  private published = { aggregated: 0, late: 0, invalid: 0, duplicates: 0, firsts: 0, updates: 0, early: 0 };
  private readonly publishedByReason = new Map<DeadLetterReason, number>();

  get aggregated(): number {
    return this.recordsIn - this.invalid - this.late - this.duplicates;
  }

  summary(durationMs: number, resumedFrom = 0): JobSummary {
    const { recordsIn, aggregated, late, invalid, duplicates, windowsEmitted, earlyResults } = this;
    return { recordsIn, aggregated, late, invalid, duplicates, windowsEmitted, earlyResults, durationMs, resumedFrom };
  }

  countInvalid(reason: DeadLetterReason): void {
    this.invalid++;
    this.invalidByReason.set(reason, (this.invalidByReason.get(reason) ?? 0) + 1);
  }

  publish(metrics: ProcessorMetrics): void {
    const firsts = this.windowsEmitted - this.updates;
    const p = this.published;
    metrics.recordsIn.aggregated.inc(this.aggregated - p.aggregated);
    metrics.recordsIn.late.inc(this.late - p.late);
    metrics.recordsIn.dead_letter.inc(this.invalid - p.invalid);
    metrics.recordsIn.duplicate.inc(this.duplicates - p.duplicates);
    metrics.deadLetters.too_late.inc(this.late - p.late);
    for (const [reason, n] of this.invalidByReason) {
      const increment = n - (this.publishedByReason.get(reason) ?? 0);
      metrics.deadLetters[reason].inc(increment);
      // A record the processor failed on is an error too; invalid input is the producers' fault.
      if (reason === 'processing_error') metrics.errors.processing_error.inc(increment);
      this.publishedByReason.set(reason, n);
    }
    metrics.windowsFired.first.inc(firsts - p.firsts);
    metrics.windowsFired.update.inc(this.updates - p.updates);
    metrics.outputRecords.results.inc(firsts + this.updates + this.earlyResults - p.firsts - p.updates - p.early);
    metrics.outputRecords.dead_letter.inc(this.late + this.invalid - p.late - p.invalid);
    this.published = { aggregated: this.aggregated, late: this.late, invalid: this.invalid, duplicates: this.duplicates, firsts, updates: this.updates, early: this.earlyResults };
  }
}

/** Writes the dead letter of an invalid Kafka input message, with where it was read, and counts it. */
export function rejectInput(outputs: Pick<JobOutputs, 'writeDeadLetter'>, stats: JobStats, parsed: DeadLetter, message: KafkaRecord): void {
  stats.countInvalid(parsed.reason);
  outputs.writeDeadLetter({
    reason: parsed.reason,
    raw: parsed.raw,
    extra: { field: parsed.field, error: parsed.error, topic: message.topic, partition: message.partition, offset: message.offset },
  });
}
