/**
 * The public interfaces through which another source or sink plugs into the jobs
 * (`createPipeline().withSource(…)`, `.withSink(…)`), with the runners' backpressure
 * and checkpoints.
 */
import type { Observable } from 'rxjs';
import type { LineBatch } from '../io/index.js';

/**
 * A source of raw events, one JSON text per event, read in batches by the line job (the
 * file and stdin runner). Positions are numbers the source defines (a file: byte
 * offsets; a queue: sequence numbers), increasing along the input: a checkpoint records
 * the `end` of the last batch fully processed, and a restart reads from it again.
 */
export interface Source {
  /**
   * `true`: the input ends (the Observable completes) and every open window fires then,
   * with no idle timeout. `false`: it may pause for ever; quiet input advances the
   * watermark after `watermark.idle_timeout_secs` and early results apply.
   */
  readonly bounded: boolean;
  /**
   * Whether `read(from)` returns exactly the events after position `from` again: only
   * then can `state.backend: level` checkpoint it and resume after a crash.
   */
  readonly replayable: boolean;
  /**
   * The events after position `from` (0: the start). `lines[i]` is one event, `ends[i]`
   * the position just after it, `end` the position up to which the batch consumed input.
   * Before each batch, call `backpressure()`: while the outputs hold more than
   * `buffer_size` unacknowledged records it returns a promise; wait for it.
   * Unsubscribing stops reading.
   */
  read(from: number, backpressure: () => PromiseLike<unknown> | undefined): Observable<LineBatch>;
}

/**
 * Where results (or dead letters) go: one NDJSON line each, with the joined key fields
 * as `key` for results. `write` is synchronous and may buffer; it may return the
 * promise of that line's acknowledgement. The runners watch `inFlight` for
 * backpressure and call `flush` before a checkpoint completes (so offsets are
 * committed only for output that is safe), and `close` at the end.
 */
export interface Sink {
  write(line: string, key?: string): Promise<void> | undefined;
  /** Lines written and not yet safe (acknowledged, written out). */
  readonly inFlight: number;
  flush(): Promise<void>;
  close(): Promise<void>;
}
