/**
 * The stream model (DESIGN.md, "Stream model"): a pipeline is an
 * `Observable<StreamElement<T>>` in which data records, watermarks and checkpoint
 * barriers travel in one ordered stream. Operators handle the kinds they know
 * and forward the others unchanged and in order.
 */

/** A data record. Named `StreamRecord` because `Record` is TypeScript's own utility type. */
export interface StreamRecord<T> {
  readonly kind: 'record';
  readonly value: T;
  /** Event time, epoch milliseconds. */
  readonly timestamp: number;
  readonly key?: string;
  readonly partition?: number;
  readonly offset?: string;
}

/** "No record with timestamp < time is still expected on time." */
export interface Watermark {
  readonly kind: 'watermark';
  readonly time: number;
}

/** Source positions carried by a barrier: partition → position (Kafka offset or file byte offset). */
export type SourcePositions = Readonly<Record<string, string>>;

/** A checkpoint marker (Chandy–Lamport): stateful operators snapshot when it passes, then forward it. */
export interface Barrier {
  readonly kind: 'barrier';
  readonly id: number;
  readonly positions?: SourcePositions;
}

export type StreamElement<T> = StreamRecord<T> | Watermark | Barrier;

/** Half-open event-time interval `[start, end)` in epoch milliseconds. */
export interface TimeWindow {
  readonly start: number;
  readonly end: number;
}

export type WindowType = 'tumbling' | 'sliding' | 'session';

/** What a window assigner tells the window state downstream about its windows. */
export interface WindowAssignment {
  readonly type: WindowType;
  /** Merging assigners (sessions) produce windows that the state merges when they overlap or touch. */
  readonly merging: boolean;
}

/** A record after window assignment: its key and every window it belongs to. */
export interface WindowedRecord<T> extends StreamRecord<T> {
  readonly key: string;
  readonly windows: readonly TimeWindow[];
  readonly assignment: WindowAssignment;
}

export type WindowedElement<T> = WindowedRecord<T> | Watermark | Barrier;

/** One emission of a window's aggregate: revision 0 when it fires, +1 for each late update. */
export interface WindowResult<R> {
  readonly key: string;
  readonly window: TimeWindow & { readonly type: WindowType };
  readonly revision: number;
  /**
   * An early (speculative) result of a window not yet fired, emitted on processing time
   * (`aggregate`'s `earlyIntervalMs`); its revision is −1. Absent on the results that
   * watermarks fire, whose aggregates early results never change.
   */
  readonly early?: true;
  /** Records aggregated into the window so far. */
  readonly count: number;
  readonly result: R;
}

export const record = <T>(value: T, timestamp: number, extra?: Partial<Pick<StreamRecord<T>, 'key' | 'partition' | 'offset'>>): StreamRecord<T> =>
  ({ kind: 'record', value, timestamp, ...extra });

export const watermark = (time: number): Watermark => ({ kind: 'watermark', time });

export const barrier = (id: number, positions?: SourcePositions): Barrier =>
  positions === undefined ? { kind: 'barrier', id } : { kind: 'barrier', id, positions };

export const isRecord = <T>(element: StreamElement<T>): element is StreamRecord<T> => element.kind === 'record';
