import { Observable, type OperatorFunction } from 'rxjs';
import type { ProcessorConfig } from '../config/index.js';
import { createEventParser, type DeadLetter, type EventParser, type FeedbackEvent } from '../events/index.js';
import type { LineBatch } from '../io/index.js';
import type { StreamElement } from '@llm-feedback/stream-operators';

/** The event parser the `event` section configures; `now` is the wall clock of `max_future_secs`. */
export const configuredParser = (config: ProcessorConfig, now?: () => number): EventParser =>
  createEventParser({
    timeField: config.event.time_field,
    keyFields: config.event.key_fields,
    metricFields: config.event.metric_fields,
    maxFutureMs: config.event.max_future_secs * 1000,
    now,
  });

/**
 * Line batches → event records. Each record's `offset` is the byte offset just
 * after its line, the position a checkpoint resumes from. Rejected lines go to
 * `onDeadLetter` and never stop the stream. `onBatch` follows each batch.
 */
export function parseLines(
  parse: EventParser,
  onDeadLetter: (deadLetter: DeadLetter) => void,
  onBatch?: (batch: LineBatch) => void,
): OperatorFunction<LineBatch, StreamElement<FeedbackEvent>> {
  return (source) =>
    new Observable<StreamElement<FeedbackEvent>>((subscriber) =>
      source.subscribe({
        next: (batch) => {
          const { lines, ends } = batch;
          for (let i = 0; i < lines.length && !subscriber.closed; i++) {
            const parsed = parse(lines[i]!, { offset: String(ends[i]) });
            if (parsed.kind === 'record') subscriber.next(parsed);
            else onDeadLetter(parsed);
          }
          onBatch?.(batch);
        },
        error: (error: unknown) => subscriber.error(error),
        complete: () => subscriber.complete(),
      }),
    );
}
