import { defineConfig } from 'vitest/config';

/** `HITA_BENCH=1` runs the benchmarks of bench/ instead of the tests: they print figures, assert nothing timed. */
const isBench = process.env.HITA_BENCH === '1';

export default defineConfig({
  resolve: {
    // Tests import graphql's ESM build while type-graphql and Apollo require its CommonJS build:
    // two copies mean "Cannot use GraphQLSchema from another module or realm". Force the CJS one.
    alias: [{ find: /^graphql$/, replacement: 'graphql/index.js' }],
  },
  test: {
    include: isBench ? ['bench/**/*.bench.ts'] : ['test/**/*.test.ts', 'src/**/*.test.ts'],
    setupFiles: ['reflect-metadata'],
    // Native addons (onnxruntime-node, better-sqlite3, sharp) are safer in child processes.
    pool: 'forks',
    testTimeout: isBench ? 0 : 60_000,
    hookTimeout: isBench ? 0 : 60_000,
    ...(isBench ? { fileParallelism: false } : {}),
  },
});
