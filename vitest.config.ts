import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // Tests import graphql's ESM build while type-graphql and Apollo require its CommonJS build:
    // two copies mean "Cannot use GraphQLSchema from another module or realm". Force the CJS one.
    alias: [{ find: /^graphql$/, replacement: 'graphql/index.js' }],
  },
  test: {
    include: ['test/**/*.test.ts', 'src/**/*.test.ts'],
    setupFiles: ['reflect-metadata'],
    // Native addons (onnxruntime-node, better-sqlite3, sharp) are safer in child processes.
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
