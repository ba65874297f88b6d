// npm run mutate:machines: the statecharts and their one breaker, each mutant run against the suites that drive them.
// A machine is declared once, when its module loads, so nearly all of its mutants are "static";
// with per-test coverage Stryker ran such a mutant only against the one test that happened to
// import the module inside a test body (and reported 105 survivors that no test had really faced).
// Here every mutant is active from the moment the module loads ('all', static activation) and meets
// every machine suite (MUTATE_SUITE=machines in vitest.mutate.config.ts).
import { readFileSync } from 'node:fs';

const base = JSON.parse(readFileSync(new URL('./stryker.config.json', import.meta.url), 'utf8'));
export default {
  ...base,
  // delays.ts too: its delay functions are made once, when the statecharts load (static)
  mutate: ['machines/credential.machine.ts', 'machines/pool.machine.ts', 'machines/breaker.ts', 'machines/refresh-token.machine.ts', 'machines/delays.ts'],
  coverageAnalysis: 'all',
  ignoreStatic: false,
  incrementalFile: 'reports/mutation/machines-incremental.json',
  jsonReporter: { fileName: 'reports/mutation/machines.json' },
};
