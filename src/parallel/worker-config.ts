import { join } from 'node:path';
import type { ProcessorConfig } from '../config/index.js';

/**
 * The configuration of worker `index`: the shared one, except that a LevelDB local copy
 * lives in a directory of its own (LevelDB locks its directory to one opener). A task that
 * moves to another worker restores from the state topic, as across instances.
 */
export function workerConfig(config: ProcessorConfig, index: number): ProcessorConfig {
  if (config.state.backend !== 'level') return config;
  return { ...config, state: { ...config.state, path: join(config.state.path, `worker-${index}`) } };
}
