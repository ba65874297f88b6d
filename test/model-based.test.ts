import { describe, expect, it } from 'vitest';
import { credentialMachine } from '../machines/credential.machine.js';
import { committedCoverage, coverageJson, coverageLine, coverageOf, writeCoverage } from './model/coverage.js';
import { generatePaths, type GeneratedPath } from './model/graph.js';
import { describeStep, replayPath, ReplayMismatch, type ReplayResult } from './model/replay.js';

// Generated when this file is collected, from the shipped machine itself.
const generationStartedAt = performance.now();
const generated: GeneratedPath[] = [...generatePaths(credentialMachine, 'on-demand'), ...generatePaths(credentialMachine, 'proactive')];
const generationMs = performance.now() - generationStartedAt;
const results: ReplayResult[] = [];

function nameOf({ refresh, path }: GeneratedPath): string {
  return `${refresh}: ${path.steps.slice(1).map((step) => describeStep(step.event)).join(' → ')}`;
}

describe('model-based: every path generated from credentialMachine, replayed against the real provider', () => {
  it.each(generated.map((path) => [nameOf(path), path] as const))('%s', async (_name, path) => {
    results.push(await replayPath(path));
  });

  it('covers every state and every transition of the machine', () => {
    expect(results).toHaveLength(generated.length);
    const report = coverageOf(credentialMachine, generated, results);
    console.log(`${coverageLine(report)} (generated in ${Math.round(generationMs)} ms)`);
    expect(report.states.uncovered).toEqual([]);
    expect(report.transitions.uncovered).toEqual([]);
    const json = coverageJson(report);
    const committed = committedCoverage();
    if (committed !== json) writeCoverage(json);
    expect(committed, 'visualizations/coverage.json was stale and has been rewritten: commit it').toBe(json);
  });
});

describe('model-based tests can fail', () => {
  // A deliberately broken variant: the breaker never trips, so `closed → open` is unreachable.
  const broken = credentialMachine.provide({ guards: { failureReachesThreshold: () => false } });
  const tripKey = 'credential.breaker.closed';

  it('replaying the shipped machine’s paths against a provider on the broken machine fails', async () => {
    const tripping = generated.filter(({ path }) => path.steps.some((step) => step.state.value.breaker === 'open'));
    expect(tripping.length).toBeGreaterThan(0);
    for (const path of tripping) await expect(replayPath(path, broken)).rejects.toBeInstanceOf(ReplayMismatch);
  });

  it('the broken machine’s own graph leaves the trip uncovered, so its coverage check fails', async () => {
    // One refresh mode is enough to show it, and the broken machine's graph is larger: failures
    // never stop, so the token's remaining life takes many more values.
    const paths = generatePaths(broken, 'on-demand');
    const replayed = await Promise.all(paths.map((path) => replayPath(path, broken)));
    const report = coverageOf(broken, paths, replayed);
    expect(report.transitions.uncovered).toContain(`${tripKey} --mint.failed [failureReachesThreshold]--> credential.breaker.open`);
    expect(report.states.uncovered).toContain('credential.breaker.halfOpen');
  });
});
