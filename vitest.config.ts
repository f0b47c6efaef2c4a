import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/setup/env.ts'],
    testTimeout: 180_000,
    hookTimeout: 300_000,
    pool: 'forks',
    // Two files at once, whatever the core count (vitest's default is cores - 1: one file at a time
    // on this 2-core machine). Most files wait on the CLI as a child process and on the servers, so
    // two overlap well: 411 s for the suite against 802 s, both measured under the same load.
    maxWorkers: 2,
    reporters: ['default'],
  },
});
