import { dump } from 'js-yaml';
import type { ProcessorConfig } from './types.js';

/**
 * The effective configuration as YAML (for `--validate`): every key with its
 * value after defaults and env overrides, paths absolute. Reading the text back
 * with `parseConfig` gives an equal configuration.
 */
export function describeConfig(config: ProcessorConfig): string {
  // noRefs: lists shared with the defaults must print in full, not as YAML anchors.
  return dump({ processor: config }, { noRefs: true, lineWidth: -1 });
}
