import { Observable, type OperatorFunction } from 'rxjs';
import type { DeadLetter, EventParser, FeedbackEvent } from '../events/index.js';
import type { LineBatch } from '../io/index.js';
import type { StreamElement } from '../stream/elements.js';

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
