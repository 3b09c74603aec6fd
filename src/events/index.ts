export type { FeedbackEvent } from './feedback-event.js';
export { parseIsoTimestamp, toEventTime } from './timestamp.js';
export { KEY_SEPARATOR, joinKey, keyObject } from './key.js';
export type { DeadLetter, DeadLetterReason, ParseFailureReason } from './dead-letter.js';
export { DEFAULT_MAX_RAW_BYTES, errorMessage, formatDeadLetter, formatParseDeadLetter } from './dead-letter.js';
export type { EventParser, EventParserOptions, ParsedEvent, SourcePosition } from './parser.js';
export { createEventParser, MAX_JSON_DEPTH } from './parser.js';
export type { AggregateOutput, MetricsOutput, OutputTexts, WindowOutput } from './output.js';
export { formatWindowResult, toWindowOutput } from './output.js';
