/**
 * Raw input line (or Kafka message value) → a stream record or a dead letter.
 * This is on the hot path of every source: one `JSON.parse`, a few type checks,
 * no intermediate objects. The parsed object itself becomes the record's value.
 */
import { ownField, type StreamRecord } from '@llm-feedback/stream-operators';
import { errorMessage, type DeadLetter, type ParseFailureReason } from './dead-letter.js';
import type { FeedbackEvent } from './feedback-event.js';
import { joinKey } from './key.js';
import { toEventTime } from './timestamp.js';

export interface EventParserOptions {
  /** Field holding the event time (`event.time_field`, default `timestamp`). */
  readonly timeField: string;
  /** Fields whose values form the key, joined as described in `key.ts`. */
  readonly keyFields: readonly string[];
  /**
   * Metrics to validate (`event.metric_fields`). Empty means every field of
   * `metrics` must be a number or null; otherwise only these are checked and the
   * others are left alone (they are not aggregated, so they cannot break anything).
   */
  readonly metricFields: readonly string[];
  /**
   * Event times more than this many ms ahead of `now()` are `future_timestamp`
   * (`event.max_future_secs`): one bad clock must not drag the watermark ahead
   * of every honest record. Absent or 0: no check.
   */
  readonly maxFutureMs?: number;
  /** Wall clock, epoch ms. Default `Date.now`. */
  readonly now?: () => number;
}

/** Where a raw value came from; copied onto the record or dead letter for checkpoints. */
export interface SourcePosition {
  readonly partition?: number;
  readonly offset?: string;
}

export type ParsedEvent = StreamRecord<FeedbackEvent> | DeadLetter;

export type EventParser = (raw: string, position?: SourcePosition) => ParsedEvent;

const hasOwn = Object.prototype.hasOwnProperty;

/**
 * Objects and arrays nested deeper than this are `too_deep`. Events are two
 * levels deep; the limit is for what comes after the parser: `JSON.stringify`
 * (the `too_late` dead letter) and any consumer of the value recurse, and a
 * 10,000-level value overflows their stack.
 */
export const MAX_JSON_DEPTH = 64;

/**
 * Whether `raw`, valid JSON, nests deeper than `MAX_JSON_DEPTH`, without
 * recursion. Being that deep takes more than `MAX_JSON_DEPTH` opening brackets,
 * so a usual line is settled by a few native `indexOf` scans (brackets inside
 * strings count too, which only makes this filter cautious); the few lines with
 * that many brackets are walked character by character, skipping strings.
 */
function tooDeep(raw: string): boolean {
  // Each level takes an opening and a closing bracket.
  if (raw.length <= 2 * MAX_JSON_DEPTH) return false;
  let brackets = 0;
  for (let i = raw.indexOf('{'); i >= 0 && brackets <= MAX_JSON_DEPTH; i = raw.indexOf('{', i + 1)) brackets++;
  for (let i = raw.indexOf('['); i >= 0 && brackets <= MAX_JSON_DEPTH; i = raw.indexOf('[', i + 1)) brackets++;
  if (brackets <= MAX_JSON_DEPTH) return false;
  let depth = 0;
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c === 34 /* " */) {
      // Valid JSON: every string closes, and a backslash always escapes the next unit.
      for (i++; raw.charCodeAt(i) !== 34; i++) if (raw.charCodeAt(i) === 92 /* \ */) i++;
    } else if (c === 123 /* { */ || c === 91 /* [ */) {
      if (++depth > MAX_JSON_DEPTH) return true;
    } else if (c === 125 /* } */ || c === 93 /* ] */) {
      depth--;
    }
  }
  return false;
}

/**
 * Builds the parser. Rejections, checked in this order:
 * `invalid_json` (JSON.parse throws), `too_deep` (nesting beyond
 * `MAX_JSON_DEPTH`), `not_an_object` (arrays and primitives),
 * `missing_timestamp` (time field absent or null), `invalid_timestamp` (not a
 * finite number or an ISO-8601 string, see `timestamp.ts`), `future_timestamp`
 * (more than `maxFutureMs` ahead of the clock), `invalid_metrics` (`metrics`
 * absent or not a plain object — the type promises an object to every
 * aggregation), `invalid_metric` (a checked metric neither a finite number nor
 * null — `1e999` parses to Infinity; `field` names the first one). Anything
 * that throws on the way (e.g. a key value whose `toString` is not a function)
 * is `processing_error` with the exception's message in `error`: no input
 * line can throw out of the parser.
 */
export function createEventParser(options: EventParserOptions): EventParser {
  const { timeField } = options;
  const keyFields = [...options.keyFields];
  const metricFields = [...options.metricFields];

  const maxFutureMs = options.maxFutureMs ?? 0;
  const now = options.now ?? Date.now;
  /**
   * Event times above this are checked against the clock. Reading the clock only
   * then makes the check free on the hot path: the bound only grows with time, so
   * a stale one is stricter, never laxer, and is refreshed when a record reaches
   * it (with a 1-day bound, about once a day for live data). A wall clock stepped
   * back is noticed at the next refresh.
   */
  let futureBound = maxFutureMs > 0 ? -Infinity : Infinity;

  const reject = (
    reason: ParseFailureReason | 'processing_error',
    raw: string,
    position: SourcePosition | undefined,
    field?: string,
    error?: string,
  ): DeadLetter => ({
    kind: 'dead_letter',
    reason,
    raw,
    field,
    error,
    partition: position?.partition,
    offset: position?.offset,
  });

  const parse: EventParser = (raw, position) => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      return reject('invalid_json', raw, position);
    }
    if (tooDeep(raw)) return reject('too_deep', raw, position);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      return reject('not_an_object', raw, position);
    }
    const event = parsed as Record<string, unknown>;

    const time = ownField(event, timeField);
    if (time === undefined || time === null) return reject('missing_timestamp', raw, position);
    const timestamp = toEventTime(time);
    if (timestamp !== timestamp) return reject('invalid_timestamp', raw, position); // NaN
    if (timestamp > futureBound) {
      futureBound = now() + maxFutureMs;
      if (timestamp > futureBound) return reject('future_timestamp', raw, position);
    }

    const metrics = event['metrics'];
    if (typeof metrics !== 'object' || metrics === null || Array.isArray(metrics)) {
      return reject('invalid_metrics', raw, position);
    }
    const values = metrics as Record<string, unknown>;
    if (metricFields.length === 0) {
      for (const field in values) {
        const value = values[field];
        if (value !== null && !Number.isFinite(value)) return reject('invalid_metric', raw, position, field);
      }
    } else {
      for (const field of metricFields) {
        if (!hasOwn.call(values, field)) continue;
        const value = values[field];
        if (value !== null && !Number.isFinite(value)) return reject('invalid_metric', raw, position, field);
      }
    }

    // Same property order for every record keeps one hidden class on the hot path.
    return {
      kind: 'record',
      value: event as FeedbackEvent,
      timestamp,
      key: joinKey(event, keyFields),
      partition: position?.partition,
      offset: position?.offset,
    };
  };

  return (raw, position) => {
    try {
      return parse(raw, position);
    } catch (error) {
      return reject('processing_error', raw, position, undefined, errorMessage(error));
    }
  };
}
