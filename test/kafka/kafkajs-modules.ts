/** What the tests of kafkajs replacements compare against: kafkajs's own modules, and a fixed clock. */
import { createRequire } from 'node:module';
import { afterEach, beforeEach, vi } from 'vitest';

const require = createRequire(import.meta.url);

/** kafkajs's own module at `specifier`, loaded afresh from its file whatever Node's module cache holds there. */
export function kafkajsOwn<T>(specifier: string): T {
  const path = require.resolve(specifier);
  const cached = require.cache[path];
  delete require.cache[path];
  try {
    return require(path) as T;
  } finally {
    if (cached !== undefined) require.cache[path] = cached;
  }
}

/** kafkajs stamps messages without a timestamp with Date.now(): one instant for every encoder compared. */
export function withFixedDate(): void {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(1_764_000_123_456);
  });
  afterEach(() => vi.useRealTimers());
}
