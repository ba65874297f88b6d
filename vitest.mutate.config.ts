import { configDefaults, defineConfig } from 'vitest/config';
import { SOURCE_ALIASES } from './test/source-aliases.js';

/**
 * The suite `npm run mutate` (StrykerJS) kills mutants with: the deterministic tests that run the
 * sources. Left out: what runs the built `dist/` (a mutant of the sources never reaches it: the bench
 * smoke test, the bundle, the browser inspector) and every real-process test (slow, and each
 * mutant would pay for it).
 */
/**
 * `MUTATE_SUITE=pool`: the pool's suites only, for the issuer gate's run with `coverageAnalysis: 'all'`
 * (its model-based coverage check asserts what the replays saw together, which a per-test analysis
 * never runs against a mutant: see `npm run mutate:gate`).
 */
const POOL_SUITES = ['test/pool*.test.ts'];
/** `MUTATE_SUITE=machines`: the suites that drive the two statecharts, for `npm run mutate:machines`. */
const MACHINE_SUITES = [
  ...POOL_SUITES,
  'test/{machine-defaults,model-based,breaker,serving,proactive,retry-after,invalidate,inspection,construction,stop,cancellation,short-tokens,random-schedules,scenarios}.test.ts',
];
const SUITES: Record<string, string[]> = { pool: POOL_SUITES, machines: MACHINE_SUITES };

export default defineConfig({
  resolve: { alias: SOURCE_ALIASES },
  test: {
    testTimeout: 20_000,
    include: SUITES[process.env.MUTATE_SUITE ?? ''] ?? ['test/**/*.test.ts', 'examples/**/*.test.ts'],
    exclude: [
      ...configDefaults.exclude,
      'test/package/bench-smoke.test.ts',
      'test/package/bundle.test.ts',
      'test/browser/browser-inspector.test.ts',
      'test/package/visualizations.test.ts',
      'test/package/layout.test.ts',
      'test/package/docs.test.ts',
      'test/redis/fleet.test.ts',
      'test/redis/refresh-rotation.test.ts',
      'test/redis-*.test.ts',
      'test/demo/readme-redis.test.ts',
      'test/demo*.test.ts',
      'test/package/package.test.ts',
      'test/oauth2/oauth2-integration.test.ts',
    ],
  },
});
