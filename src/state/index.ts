import { CheckpointStore } from './checkpoint-store.js';
import { LevelKv } from './level-kv.js';
import { MemoryKv } from './memory-kv.js';
import type { StateStore, StateStoreOptions } from './types.js';

export type { Checkpoint, OutputIdentity, PartitionSnapshot, StateStore, StateStoreOptions } from './types.js';
export { StateLockedError } from './level-kv.js';

/** Same shape as the `state` key of the configuration. */
export type StateBackendConfig = { readonly backend: 'memory' } | { readonly backend: 'level'; readonly path: string };

/**
 * Opens the checkpoint store. LevelDB creates a missing folder (a fresh start);
 * a folder another process holds open rejects with a `StateLockedError`.
 */
export async function openStateStore(config: StateBackendConfig, options: StateStoreOptions = {}): Promise<StateStore> {
  const kv = config.backend === 'memory' ? new MemoryKv() : await LevelKv.open(config.path);
  return new CheckpointStore(kv, options);
}
