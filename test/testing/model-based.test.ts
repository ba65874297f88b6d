import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { credentialMachine } from '../../machines/credential.machine.js';
import { coverageJson, coverageLine, credentialScenarios, replayScenario, scenarioCoverage, ScenarioMismatch, type ReplayResult } from '../../src/testing/index.js';

/**
 * Our own model-based tests run on exactly what `credential-actor/testing` ships: if the public
 * scenario generator or replay breaks, this suite fails.
 */
const COVERAGE_FILE = new URL('../../visualizations/coverage.json', import.meta.url);

// Generated when this file is collected, from the shipped machine itself.
const generationStartedAt = performance.now();
const scenarios = credentialScenarios({ coordination: true });
const generationMs = performance.now() - generationStartedAt;
const results: ReplayResult[] = [];

describe('model-based: every scenario generated from credentialMachine, replayed against the real provider', () => {
  it.each(scenarios.map((scenario) => [scenario.name, scenario] as const))('%s', async (_name, scenario) => {
    results.push(await replayScenario(scenario));
  });

  it('covers every state and every transition of the machine', () => {
    expect(results).toHaveLength(scenarios.length);
    const report = scenarioCoverage(scenarios, results);
    console.log(`${coverageLine(report)} (generated in ${Math.round(generationMs)} ms)`);
    expect(report.states.uncovered).toEqual([]);
    expect(report.transitions.uncovered).toEqual([]);
    const json = coverageJson(report);
    const committed = (() => {
      try {
        return readFileSync(COVERAGE_FILE, 'utf8');
      } catch {
        return null;
      }
    })();
    if (committed !== json) writeFileSync(COVERAGE_FILE, json);
    expect(committed, 'visualizations/coverage.json was stale and has been rewritten: commit it').toBe(json);
  });
});

describe('model-based tests can fail', () => {
  // A deliberately broken variant: the breaker never trips, so `closed → open` is unreachable.
  const broken = credentialMachine.provide({ guards: { failureReachesThreshold: () => false, failureSetsRetryAfter: () => false } });

  it('replaying the shipped machine’s scenarios against a provider on the broken machine fails', async () => {
    const tripping = scenarios.filter((scenario) => scenario.steps.some((step) => step.expect.state.breaker === 'open'));
    expect(tripping.length).toBeGreaterThan(0);
    for (const scenario of tripping) await expect(replayScenario(scenario, { machine: broken })).rejects.toBeInstanceOf(ScenarioMismatch);
  });

  it('the broken machine’s own graph leaves the trip uncovered, so its coverage check fails', async () => {
    // One refresh mode is enough to show it, and a shorter token life: the broken machine's graph is
    // larger, since failures never stop and the token's remaining life takes many more values (at
    // the default 1,618 ms its graph took 6 s of CPU to walk, at 400 ms 1.4 s). The shipped machine,
    // walked with the same options, covers the trip and half-open: what the broken one leaves
    // uncovered is the break, not the options.
    const options = { refresh: 'on-demand', timing: { lifetimeMs: 400 } } as const;
    const trip = 'credential.breaker.closed --mint.failed [failureReachesThreshold]--> credential.breaker.open';
    const coverageOf = async (machine?: typeof broken) => {
      const own = credentialScenarios({ ...options, ...(machine === undefined ? {} : { machine }) });
      const replayed = await Promise.all(own.map((scenario) => replayScenario(scenario, machine === undefined ? {} : { machine })));
      return scenarioCoverage(own, replayed, machine);
    };
    const shipped = await coverageOf();
    expect(shipped.transitions.uncovered).not.toContain(trip);
    expect(shipped.states.uncovered).not.toContain('credential.breaker.halfOpen');
    const report = await coverageOf(broken);
    expect(report.transitions.uncovered).toContain(trip);
    expect(report.states.uncovered).toContain('credential.breaker.halfOpen');
  }, 60_000); // CPU alone: 2 s in the full suite with no load
});
