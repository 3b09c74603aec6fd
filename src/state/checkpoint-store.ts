import { crc32 } from 'node:zlib';
import { CHECKPOINTS, OPERATORS, checkpointKey, keyId, partitionSpace, pieceKey } from './keys.js';
import type { KvBackend, KvOperation, SpacePath } from './kv.js';
import { type BlobEntry, type Manifest, UnusableCheckpoint, decodeManifest, encodeManifest } from './manifest.js';
import type { Checkpoint, PartitionSnapshot, StateStore, StateStoreOptions } from './types.js';
import { validateCheckpoint } from './validate.js';

const DEFAULT_CHUNK_BYTES = 1 << 20;

/** Keys `first..last` (inclusive) of a space were all deleted. */
interface StaleRange {
  readonly space: SpacePath;
  readonly first: string;
  readonly last: string;
}

/**
 * Checkpoint logic over a {@link KvBackend}: layout (keys.ts), checksums
 * (manifest.ts), retention of two checkpoints and fallback past damaged ones.
 * Operations run one at a time, so a retention pass never races a write.
 */
export class CheckpointStore implements StateStore {
  readonly #kv: KvBackend;
  readonly #warn: (message: string) => void;
  readonly #chunkBytes: number;
  #tail: Promise<unknown> = Promise.resolve();
  #closed = false;
  #lastWrittenId: number | undefined;

  constructor(kv: KvBackend, options: StateStoreOptions = {}) {
    this.#kv = kv;
    this.#warn = options.onWarning ?? (() => undefined);
    this.#chunkBytes = options.chunkBytes ?? DEFAULT_CHUNK_BYTES;
    if (!(Number.isSafeInteger(this.#chunkBytes) && this.#chunkBytes > 0)) {
      throw new RangeError(`chunkBytes must be a positive integer, got ${String(options.chunkBytes)}`);
    }
  }

  async writeCheckpoint(checkpoint: Checkpoint): Promise<void> {
    validateCheckpoint(checkpoint);
    return this.#serial(async () => {
      if (this.#lastWrittenId !== undefined && checkpoint.id <= this.#lastWrittenId) {
        throw new RangeError(`checkpoint id ${checkpoint.id} does not follow ${this.#lastWrittenId}, the last one written`);
      }
      const { operations, stale } = await this.#retention(checkpoint);
      await this.#kv.batch([...operations, ...this.#pieces(checkpoint)]);
      this.#lastWrittenId = checkpoint.id;
      // Queued behind this write, so the checkpoint is complete without waiting for it;
      // the next operation waits instead. A failure, or a close already queued, only costs disk space.
      if (this.#closed) return;
      void this.#serial(async () => {
        for (const { space, first, last } of stale) await this.#kv.reclaim(space, first, last);
      }).catch((error: unknown) => this.#warn(`could not reclaim the space of old checkpoints in ${this.#kv.location}: ${String(error)}`));
    });
  }

  latestCheckpoint(): Promise<Checkpoint | undefined> {
    return this.#serial(async () => {
      const ids = await this.#storedIds();
      await this.#warnInterrupted(ids[0]);
      const problems: string[] = [];
      for (const [index, id] of ids.entries()) {
        try {
          return await this.#readCheckpoint(await this.#manifest(id));
        } catch (error) {
          if (!(error instanceof UnusableCheckpoint)) throw error;
          problems.push(`checkpoint ${id}: ${error.message}`);
          const previous = ids[index + 1];
          this.#warn(
            `checkpoint ${id} in ${this.#kv.location} is unusable (${error.message}); ` +
              (previous === undefined ? 'no older checkpoint to fall back to' : `falling back to checkpoint ${previous}`),
          );
        }
      }
      if (problems.length > 0) {
        throw new Error(`no usable checkpoint in ${this.#kv.location} (${problems.join('; ')}); remove the folder to start afresh`);
      }
      return undefined;
    });
  }

  loadPartition(partition: string): Promise<PartitionSnapshot | undefined> {
    return this.#serial(async () => {
      for (const id of await this.#storedIds()) {
        try {
          const manifest = await this.#manifest(id);
          const blobs = manifest.blobs.filter((blob) => blob.partition === partition);
          // Own properties only: a partition named like an Object method must not find one.
          const position = Object.hasOwn(manifest.positions, partition) ? manifest.positions[partition] : undefined;
          if (position === undefined && blobs.length === 0) return undefined;
          const operators = await this.#readBlobs(id, blobs);
          return { checkpointId: id, createdAt: manifest.createdAt, position, operators };
        } catch (error) {
          if (!(error instanceof UnusableCheckpoint)) throw error;
          this.#warn(`partition ${partition} of checkpoint ${id} in ${this.#kv.location} is unusable (${error.message}); trying an older checkpoint`);
        }
      }
      return undefined;
    });
  }

  /** Not queued behind writes: a measure taken while one runs is as good as one after it. */
  sizeBytes(): Promise<number> {
    return this.#kv.sizeBytes();
  }

  close(): Promise<void> {
    const closing = this.#serial(() => this.#kv.close());
    this.#closed = true;
    return closing;
  }

  #serial<T>(operation: () => Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(new Error(`state store ${this.#kv.location} is closed`));
    const result = this.#tail.then(operation);
    this.#tail = result.catch(() => undefined);
    return result;
  }

  /** Stored checkpoint ids, newest first. */
  async #storedIds(): Promise<number[]> {
    return (await this.#kv.keys(CHECKPOINTS)).map(keyId).reverse();
  }

  async #manifest(id: number): Promise<Manifest> {
    const bytes = await this.#kv.get(CHECKPOINTS, checkpointKey(id));
    if (bytes === undefined) throw new UnusableCheckpoint('manifest vanished');
    return decodeManifest(bytes, id);
  }

  /**
   * Deletes everything but the newest checkpoint older than the one being
   * written (the other one kept). Stored checkpoints with this id or a higher one
   * go too: they belong to a timeline abandoned by recovery, or are leftovers of
   * an interrupted write. Partition sublevels are found through the manifests, so
   * leftovers in a partition that no manifest names are not found; they are
   * never read either.
   */
  async #retention(checkpoint: Checkpoint): Promise<{ operations: KvOperation[]; stale: StaleRange[] }> {
    const ids = await this.#storedIds();
    const kept = ids.find((id) => id < checkpoint.id);
    const spaces = new Map<string, SpacePath>([['', OPERATORS]]);
    const addPartition = (partition: string): void => void spaces.set(partition, partitionSpace(partition));
    for (const partition of Object.keys(checkpoint.partitions)) addPartition(partition);
    for (const id of ids) {
      try {
        for (const blob of (await this.#manifest(id)).blobs) if (blob.partition !== undefined) addPartition(blob.partition);
      } catch (error) {
        if (!(error instanceof UnusableCheckpoint)) throw error;
      }
    }
    const operations: KvOperation[] = ids
      .filter((id) => id !== kept)
      .map((id) => ({ type: 'del', space: CHECKPOINTS, key: checkpointKey(id) }));
    const stale: StaleRange[] = [];
    for (const space of spaces.values()) {
      const deleted = (await this.#kv.keys(space)).filter((key) => keyId(key) !== kept);
      for (const key of deleted) operations.push({ type: 'del', space, key });
      // Keys of the id being written are overwritten at once; what is left to reclaim lies outside it.
      const gone = deleted.filter((key) => keyId(key) !== checkpoint.id);
      if (gone.length > 0) stale.push({ space, first: gone[0]!, last: gone.at(-1)! });
    }
    return { operations, stale };
  }

  /** The checkpoint's chunks, then its manifest: the batch's last write marks it complete. */
  #pieces(checkpoint: Checkpoint): KvOperation[] {
    const operations: KvOperation[] = [];
    const blobs: BlobEntry[] = [];
    const add = (space: SpacePath, operator: string, state: Uint8Array, partition?: string): void => {
      let chunks = 0;
      for (let offset = 0; offset < state.byteLength; offset += this.#chunkBytes, chunks++) {
        const value = state.subarray(offset, offset + this.#chunkBytes);
        operations.push({ type: 'put', space, key: pieceKey(checkpoint.id, operator, chunks), value });
      }
      const entry = { operator, bytes: state.byteLength, chunks, crc32: crc32(state) };
      blobs.push(partition === undefined ? entry : { partition, ...entry });
    };
    for (const [operator, state] of Object.entries(checkpoint.operators)) add(OPERATORS, operator, state);
    for (const [partition, operators] of Object.entries(checkpoint.partitions)) {
      for (const [operator, state] of Object.entries(operators)) add(partitionSpace(partition), operator, state, partition);
    }
    const manifest: Manifest = {
      format: 1,
      id: checkpoint.id,
      createdAt: checkpoint.createdAt,
      positions: { ...checkpoint.positions },
      sinks: { ...checkpoint.sinks },
      ...(checkpoint.outputs === undefined ? {} : { outputs: { ...checkpoint.outputs } }),
      blobs,
    };
    operations.push({ type: 'put', space: CHECKPOINTS, key: checkpointKey(checkpoint.id), value: encodeManifest(manifest) });
    return operations;
  }

  async #readCheckpoint(manifest: Manifest): Promise<Checkpoint> {
    const global = manifest.blobs.filter((blob) => blob.partition === undefined);
    const partitioned = new Map<string, BlobEntry[]>();
    for (const blob of manifest.blobs) {
      if (blob.partition !== undefined) partitioned.set(blob.partition, [...(partitioned.get(blob.partition) ?? []), blob]);
    }
    const partitions = await Promise.all(
      [...partitioned].map(async ([partition, blobs]) => [partition, await this.#readBlobs(manifest.id, blobs)] as const),
    );
    return {
      id: manifest.id,
      createdAt: manifest.createdAt,
      positions: manifest.positions,
      sinks: manifest.sinks,
      ...(manifest.outputs === undefined ? {} : { outputs: manifest.outputs }),
      operators: await this.#readBlobs(manifest.id, global),
      partitions: Object.fromEntries(partitions),
    };
  }

  /** Operator name → verified state, for blobs that all live in one sublevel. */
  async #readBlobs(id: number, blobs: readonly BlobEntry[]): Promise<Record<string, Uint8Array>> {
    const states = await Promise.all(blobs.map(async (blob) => [blob.operator, await this.#readBlob(id, blob)] as const));
    return Object.fromEntries(states);
  }

  async #readBlob(id: number, blob: BlobEntry): Promise<Uint8Array> {
    const space = blob.partition === undefined ? OPERATORS : partitionSpace(blob.partition);
    const keys = Array.from({ length: blob.chunks }, (_, chunk) => pieceKey(id, blob.operator, chunk));
    const chunks = await this.#kv.getMany(space, keys);
    const state = new Uint8Array(blob.bytes);
    let offset = 0;
    for (const [index, chunk] of chunks.entries()) {
      if (chunk === undefined) throw new UnusableCheckpoint(`state piece ${describe(blob)} #${index} is missing`);
      if (offset + chunk.byteLength > blob.bytes) throw new UnusableCheckpoint(`state ${describe(blob)} is longer than recorded`);
      state.set(chunk, offset);
      offset += chunk.byteLength;
    }
    if (offset !== blob.bytes) throw new UnusableCheckpoint(`state ${describe(blob)} is shorter than recorded`);
    if (crc32(state) !== blob.crc32) throw new UnusableCheckpoint(`state ${describe(blob)} checksum mismatch`);
    return state;
  }

  /**
   * A write is one atomic batch, so pieces newer than the newest manifest mean
   * something wrote without its completion marker (a crash in a non-atomic
   * writer, or tampering). They are ignored; say so once.
   */
  async #warnInterrupted(newestId: number | undefined): Promise<void> {
    const spaces = new Map<string, SpacePath>([['', OPERATORS]]);
    if (newestId !== undefined) {
      try {
        for (const blob of (await this.#manifest(newestId)).blobs) {
          if (blob.partition !== undefined) spaces.set(blob.partition, partitionSpace(blob.partition));
        }
      } catch (error) {
        if (!(error instanceof UnusableCheckpoint)) throw error; // reported when the fallback skips it
      }
    }
    const range = newestId === undefined ? {} : { gt: `${checkpointKey(newestId)}"` }; // '"' sorts right after the '!' separator
    const orphans = new Set<number>();
    for (const space of spaces.values()) {
      for (const key of await this.#kv.keys(space, range)) orphans.add(keyId(key));
    }
    for (const id of orphans) {
      this.#warn(`checkpoint ${id} in ${this.#kv.location} has state but no completion marker (an interrupted write); ignored`);
    }
  }

}

const describe = (blob: BlobEntry): string =>
  blob.partition === undefined ? `"${blob.operator}"` : `"${blob.operator}" of partition ${blob.partition}`;
