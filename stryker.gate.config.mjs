// npm run mutate:gate: the pool's issuer gate, with every pool suite run against each mutant
// (coverageAnalysis 'all'): its model-based coverage check asserts what the replays saw together,
// which a per-test analysis never runs against a mutant.
import { readFileSync } from 'node:fs';

const base = JSON.parse(readFileSync(new URL('./stryker.config.json', import.meta.url), 'utf8'));
export default {
  ...base,
  mutate: ['src/pool/issuer-gate.ts'],
  coverageAnalysis: 'all',
  ignoreStatic: false,
  incrementalFile: 'reports/mutation/gate-incremental.json',
  jsonReporter: { fileName: 'reports/mutation/gate.json' },
};
