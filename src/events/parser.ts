/**
 * Raw input line (or Kafka message value) → a stream record or a dead letter.
 * This is on the hot path of every source: one `JSON.parse`, a few type checks,
 * no intermediate objects. The parsed object itself becomes the record's value.
 */
import type { StreamRecord } from '../stream/elements.js';
import type { DeadLetter, ParseFailureReason } from './dead-letter.js';
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
 * Builds the parser. Rejections, checked in this order:
 * `invalid_json` (JSON.parse throws), `not_an_object` (arrays and primitives),
 * `missing_timestamp` (time field absent or null), `invalid_timestamp` (not a
 * finite number or an ISO-8601 string, see `timestamp.ts`), `invalid_metrics`
 * (`metrics` absent or not a plain object — the type promises an object to every
 * aggregation), `invalid_metric` (a checked metric neither a number nor null;
 * `field` names the first one).
 */
export function createEventParser(options: EventParserOptions): EventParser {
  const { timeField } = options;
  const keyFields = [...options.keyFields];
  const metricFields = [...options.metricFields];

  const reject = (reason: ParseFailureReason, raw: string, position: SourcePosition | undefined, field?: string): DeadLetter => ({
    kind: 'dead_letter',
    reason,
    raw,
    field,
    partition: position?.partition,
    offset: position?.offset,
  });

  return (raw, position) => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      return reject('invalid_json', raw, position);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      return reject('not_an_object', raw, position);
    }
    const event = parsed as Record<string, unknown>;

    const time = event[timeField];
    if (time === undefined || time === null) return reject('missing_timestamp', raw, position);
    const timestamp = toEventTime(time);
    if (timestamp !== timestamp) return reject('invalid_timestamp', raw, position); // NaN

    const metrics = event['metrics'];
    if (typeof metrics !== 'object' || metrics === null || Array.isArray(metrics)) {
      return reject('invalid_metrics', raw, position);
    }
    const values = metrics as Record<string, unknown>;
    if (metricFields.length === 0) {
      for (const field in values) {
        const value = values[field];
        if (typeof value !== 'number' && value !== null) return reject('invalid_metric', raw, position, field);
      }
    } else {
      for (const field of metricFields) {
        if (!hasOwn.call(values, field)) continue;
        const value = values[field];
        if (typeof value !== 'number' && value !== null) return reject('invalid_metric', raw, position, field);
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
}
