import { describe, expect, it, vi } from 'vitest';
import { fetchWithToken } from '../../examples/fetch-with-token.js';
import { CredentialError, type AuthToken } from '../../src/index.js';
import { coverageLine, coverageSvg, credentialScenarios, replayScenario, scenarioCoverage, ScenarioMismatch, type CredentialScenario, type RequestContext } from '../../src/testing/index.js';

const scenarios = credentialScenarios();

describe('credentialScenarios()', () => {
  it('is plain data: a JSON round trip replays the same', async () => {
    const copy = JSON.parse(JSON.stringify(scenarios)) as CredentialScenario[];
    expect(copy).toEqual(scenarios);
    const result = await replayScenario(copy.find((scenario) => scenario.steps.some((step) => step.world.kind === 'upstreamRefuses'))!);
    // the caller was refused, invalidated the token and retried; the retry waits on the mint until stop()
    expect(result.requests).toHaveLength(1);
    const [request] = result.requests;
    expect(request!.upstream.map((call) => call.status)).toEqual([401]);
    expect(request!.tokenCalls).toBe(2);
    expect(request!.invalidations).toBe(1);
    expect(request!.result).toMatchObject({ status: 'rejected', reason: { code: 'STOPPED' } });
  });

  it('is stable: the same options give the same scenarios, names included', () => {
    expect(credentialScenarios()).toEqual(scenarios);
    expect(scenarios.map((scenario) => scenario.name)).toEqual([...new Set(scenarios.map((scenario) => scenario.name))]);
    expect(scenarios.some((scenario) => scenario.name.startsWith('on-demand #1: '))).toBe(true);
  });

  it('takes the refresh mode and the policy', async () => {
    const onDemand = credentialScenarios({ refresh: 'on-demand', policy: { breakerThreshold: 3 } });
    expect(new Set(onDemand.map((scenario) => scenario.refresh))).toEqual(new Set(['on-demand']));
    expect(onDemand.every((scenario) => scenario.model.policy.breakerThreshold === 3)).toBe(true);
    const results = await Promise.all(onDemand.map((scenario) => replayScenario(scenario)));
    const report = scenarioCoverage(onDemand, results);
    expect(report.states.uncovered).toEqual([]);
    // proactive-only transitions (refresh.due, the retry timer) are not reachable on demand
    expect(report.transitions.uncovered.every((label) => /proactiveMintAdmitted|retryAdmitted/.test(label))).toBe(true);
  });

  it('walks the sharing region only for a user who asks for coordination, and measures coverage accordingly', async () => {
    const phasesOf = (list: readonly CredentialScenario[]) => list.flatMap((scenario) => scenario.steps).filter((step) => step.world.kind === 'mintPhase');
    expect(phasesOf(scenarios)).toEqual([]);
    expect(scenarios.some((scenario) => scenario.name.includes('holdingLease'))).toBe(false);
    const shared = credentialScenarios({ refresh: 'on-demand', coordination: true });
    expect(new Set(phasesOf(shared).map((step) => (step.world as { phase: string }).phase))).toEqual(new Set(['waitingOnHolder', 'adopting', 'holdingLease']));
    // alone: the totals leave the sharing region's phases out, and nothing is uncovered for lack of them
    const alone = credentialScenarios({ refresh: 'on-demand' });
    const aloneReport = scenarioCoverage(alone, await Promise.all(alone.map((scenario) => replayScenario(scenario))));
    const sharedReport = scenarioCoverage(shared, await Promise.all(shared.map((scenario) => replayScenario(scenario))));
    expect(aloneReport.states.total).toBe(sharedReport.states.total - 3);
    expect(aloneReport.states.uncovered).toEqual([]);
    expect(sharedReport.states.uncovered).toEqual([]);
    expect(aloneReport.transitions.uncovered.some((label) => label.includes('sharing'))).toBe(false);
  });

  it('refuses an unknown option, naming the closest', () => {
    expect(() => credentialScenarios({ cordination: true } as never)).toThrow(/credentialScenarios: unknown option cordination; did you mean coordination\?/);
  });

  it('names the transitions each scenario was generated for, readably', () => {
    expect(scenarios.flatMap((scenario) => scenario.covers)).toContain('credential.breaker.closed --mint.failed [failureReachesThreshold]--> credential.breaker.open');
  });
});

/** A user's check on every request: no token sent expired, as the worked example asserts. */
function neverSendsAnExpiredToken(name: string, result: Awaited<ReturnType<typeof replayScenario>>): void {
  const expired = result.requests.flatMap((request) => request.upstream.filter((call) => call.expired));
  if (expired.length > 0) throw new Error(`${name}: sent a request with an expired token at ${expired.map((call) => call.at).join(', ')}`);
}

describe('a deliberately wrong wrapper fails on a named scenario, its steps printed', () => {
  it('one that retries forever on 401 (without invalidating the token)', async () => {
    const retriesForever = async ({ provider, upstream }: RequestContext) => {
      for (;;) {
        const token = await provider.currentToken();
        if (upstream(token).status !== 401) return 'ok';
      }
    };
    const failures: string[] = [];
    for (const scenario of scenarios) {
      try {
        await replayScenario(scenario, { onRequest: retriesForever });
      } catch (error) {
        expect(error).toBeInstanceOf(ScenarioMismatch);
        expect(error).toMatchObject({ code: 'SCENARIO_MISMATCH', name: 'ScenarioMismatch' });
        failures.push((error as Error).message);
      }
    }
    expect(failures.length).toBeGreaterThan(0);
    expect(failures[0]).toMatch(/^(on-demand|proactive) #\d+: .*upstreamRefuses@\d+/);
    expect(failures[0]).toMatch(/more than 20 times: stopped as a runaway loop/);
    expect(failures[0]).toMatch(/\n {2}steps: upstreamRefuses@\d+/);
  });

  it('one that sends a request with its last token after BREAKER_OPEN', async () => {
    const sendsAnyway = async ({ provider, upstream }: RequestContext) => {
      let fresh = true;
      const tokenOrStale = async () => {
        try {
          return (lastServed = await provider.currentToken());
        } catch {
          fresh = false;
          return lastServed; // "better a stale token than none"
        }
      };
      const token = await tokenOrStale();
      const status = upstream(token).status;
      // the 401 handling is right: only a token the provider just served is invalidated and retried
      if (status !== 401 || !fresh || token === undefined || !provider.invalidate(token)) return status;
      return upstream(await tokenOrStale()).status;
    };
    let lastServed: AuthToken | undefined;
    const failures: string[] = [];
    for (const scenario of scenarios) {
      lastServed = undefined;
      const result = await replayScenario(scenario, { onRequest: sendsAnyway });
      try {
        neverSendsAnExpiredToken(scenario.name, result);
      } catch (error) {
        failures.push((error as Error).message);
      }
    }
    expect(failures.length).toBeGreaterThan(0);
    expect(failures[0]).toMatch(/^(on-demand|proactive) #\d+: .*request@\d+.*: sent a request with an expired token/);
  });

  it('one that asks for a token twice per request fails the provider-side check', async () => {
    const asksTwice = async ({ provider, fetch }: RequestContext) => {
      await provider.currentToken();
      return fetchWithToken(provider, 'https://api.example', {}, fetch);
    };
    const scenario = scenarios.find((candidate) => candidate.steps.some((step) => step.world.kind === 'request' && step.expect.startsMint))!;
    await expect(replayScenario(scenario, { onRequest: asksTwice })).rejects.toThrow(/currentToken\(\) calls so far, the scenario expects/);
  });
});

describe('the coverage report for users', () => {
  it('prints the one line and draws the coverage-coloured SVG (red where nothing went)', async () => {
    const some = scenarios.slice(0, 3);
    const results = await Promise.all(some.map((scenario) => replayScenario(scenario)));
    const report = scenarioCoverage(some, results);
    // 16 states, less the sharing region's three phases (these scenarios were generated without coordination)
    expect(coverageLine(report)).toMatch(/^paths 3, steps \d+, states \d+\/13, transitions \d+\/\d+$/);
    expect(report.transitions.uncovered.length).toBeGreaterThan(0);
    const svg = await coverageSvg(report);
    expect(svg).toMatch(/<svg/);
    expect(svg).toContain('#d0021b'); // uncovered transitions in red
    expect(svg).toMatch(/\d+ paths?/);
  });
});

describe('durations and dependencies it cannot work with', () => {
  it('durations that make two timers fall due together throw INVALID_CONFIG naming them, and one millisecond apart they do not', () => {
    // a proactive refresh at half of 200 ms starts a mint whose 100 ms timeout ends at the token's expiry
    const tied = () => credentialScenarios({ refresh: 'proactive', policy: { mintTimeoutMs: 100 }, timing: { lifetimeMs: 200 } });
    expect(tied).toThrow(CredentialError);
    expect(tied).toThrow(
      expect.objectContaining({
        code: 'INVALID_CONFIG',
        message: expect.stringMatching(/^credentialScenarios: two timers armed together share the deadline 200 \(untilExpiry and mintTimeout\).*timing\.lifetimeMs 200.*mintTimeoutMs 100/),
      }),
    );
    expect(credentialScenarios({ refresh: 'proactive', policy: { mintTimeoutMs: 100 }, timing: { lifetimeMs: 202 } }).length).toBeGreaterThan(0);
  });

  it('coverageSvg without its optional peer dependency rejects with UNCONFIGURED, naming the package to install', async () => {
    vi.doMock('@hpcc-js/wasm-graphviz', () => {
      throw new Error('Cannot find package @hpcc-js/wasm-graphviz');
    });
    const one = scenarios.slice(0, 1);
    const report = scenarioCoverage(one, await Promise.all(one.map((scenario) => replayScenario(scenario))));
    try {
      await expect(coverageSvg(report)).rejects.toThrow(
        expect.objectContaining({ name: 'CredentialError', code: 'UNCONFIGURED', message: expect.stringContaining('npm install --save-dev @hpcc-js/wasm-graphviz') }),
      );
    } finally {
      vi.doUnmock('@hpcc-js/wasm-graphviz');
    }
    // with the package back, the same call renders
    await expect(coverageSvg(report)).resolves.toMatch(/<svg/);
  });
});

describe('the type users code against (issue 26: a function taking a CredentialProvider could not take the replayed one)', () => {
  it('TokenSource is satisfied by a CredentialProvider and by what replayScenario hands your code', async () => {
    const { createCredentialProvider } = await import('../../src/index.js');
    type TokenSource = import('../../src/index.js').TokenSource;
    const tokensFrom = async (source: TokenSource) => (await source.currentToken()).secret.reveal();
    const provider = await createCredentialProvider({ mint: async () => ({ secret: 'production', expiresAt: null }) });
    expect(await tokensFrom(provider)).toBe('production');
    await provider.stop();
    const scenario = credentialScenarios({ refresh: 'on-demand' })[0]!;
    const result = await replayScenario(scenario, { onRequest: ({ provider: replayed }) => tokensFrom(replayed) });
    expect(result.requests.length).toBeGreaterThan(0);
  });
});
