import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // The service imports the operators package by name: in the repository, its sources
    // (tsconfig.json's `paths` says the same to tsc and tsx).
    alias: { '@llm-feedback/stream-operators': fileURLToPath(new URL('./operators/index.ts', import.meta.url)) },
  },
  test: {
    include: ['test/**/*.test.ts', 'marbles/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 180_000,
  },
});
