/**
 * Worked example: `fetchWithToken` tested against every scenario generated from the statechart
 * (a refresh in flight, the breaker open with a valid token, BREAKER_OPEN after expiry, MINT_TIMEOUT,
 * every waiter giving up, a 401 from the upstream, late callers, stop()). The replay checks the
 * provider's side after every step; this file asserts what a user wants of the wrapper.
 */
import { describe, expect, it } from 'vitest';
import { CredentialError } from 'credential-actor';
import { coverageLine, credentialScenarios, replayScenario, scenarioCoverage, type ReplayResult } from 'credential-actor/testing';
import { fetchWithToken } from './fetch-with-token.js';

const scenarios = credentialScenarios();
const results: ReplayResult<Response>[] = [];

describe('fetchWithToken on every generated scenario', () => {
  it.each(scenarios.map((scenario) => [scenario.name, scenario] as const))('%s', async (_name, scenario) => {
    const result = await replayScenario(scenario, {
      onRequest: ({ provider, fetch }) => fetchWithToken(provider, 'https://api.example/orders', {}, fetch),
    });
    results.push(result);
    for (const request of result.requests) {
      // never a request with an expired (or made-up) token
      expect(request.upstream.filter((call) => call.expired || call.unknownToken)).toEqual([]);
      // at most one retry, and only after a 401 whose token it reported (currentToken({ rejected }))
      expect(request.upstream.length).toBeLessThanOrEqual(2);
      if (request.upstream.length === 2) {
        expect(request.upstream[0]!.status).toBe(401);
        expect(request.invalidations).toBe(1);
      }
      if (request.result.status === 'rejected') {
        const { reason } = request.result;
        // a clear error: the provider's typed error, the mint's own error, or the caller's abort; and nothing sent after it
        const clear = reason instanceof CredentialError || (reason instanceof Error && reason.message === 'model mint failure') || typeof reason === 'string';
        expect(clear, `request at step ${request.step} rejected with ${String(reason)}`).toBe(true);
        if (reason instanceof CredentialError && reason.code === 'BREAKER_OPEN') expect(request.upstream).toEqual(request.upstream.filter((call) => call.status === 401));
      }
      if (request.result.status === 'fulfilled') expect(request.result.value.status).toBe(200);
    }
  });

  it('went through every state and transition of the statechart', () => {
    const report = scenarioCoverage(scenarios, results);
    console.log(`fetchWithToken: ${coverageLine(report)}`);
    expect(report.states.uncovered).toEqual([]);
    expect(report.transitions.uncovered).toEqual([]);
    // the assertions above were put to work: a 401 retried, a BREAKER_OPEN refused, a MINT_TIMEOUT seen
    const requests = results.flatMap((result) => result.requests);
    expect(requests.some((request) => request.upstream.length === 2)).toBe(true);
    const reasons = requests.flatMap((request) => (request.result.status === 'rejected' ? [request.result.reason] : []));
    expect(reasons.some((reason) => reason instanceof CredentialError && reason.code === 'BREAKER_OPEN')).toBe(true);
    expect(reasons.some((reason) => reason instanceof CredentialError && reason.code === 'MINT_TIMEOUT')).toBe(true);
  });
});
