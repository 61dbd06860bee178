import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['packages/*/test/**/*.test.ts'],
    testTimeout: 180_000,
    hookTimeout: 180_000,
    // Tests spawn worker pools and run TensorFlow.js; two cores are all we have.
    fileParallelism: false,
    pool: 'forks',
  },
});
