import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CheckpointStore } from '../../src/state/checkpoint-store.js';
import type { KvBackend } from '../../src/state/kv.js';
import { LevelKv } from '../../src/state/level-kv.js';
import { MemoryKv } from '../../src/state/memory-kv.js';
import type { Checkpoint, StateStoreOptions } from '../../src/state/index.js';

/**
 * One backend under test. `open` gives a store over the backend's data plus the
 * lower-level key-value API beneath it, so tests can fake crashes and damage.
 * Closing and reopening models a process restart: LevelDB reopens the folder;
 * memory keeps its data in the backend object, whose close the store cannot reach.
 */
export interface Backend {
  readonly name: string;
  open(options?: StateStoreOptions): Promise<{ store: CheckpointStore; kv: KvBackend }>;
  dispose(): Promise<void>;
}

export const backends: ReadonlyArray<{ name: string; create: () => Promise<Backend> }> = [
  {
    name: 'memory',
    create: async () => {
      const data = new MemoryKv();
      const kv: KvBackend = {
        location: data.location,
        get: (space, key) => data.get(space, key),
        getMany: (space, keys) => data.getMany(space, keys),
        keys: (space, range) => data.keys(space, range),
        batch: (operations) => data.batch(operations),
        reclaim: () => data.reclaim(),
        sizeBytes: () => data.sizeBytes(),
        close: async () => undefined,
      };
      return { name: 'memory', open: async (options) => ({ store: new CheckpointStore(kv, options), kv }), dispose: () => data.close() };
    },
  },
  {
    name: 'level',
    create: async () => {
      const dir = await mkdtemp(join(tmpdir(), 'state-store-'));
      const path = join(dir, 'state');
      return {
        name: 'level',
        open: async (options) => {
          const kv = await LevelKv.open(path);
          return { store: new CheckpointStore(kv, options), kv };
        },
        dispose: () => rm(dir, { recursive: true, force: true }),
      };
    },
  },
];

export const bytes = (...values: number[]): Uint8Array => Uint8Array.from(values);

/** Deterministic pseudo-random bytes, so large states differ from chunk to chunk. */
export function noise(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

export function sampleCheckpoint(id: number): Checkpoint {
  return {
    id,
    createdAt: 1_795_687_200_000 + id * 1000,
    positions: { '0': String(100 * id), 'feedback/1': String(7 * id) },
    sinks: { results: 1000 * id, dead_letter: 3 * id },
    operators: { watermarks: bytes(id, 1, 2), empty: new Uint8Array(0) },
    partitions: {
      '0': { windows: noise(5000, id), sessions: bytes(9, id) },
      'feedback/1': { windows: noise(1234, id + 100) },
    },
  };
}

/** Checkpoint of the crash test: large enough that a kill often lands mid-write, and a function of its id. */
export function crashCheckpoint(id: number): Checkpoint {
  return {
    id,
    createdAt: id,
    positions: { '0': String(id) },
    sinks: { results: id },
    operators: {},
    partitions: { '0': { windows: noise(3_000_000, id) } },
  };
}
