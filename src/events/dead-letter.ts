/**
 * Dead letters (DESIGN.md, "Formats"): input that cannot be processed never stops
 * the pipeline; it goes to the dead-letter sink as `{"reason": "...", "raw": "..."}`.
 */

/** Why the parser rejected a line. */
export type ParseFailureReason =
  | 'invalid_json'
  | 'not_an_object'
  | 'missing_timestamp'
  | 'invalid_timestamp'
  | 'invalid_metrics'
  | 'invalid_metric';

/** Every reason the pipeline writes: parse failures, and records too late for every window. */
export type DeadLetterReason = ParseFailureReason | 'too_late';

/** A line the parser rejected, with the source position it came from. */
export interface DeadLetter {
  readonly kind: 'dead_letter';
  readonly reason: ParseFailureReason;
  readonly raw: string;
  /** The offending metric, for `invalid_metric`. */
  readonly field?: string;
  readonly partition?: number;
  readonly offset?: string;
}

/**
 * The dead-letter NDJSON line (without the newline): `reason` and `raw` first,
 * then the `extra` fields (e.g. `field`, `partition`, `offset`); `extra` cannot
 * overwrite `reason` or `raw`, and undefined values are left out.
 */
export function formatDeadLetter(reason: string, raw: string, extra?: Readonly<Record<string, unknown>>): string {
  const line: Record<string, unknown> = { reason, raw };
  if (extra !== undefined) {
    for (const field of Object.keys(extra)) {
      if (field !== 'reason' && field !== 'raw') line[field] = extra[field];
    }
  }
  return JSON.stringify(line);
}

/** The dead-letter line of a parser rejection, keeping the field and source position. */
export const formatParseDeadLetter = (deadLetter: DeadLetter): string =>
  formatDeadLetter(deadLetter.reason, deadLetter.raw, {
    field: deadLetter.field,
    partition: deadLetter.partition,
    offset: deadLetter.offset,
  });
