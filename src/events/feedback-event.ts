/**
 * An input feedback event (DESIGN.md, "Formats"): one JSON object per NDJSON line
 * or Kafka message value.
 *
 * The parser validates only what event-time processing depends on: the time field
 * and the `metrics` object. The descriptive fields are carried as sent (keys go
 * through `String()`, see `key.ts`), so their types below describe the documented
 * format rather than a guarantee; fields named in configuration (another time
 * field, other key fields) are reached through the index signature.
 */
export interface FeedbackEvent {
  readonly event_id?: string;
  /** ISO-8601 string or epoch milliseconds. */
  readonly timestamp?: string | number;
  readonly event_type?: string;
  readonly model?: string;
  readonly variant?: string;
  /**
   * Metric values by name. `null` is accepted and means "no value in this event",
   * so aggregations skip it (a metric's `count` counts numeric values only).
   */
  readonly metrics: Readonly<Record<string, number | null>>;
  readonly [field: string]: unknown;
}
