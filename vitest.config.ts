import { configDefaults, defineConfig } from 'vitest/config';
import { SOURCE_ALIASES } from './test/source-aliases.js';

/**
 * Tests that run real processes, servers and clocks (forked fleets, redis-server, oidc-provider,
 * the demo, npm pack): one file at a time, after the deterministic suite, so that their timing is
 * not at the mercy of each other on a two-core machine. The rest run in parallel.
 */
const REAL_PROCESSES = [
  'test/fleet.test.ts',
  'test/refresh-rotation.test.ts',
  'test/redis-coordination.test.ts',
  'test/redis-seams.test.ts',
  'test/readme-redis.test.ts',
  'test/readme-shutdown.test.ts',
  'test/redis-cluster.test.ts',
  'test/demo.test.ts',
  'test/demo-inspector.test.ts',
  'test/inspector-shutdown.test.ts',
  'test/package.test.ts',
  'test/oauth2-integration.test.ts',
  'test/oauth2-second-issuer.test.ts',
  'test/azurite.test.ts',
  'test/azure.test.ts',
  'test/aws.test.ts',
  'test/aws-fleet.test.ts',
  'test/browser-tabs.test.ts',
];

export default defineConfig({
  resolve: { alias: SOURCE_ALIASES },
  test: {
    pool: 'forks',
    globalSetup: ['test/redis/global-setup.ts'],
    testTimeout: 20_000,
    projects: [
      {
        extends: true,
        test: {
          name: 'deterministic',
          include: ['test/**/*.test.ts', 'examples/**/*.test.ts'],
          exclude: [...configDefaults.exclude, ...REAL_PROCESSES],
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: { name: 'real processes', include: REAL_PROCESSES, fileParallelism: false, sequence: { groupOrder: 1 } },
      },
    ],
  },
});
