import { describe, expect, it } from 'vitest';
import { defaultRefreshConfig, refreshDueAt, type MintedToken, type RefreshMode } from '../../src/index.js';
import { createCredentialProvider } from '../../src/index.js';
import { ManualClock } from '../../src/testing/index.js';
import { flush, outcome } from '../helpers.js';

const TOKEN_LIFE_MS = 20_000; // shorter than the default 30 s refreshFloorMs: due the moment it is issued
const MINT_MS = 100;
const REQUEST_EVERY_MS = 50;

/** 60 s of a request every 50 ms against an issuer of 20-second tokens that answers in 100 ms. */
async function trafficAgainstShortTokens(refresh: RefreshMode, failEvery = 0) {
  const clock = new ManualClock(Date.parse('2026-11-28T10:00:00Z'));
  let mints = 0;
  const mint = () =>
    new Promise<MintedToken>((resolve, reject) => {
      mints++;
      const failing = failEvery > 0 && mints % failEvery === 0;
      clock.setTimeout(() => (failing ? reject(new Error('issuer hiccup')) : resolve({ secret: `t${mints}`, expiresAt: clock.now() + TOKEN_LIFE_MS })), MINT_MS);
    });
  const pending = createCredentialProvider({ mint, clock, refresh });
  clock.advance(MINT_MS);
  const provider = await pending;
  let served = 0;
  let refused = 0;
  const results: Promise<void>[] = [];
  for (let elapsed = 0; elapsed < 60_000; elapsed += REQUEST_EVERY_MS) {
    clock.advance(REQUEST_EVERY_MS);
    const requestedAt = clock.now();
    results.push(
      outcome(provider.currentToken()).then((result) => {
        if (result.ok && (result.value.expiresAt === null || requestedAt < result.value.expiresAt)) served++;
        else refused++;
      }),
    );
    await flush();
  }
  await Promise.all(results);
  const breaker = provider.toJSON().breaker;
  await provider.stop();
  return { mints, served, refused, breaker };
}

describe('tokens shorter than refreshFloorMs', () => {
  it('keep refreshDueAt() the original formula: such a token is due at issue', () => {
    expect(refreshDueAt(defaultRefreshConfig, 0, TOKEN_LIFE_MS)).toBe(0);
  });

  it.each(['on-demand', 'proactive'] as const)('cost one refresh per lifetime in %s mode, whatever the traffic', async (refresh) => {
    const { mints, served, refused } = await trafficAgainstShortTokens(refresh);
    // the construction mint, then one refresh at 80% of each 20 s life: t = 16.1 s, 32.2 s, 48.3 s
    expect(mints).toBeLessThanOrEqual(5);
    expect(mints).toBeGreaterThanOrEqual(4);
    expect(refused).toBe(0);
    expect(served).toBe(1_200);
  });

  it.each(['on-demand', 'proactive'] as const)('with a flaky issuer (every 3rd mint fails), in %s mode, the breaker stays closed and every request is served', async (refresh) => {
    const { mints, refused, breaker } = await trafficAgainstShortTokens(refresh, 3);
    expect(refused).toBe(0);
    expect(breaker).toBe('closed');
    expect(mints).toBeLessThanOrEqual(8);
  });
});
