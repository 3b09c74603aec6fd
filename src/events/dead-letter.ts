/**
 * Dead letters (DESIGN.md, "Formats"): input that cannot be processed never stops
 * the pipeline; it goes to the dead-letter sink as `{"reason": "...", "raw": "..."}`.
 */
import { createHash } from 'node:crypto';

/** Why the parser rejected a line. */
export type ParseFailureReason =
  | 'invalid_json'
  | 'too_deep'
  | 'not_an_object'
  | 'missing_timestamp'
  | 'invalid_timestamp'
  | 'future_timestamp'
  | 'invalid_metrics'
  | 'invalid_metric';

/**
 * Every reason the pipeline writes: parse failures, records too late for every
 * window, and records whose processing threw (`processing_error`, with `error`).
 */
export type DeadLetterReason = ParseFailureReason | 'too_late' | 'processing_error';

/** A line the parser rejected (or could not process), with the source position it came from. */
export interface DeadLetter {
  readonly kind: 'dead_letter';
  readonly reason: ParseFailureReason | 'processing_error';
  readonly raw: string;
  /** The offending metric, for `invalid_metric`. */
  readonly field?: string;
  /** The exception's message, for `processing_error`. */
  readonly error?: string;
  readonly partition?: number;
  readonly offset?: string;
}

/** The `error` of a `processing_error` dead letter: what was thrown, as text. */
export const errorMessage = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/** `dead_letter.max_raw_bytes`' default (the config schema holds the same value). */
export const DEFAULT_MAX_RAW_BYTES = 64 * 1024;

/**
 * Context strings (`field`, `error`) come from user data too (a metric name can
 * be as long as the line): they are cut here, without a hash, as `raw` keeps
 * the whole story.
 */
const MAX_CONTEXT_BYTES = 1024;

/** The longest prefix of `bytes` (UTF-8) of at most `maxBytes` that ends at a character boundary. */
function utf8Prefix(bytes: Buffer, maxBytes: number): string {
  let end = maxBytes;
  // Back off continuation bytes (10xxxxxx) so no character is split.
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return bytes.toString('utf8', 0, end);
}

/**
 * `text` as UTF-8 when it is longer than `maxBytes`, else undefined. A UTF-16
 * unit takes at most 3 UTF-8 bytes, so short strings are never encoded.
 */
function overLimit(text: string, maxBytes: number): Buffer | undefined {
  if (text.length * 3 <= maxBytes) return undefined;
  const bytes = Buffer.from(text, 'utf8');
  return bytes.length > maxBytes ? bytes : undefined;
}

/**
 * The dead-letter NDJSON line (without the newline): `reason` and `raw` first,
 * then the `extra` fields (e.g. `field`, `partition`, `offset`); `extra` cannot
 * overwrite `reason` or `raw`, and undefined values are left out.
 *
 * `raw` is cut to `maxRawBytes` UTF-8 bytes at a character boundary; a cut one is
 * followed by `raw_bytes` (the original's UTF-8 length) and `raw_sha256` (hex,
 * of those bytes), so the original can still be identified and matched. Input
 * is text by then (a Kafka value is decoded, invalid UTF-8 reads as U+FFFD),
 * and the hash is of that text. String `extra` values are cut to 1 KiB. With
 * the configured maximum (128 KiB) the whole line stays under Kafka's default
 * 1 MB message size even if every byte must be escaped as `\u00XX`.
 */
export function formatDeadLetter(
  reason: string,
  raw: string,
  extra?: Readonly<Record<string, unknown>>,
  maxRawBytes: number = DEFAULT_MAX_RAW_BYTES,
): string {
  const line: Record<string, unknown> = { reason, raw };
  const rawBytes = overLimit(raw, maxRawBytes);
  if (rawBytes !== undefined) {
    line['raw'] = utf8Prefix(rawBytes, maxRawBytes);
    line['raw_bytes'] = rawBytes.length;
    line['raw_sha256'] = createHash('sha256').update(rawBytes).digest('hex');
  }
  if (extra !== undefined) {
    for (const field of Object.keys(extra)) {
      if (Object.hasOwn(line, field)) continue;
      const value = extra[field];
      const long = typeof value === 'string' ? overLimit(value, MAX_CONTEXT_BYTES) : undefined;
      line[field] = long === undefined ? value : utf8Prefix(long, MAX_CONTEXT_BYTES);
    }
  }
  return JSON.stringify(line);
}

/** The dead-letter line of a parser rejection, keeping the field, error and source position. */
export const formatParseDeadLetter = (deadLetter: DeadLetter, maxRawBytes?: number): string =>
  formatDeadLetter(
    deadLetter.reason,
    deadLetter.raw,
    { field: deadLetter.field, error: deadLetter.error, partition: deadLetter.partition, offset: deadLetter.offset },
    maxRawBytes,
  );
