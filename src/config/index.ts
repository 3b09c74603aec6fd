/** Configuration: schema, defaults, env overrides and validation. See README.md in this folder. */
export { loadConfig, parseConfig, type ParseOptions } from './load.js';
export { describeConfig } from './describe.js';
export { ConfigError, formatIssue, type ConfigIssue } from './errors.js';
export { ENV_OVERRIDES, type Env, type EnvOverride, type EnvValueKind } from './env.js';
export * from './types.js';
