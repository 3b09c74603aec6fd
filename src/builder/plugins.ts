/**
 * The public interfaces through which another source or sink plugs into the jobs
 * (`createPipeline().withSource(…)`, `.withSink(…)`), with the runners' backpressure
 * and checkpoints.
 */
import type { Observable } from 'rxjs';
import type { StreamRecord } from '@llm-feedback/stream-operators';
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

/** One partition of a partitioned source: a named input (a topic, a stream, a table) and its partition number. */
export interface SourcePartition {
  readonly topic: string;
  readonly partition: number;
}

/** Where a partition stands: `offset` is a record's position in it, or the next one to read. */
export interface SourcePartitionOffset extends SourcePartition {
  /** A non-negative integer as a decimal string, increasing by one from record to record (Kafka's offsets). */
  readonly offset: string;
}

/**
 * A record of a partitioned source: one event as JSON text (`value`), at `offset` of its
 * partition. `timestamp` is the source's own time for the record (ingestion time); the event
 * time is read from the event.
 */
export interface PartitionedRecord extends StreamRecord<string>, SourcePartitionOffset {
  readonly partition: number;
  readonly offset: string;
}

/** A change of the partitions this job reads (a rebalance, a shard split, a new file). */
export interface PartitionChange {
  readonly assigned: readonly SourcePartition[];
  readonly revoked: readonly SourcePartition[];
  /** Every partition the job reads now. */
  readonly current: readonly SourcePartition[];
}

/**
 * A source of several partitions that come and go, read by the task runner, the Kafka job's
 * (Flink's splits, Kafka Streams' tasks): each partition is a task with its own watermark and
 * windows, restored from its checkpoint when assigned and read again from the position that
 * goes with that state. The Kafka source is one (`kafkaSource` implements this interface).
 *
 * The runner's side of the contract:
 * - on each `assignments` change it closes the revoked partitions' tasks and calls `hold`
 *   with the new ones before their tasks are restored, then `release(partition, offset)`
 *   with where each restored state stands (`undefined`: the partition's first record);
 * - it calls `ack(record)` once a record is processed and the outputs are not over
 *   `buffer_size` unacknowledged messages: a source keeps at most about `buffer_size` records
 *   unacknowledged (it pauses reading), and that is the backpressure;
 * - when a checkpoint is complete (state durable, outputs flushed), `commitOffsets` gets each
 *   partition's next offset to read: where the source may forget what came before (Flink's
 *   `notifyCheckpointComplete`). The job restores from its own checkpoints, not from these.
 */
export interface PartitionedSource {
  /** The inputs the partitions belong to (`SourcePartition.topic`), in a fixed order: partition ids in checkpoints derive from it. */
  readonly topics: readonly string[];
  /** The records, in offset order per partition. Cold: subscribing starts reading, unsubscribing stops. Completing ends the job as a stop does (a final checkpoint). */
  readonly records: Observable<PartitionedRecord>;
  /**
   * Every change of `assignment`. Hot: the runner subscribes to it before `records`, so a
   * source assigns its first partitions once `records` is subscribed (as a consumer joins its
   * group when it starts), and may change them at any time after.
   */
  readonly assignments: Observable<PartitionChange>;
  /** The partitions assigned now. */
  readonly assignment: readonly SourcePartition[];
  /**
   * Whether everything `partition` holds now has been handed over (quiet input: its task's
   * watermark may then advance after `watermark.idle_timeout_secs`). Answer false while
   * paused, behind, or not sure.
   */
  caughtUp(partition: SourcePartition): boolean;
  /** Hand over no records of these partitions until `release`. */
  hold(partitions: readonly SourcePartition[]): void;
  /** Hand over `partition`'s records again, from `offset` on (undefined: its first record). */
  release(partition: SourcePartition, offset: string | undefined): void;
  /** A record handed over is processed (see above). */
  ack(record: SourcePartitionOffset): void;
  /** A checkpoint is complete: each partition's next offset to read. A rejection is logged and the next checkpoint's offsets supersede these. */
  commitOffsets(offsets: readonly SourcePartitionOffset[]): Promise<void>;
  /** Stops reading (after `records` is unsubscribed or complete) and releases what the source holds. */
  stop(): Promise<void>;
}
