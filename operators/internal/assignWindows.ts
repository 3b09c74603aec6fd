import { Observable, type OperatorFunction } from 'rxjs';
import type { StreamElement, StreamRecord, TimeWindow, WindowAssignment, WindowedElement, WindowedRecord } from '../stream/elements.js';

/** Key of a record for windowing. Default: the record's own `key`, or `''`. */
export type KeySelector<T> = (value: T, record: StreamRecord<T>) => string;

export const recordKey = <T>(_value: T, record: StreamRecord<T>): string => record.key ?? '';

/**
 * The shared body of the window assigners: keys each record, attaches the windows
 * it belongs to, forwards watermarks and barriers. Assigners differ only in
 * `windowsOf`, a pure function of the event time.
 */
export function assignWindows<T>(
  assignment: WindowAssignment,
  keyOf: KeySelector<T>,
  windowsOf: (timestamp: number) => readonly TimeWindow[],
): OperatorFunction<StreamElement<T>, WindowedElement<T>> {
  return (source) =>
    new Observable<WindowedElement<T>>((subscriber) =>
      source.subscribe({
        next: (element) => {
          if (element.kind !== 'record') {
            subscriber.next(element);
            return;
          }
          let windowed: WindowedRecord<T>;
          try {
            windowed = {
              kind: 'record',
              value: element.value,
              timestamp: element.timestamp,
              key: keyOf(element.value, element),
              partition: element.partition,
              offset: element.offset,
              windows: windowsOf(element.timestamp),
              assignment,
            };
          } catch (error) {
            subscriber.error(error);
            return;
          }
          subscriber.next(windowed);
        },
        error: (error: unknown) => subscriber.error(error),
        complete: () => subscriber.complete(),
      }),
    );
}

/** `t mod size` in [0, size), also for event times before the epoch. */
export const floorMod = (t: number, size: number): number => ((t % size) + size) % size;

export function requirePositive(name: string, value: number): void {
  if (!(Number.isFinite(value) && value > 0)) throw new RangeError(`${name} must be a positive number of ms, got ${String(value)}`);
}
