import { CheckpointStore } from './checkpoint-store.js';
import { LevelKv } from './level-kv.js';
import { MemoryKv } from './memory-kv.js';
import type { KvBackend } from './kv.js';
import type { StateStore, StateStoreOptions } from './types.js';

export type { Checkpoint, OutputIdentity, PartitionSnapshot, StateStore, StateStoreOptions } from './types.js';
export type { KeyRange, KvBackend, KvOperation, SpacePath } from './kv.js';
export { StateLockedError } from './level-kv.js';

/** Same shape as the `state` key of the configuration. */
export type StateBackendConfig = { readonly backend: 'memory' } | { readonly backend: 'level'; readonly path: string };

/**
 * Opens the checkpoint store. LevelDB creates a missing folder (a fresh start);
 * a folder another process holds open rejects with a `StateLockedError`.
 */
export async function openStateStore(config: StateBackendConfig, options: StateStoreOptions = {}): Promise<StateStore> {
  return new CheckpointStore(await openKv(config), options);
}

/** The key-value store itself, for state laid out by its owner (the Kafka tasks' local copy). */
export async function openKv(config: StateBackendConfig): Promise<KvBackend> {
  return config.backend === 'memory' ? new MemoryKv() : LevelKv.open(config.path);
}
