import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Lab tests create network namespaces and run for seconds; each picks its own prefix.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // As every namestack Node process (apps/node-command.ts says why).
    execArgv: ['--single-threaded-gc'],
    reporters: ['default'],
  },
});
