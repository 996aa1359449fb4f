import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // A temporary dit-ts cache for the whole run (test/setup/temp-cache.ts).
    globalSetup: ['test/setup/temp-cache.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // ONNX Runtime sessions and the 2-core CI machine: run files one at a time for stable memory.
    fileParallelism: false,
  },
});
