/** What the tests of kafkajs replacements compare against: kafkajs's own modules, and a fixed clock. */
import { execFileSync } from 'node:child_process';
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

/**
 * What Node's module cache holds in a fresh process once it has imported `entry` (a module of
 * this project, relative to the repository): the name of the function each module of
 * `exportsOf` exports, and whether each module of `loaded` is in the cache.
 */
export function moduleCacheAfterImport(entry: string, exportsOf: readonly string[], loaded: readonly string[]): { exports: Record<string, string | undefined>; loaded: Record<string, boolean> } {
  const script = `
    import { createRequire } from 'node:module';
    await import('./${entry}');
    const require = createRequire(process.cwd() + '/');
    const cached = (specifier) => require.cache[require.resolve(specifier)];
    const exportsOf = ${JSON.stringify(exportsOf)};
    const loaded = ${JSON.stringify(loaded)};
    console.log(JSON.stringify({
      exports: Object.fromEntries(exportsOf.map((s) => [s, cached(s)?.exports.name])),
      loaded: Object.fromEntries(loaded.map((s) => [s, cached(s) !== undefined])),
    }));
  `;
  const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').pop()!) as ReturnType<typeof moduleCacheAfterImport>;
}
