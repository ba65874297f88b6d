import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'examples/**/*.test.ts'],
    pool: 'forks',
    globalSetup: ['test/redis/global-setup.ts'],
    testTimeout: 20_000,
  },
});
