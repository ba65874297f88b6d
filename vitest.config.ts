import { configDefaults, defineConfig } from 'vitest/config';
import { StartOrder } from './test/start-order.js';
import { SOURCE_ALIASES } from './test/source-aliases.js';

/**
 * Tests that run real processes, servers and clocks (forked fleets, redis-server, oidc-provider,
 * the demo, npm pack, Chromium). They mostly wait on real time; each file starts its own servers on
 * ports from the OS, and their bounds are derived from what they observed, so they hold beside
 * CPU-bound tests and with four busy loops on the two cores as well. Listed for the mutation suite,
 * which leaves them out (`vitest.mutate.config.ts`).
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

/**
 * The files that must not share a process with another file: `@azure/identity`'s
 * `ManagedIdentityCredential` (MSAL) keeps the managed-identity source it found, with its endpoint,
 * for the whole process, so a second file's credential would call the first file's endpoint, since
 * closed. Every other file shares its worker's modules with the files run there before it (vitest's
 * `isolate: false`): its own module state is per instance (WeakMaps keyed by the objects they
 * describe), and a file's listeners on `process` are removed in its `afterAll`.
 */
export const OWN_PROCESS = ['test/sdk/sdk-source-fleet.test.ts', 'test/package/bench-smoke.test.ts'];

/**
 * One pool for every file, three at a time on the two cores: the real-process files wait on real
 * time while the deterministic ones compute, so they share the cores instead of running one phase
 * after the other (in two phases a third of the second phase's CPU sat idle: 298 s, against 256 s in one pool).
 * The files start in an order that keeps the two cores busy (`test/start-order.ts`). A worker keeps the modules it loaded
 * from one file to the next (the `shared` project): loading the sources, XState and the SDKs again
 * for each of the 57 files cost about 90 s of CPU (vitest 298 s against 248 s, measured back to back).
 */
export default defineConfig({
  resolve: { alias: SOURCE_ALIASES },
  test: {
    pool: 'forks',
    maxWorkers: 3,
    sequence: { sequencer: StartOrder },
    globalSetup: ['test/redis/global-setup.ts'],
    // a guard against hangs, not a speed check: a CPU-bound test of 6 s with no load takes about 20 s
    // with four busy loops on the two cores and three files at a time
    testTimeout: 60_000,
    // the cases of a file that runs them at once (the browser tabs, the demo), three at a time: each
    // is real processes on real time, and more at once starved the others of the two cores
    maxConcurrency: 3,
    projects: [
      { extends: true, test: { name: 'shared', isolate: false, include: ['test/**/*.test.ts', 'examples/**/*.test.ts'], exclude: [...configDefaults.exclude, ...OWN_PROCESS] } },
      { extends: true, test: { name: 'own-process', include: OWN_PROCESS } },
    ],
  },
});
