import { configDefaults, defineConfig } from 'vitest/config';
import { SOURCE_ALIASES } from './test/source-aliases.js';
import { REAL_PROCESSES } from './vitest.config.js';

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
const POOL_SUITES = ['test/pool/*.test.ts'];
/** `MUTATE_SUITE=machines`: the suites that drive the statecharts (the credential's, the pool's, the refresh token's, their one breaker). */
const MACHINE_SUITES = [
  ...POOL_SUITES,
  'test/core/{machine-defaults,actor-clock,attempt-events,breaker,breaker-table,serving,proactive,retry-after,invalidate,inspection,construction,stop,cancellation,short-tokens,random-schedules,refresh-token-machine,refresh-token-rules}.test.ts',
  'test/testing/{model-based,scenarios}.test.ts',
  'test/oauth2/refresh-token-mint.test.ts',
];
const SUITES: Record<string, string[]> = { pool: POOL_SUITES, machines: MACHINE_SUITES };

export default defineConfig({
  resolve: { alias: SOURCE_ALIASES },
  test: {
    testTimeout: 20_000,
    include: SUITES[process.env.MUTATE_SUITE ?? ''] ?? ['test/**/*.test.ts', 'examples/**/*.test.ts'],
    exclude: [
      ...configDefaults.exclude,
      // what runs the built dist/, which a mutant of the sources never reaches
      'test/package/bench-smoke.test.ts',
      'test/package/bundle.test.ts',
      'test/browser/browser-inspector.test.ts',
      'test/package/visualizations.test.ts',
      'test/package/layout.test.ts',
      'test/package/docs.test.ts',
      // every real-process test, as `npm test` lists them (one owner of that list: vitest.config.ts)
      ...REAL_PROCESSES,
      // the seeded simulations of the fleet and the tabs: 30 s each, per mutant
      'test/simulation/*.sim.test.ts',
    ],
  },
});
