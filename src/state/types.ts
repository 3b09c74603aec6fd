/**
 * What a checkpoint holds (DESIGN.md, "Checkpoints and recovery"). Operator
 * state is opaque bytes: each operator's owner serialises it, the store only
 * keeps it safe and hands it back unchanged.
 */
export interface Checkpoint {
  /** Barrier id; increases from one checkpoint to the next. */
  readonly id: number;
  /** Epoch milliseconds. */
  readonly createdAt: number;
  /** Source partition → position to resume from (Kafka offset or file byte offset). */
  readonly positions: Readonly<Record<string, string>>;
  /** Sink name → output position (byte length or record count) to truncate back to on recovery. */
  readonly sinks: Readonly<Record<string, number>>;
  /**
   * Sink name → what identifies that output file at its `sinks` position, so a
   * resume can tell the file it wrote from another one before cutting it back.
   * Absent in checkpoints written before it existed (they cannot vouch for a file).
   */
  readonly outputs?: Readonly<Record<string, OutputIdentity>>;
  /** Operator name → state that belongs to no single source partition. */
  readonly operators: Readonly<Record<string, Uint8Array>>;
  /** Source partition → operator name → that operator's state for the partition. */
  readonly partitions: Readonly<Record<string, Readonly<Record<string, Uint8Array>>>>;
}

/** A file output as a checkpoint saw it: its path and a checksum of the bytes just before the recorded position. */
export interface OutputIdentity {
  /** Absolute path of the file. */
  readonly path: string;
  /** How many bytes before the position `tailCrc32` covers: the position itself when smaller than the limit the writer uses. */
  readonly tailBytes: number;
  readonly tailCrc32: number;
}

/** One source partition's slice of a checkpoint: enough to resume that partition on any instance. */
export interface PartitionSnapshot {
  readonly checkpointId: number;
  readonly createdAt: number;
  /** Where the partition's source resumes; undefined if the checkpoint recorded none for it. */
  readonly position: string | undefined;
  /** Operator name → state; empty when no operator held state for the partition. */
  readonly operators: Readonly<Record<string, Uint8Array>>;
}

export interface StateStore {
  /**
   * Stores a checkpoint as one atomic write and drops all but it and the
   * previous complete checkpoint. An id at or below ones already stored replaces
   * them: the run resumed from an older checkpoint, so newer ones belong to an
   * abandoned timeline.
   */
  writeCheckpoint(checkpoint: Checkpoint): Promise<void>;
  /**
   * The newest complete checkpoint whose contents verify, or undefined on a fresh
   * start. Unusable newer ones are skipped with a warning; throws when checkpoints
   * exist but none is usable, since starting empty would silently lose state.
   */
  latestCheckpoint(): Promise<Checkpoint | undefined>;
  /**
   * One partition's state from the newest checkpoint in which that partition's
   * pieces verify (only those are read), or undefined if no checkpoint mentions it.
   */
  loadPartition(partition: string): Promise<PartitionSnapshot | undefined>;
  /** Bytes the store holds: its folder on disk (LevelDB) or its values in memory (`stream_processor_state_size_bytes`). */
  sizeBytes(): Promise<number>;
  close(): Promise<void>;
}

export interface StateStoreOptions {
  /** Receives one message per skipped checkpoint or leftover of an interrupted write. */
  onWarning?: (message: string) => void;
  /**
   * Operator states are split into values of at most this many bytes, so one huge
   * state neither becomes one huge LevelDB value nor has to be re-read whole to
   * find a corrupt piece. Default 1 MiB (see bench/state-store.ts).
   */
  chunkBytes?: number;
}
