import { dump } from 'js-yaml';
import type { ProcessorConfig } from './types.js';

/**
 * The effective configuration as YAML (for `--validate`): every key with its
 * value after defaults and env overrides, paths absolute. Reading the text back
 * with `parseConfig` gives an equal configuration, except for a SASL password: it is
 * printed as `(hidden)`, since `--validate` output lands in terminals and CI logs.
 */
export function describeConfig(config: ProcessorConfig): string {
  const { sasl } = config.kafka;
  const shown = sasl === undefined ? config : { ...config, kafka: { ...config.kafka, sasl: { ...sasl, password: HIDDEN } } };
  // noRefs: lists shared with the defaults must print in full, not as YAML anchors.
  return dump({ processor: shown }, { noRefs: true, lineWidth: -1 });
}

const HIDDEN = '(hidden)';
