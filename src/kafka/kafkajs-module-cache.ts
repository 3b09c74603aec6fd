/**
 * How this project swaps one of kafkajs 2.2.4's modules for its own: kafkajs's modules
 * `require` their dependencies once, at their own load, so the replacement must be in Node's
 * module cache before the module that requires it (its holder) loads. `./kafkajs.ts` imports
 * the replacing modules ahead of kafkajs for that reason.
 */
import { createRequire } from 'node:module';
import { KAFKAJS_VERSION } from './produce-encoding/kafkajs-produce-request.js';

const require = createRequire(import.meta.url);

/**
 * Puts `replacement` in Node's module cache as kafkajs's module `specifier`, for kafkajs's
 * `holder` to load; whether the holder will use it (false for another kafkajs version, or a
 * holder that already loaded kafkajs's own). `withOwn` is given kafkajs's own export first.
 */
export function replaceKafkajsModule<T>(specifier: string, holder: string, replacement: T, withOwn?: (own: T) => void): boolean {
  if ((require('kafkajs/package.json') as { version: string }).version !== KAFKAJS_VERSION) return false;
  const path = require.resolve(specifier);
  if (require.cache[path]?.exports === replacement) return true;
  if (require.cache[require.resolve(holder)] !== undefined) return false;
  const own = require(path) as T;
  withOwn?.(own);
  require.cache[path]!.exports = replacement;
  return true;
}
