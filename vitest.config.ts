import { configDefaults, defineConfig } from 'vitest/config';
import { SOURCE_ALIASES } from './test/source-aliases.js';

/**
 * Tests that run real processes, servers and clocks (forked fleets, redis-server, oidc-provider,
 * the demo, npm pack): after the deterministic suite, two files at a time. They mostly wait on real
 * time, so two at once nearly halve the wall time; each file starts its own servers on ports from
 * the OS, and their bounds are derived from what they observed, so they hold with four busy loops on
 * the two cores as well (checked before every change of this list). The rest run in parallel.
 */
export const REAL_PROCESSES = [
  'test/redis/fleet.test.ts',
  'test/redis/refresh-rotation.test.ts',
  'test/redis/redis-coordination.test.ts',
  'test/redis/redis-seams.test.ts',
  'test/demo/readme-redis.test.ts',
  'test/demo/readme-shutdown.test.ts',
  'test/redis/redis-cluster.test.ts',
  'test/demo/demo.test.ts',
  'test/demo/demo-inspector.test.ts',
  'test/demo/inspector-shutdown.test.ts',
  'test/package/package.test.ts',
  'test/oauth2/oauth2-integration.test.ts',
  'test/oauth2/oauth2-second-issuer.test.ts',
  'test/oauth2/client-authentication.test.ts',
  'test/fetch/dpop.test.ts',
  'test/fetch/mutual-tls.test.ts',
  'test/fetch/fetch-second-issuer.test.ts',
  'test/azure/azurite.test.ts',
  'test/azure/azure.test.ts',
  'test/aws/aws.test.ts',
  'test/aws/aws-fleet.test.ts',
  'test/sdk/sdk-source-fleet.test.ts',
  'test/browser/browser-tabs.test.ts',
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
          // both cores: vitest's default leaves one free (85 s instead of about 120 s on two cores)
          maxWorkers: 2,
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: { name: 'real processes', include: REAL_PROCESSES, fileParallelism: true, maxWorkers: 2, sequence: { groupOrder: 1 } },
      },
    ],
  },
});
