import { describe, expect, it } from 'vitest';
import { PROACTIVE_RETRY_BASE_MS, proactiveRetryDelayMs } from '../../machines/policy.js';
import { flush, HOUR, secretOf, startProvider, stateOf } from '../helpers.js';

describe("refresh: 'proactive'", () => {
  it('starts the refresh when the refresh instant arrives, with no caller', async () => {
    const { clock, script, provider } = await startProvider({ refresh: 'proactive' });
    clock.advance(0.8 * HOUR - 1);
    expect(script.count).toBe(1);
    clock.advance(1);
    expect(script.count).toBe(2);
    expect(stateOf(provider)).toEqual({ validity: 'refreshDue', breaker: 'closed', flight: 'minting' });
    script.last.resolve({ secret: 'second', expiresAt: 0.8 * HOUR + HOUR });
    await flush();
    expect(stateOf(provider)).toEqual({ validity: 'fresh', breaker: 'closed', flight: 'idle' });
    // the next refresh is re-armed from the new token: 80% of its life later
    clock.advance(0.8 * HOUR);
    expect(script.count).toBe(3);
    await provider.stop();
  });

  it('retries a failed background refresh with a doubling backoff until the breaker opens, then probes when it cools', async () => {
    const { clock, script, provider } = await startProvider({ refresh: 'proactive', breakerThreshold: 4, breakerCooldownMs: 60_000 });
    clock.advance(0.8 * HOUR);
    expect(script.count).toBe(2);
    const startedAt: number[] = [];
    for (let failure = 1; failure <= 3; failure++) {
      script.last.reject(new Error(`down ${failure}`));
      await flush();
      const delay = proactiveRetryDelayMs({ breakerCooldownMs: 60_000 }, failure);
      expect(delay).toBe(PROACTIVE_RETRY_BASE_MS * 2 ** (failure - 1));
      clock.advance(delay - 1);
      expect(script.count).toBe(1 + failure);
      clock.advance(1);
      expect(script.count).toBe(2 + failure);
      startedAt.push(clock.now());
    }
    script.last.reject(new Error('down 4')); // the fourth failure opens the breaker: no more retries
    await flush();
    expect(stateOf(provider)).toMatchObject({ breaker: 'open', flight: 'idle' });
    clock.advance(60_000 - 1);
    expect(script.count).toBe(5);
    clock.advance(1); // cooldown over: the half-open probe runs by itself
    expect(stateOf(provider)).toMatchObject({ breaker: 'halfOpen', flight: 'minting' });
    expect(script.count).toBe(6);
    script.last.resolve({ secret: 'recovered', expiresAt: clock.now() + HOUR });
    await flush();
    expect(stateOf(provider)).toEqual({ validity: 'fresh', breaker: 'closed', flight: 'idle' });
    expect(secretOf(await provider.currentToken())).toBe('recovered');
    await provider.stop();
  });

  it('caps the backoff at 30 s and at the breaker cooldown', () => {
    expect(proactiveRetryDelayMs({ breakerCooldownMs: 600_000 }, 20)).toBe(30_000);
    expect(proactiveRetryDelayMs({ breakerCooldownMs: 5_000 }, 10)).toBe(5_000);
  });

  it('serves a sparse-traffic caller without blocking across several token lifetimes', async () => {
    const { clock, script, provider } = await startProvider({ refresh: 'proactive' });
    let issuedAt = 0;
    for (let lifetime = 1; lifetime <= 5; lifetime++) {
      clock.set(issuedAt + 0.8 * HOUR); // the refresh starts on its own
      expect(script.count).toBe(lifetime + 1);
      script.last.resolve({ secret: `token-${lifetime + 1}`, expiresAt: clock.now() + HOUR });
      await flush();
      issuedAt = clock.now();
      // the one caller of this lifetime comes after the previous token would have expired
      clock.set(issuedAt + 0.5 * HOUR);
      expect(stateOf(provider)).toEqual({ validity: 'fresh', breaker: 'closed', flight: 'idle' });
      expect(secretOf(await provider.currentToken())).toBe(`token-${lifetime + 1}`);
      expect(script.count).toBe(lifetime + 1);
    }
    await provider.stop();
  });

  it('does not loop when a token is due on arrival: it refreshes once, at refreshAt of its life', async () => {
    // a 20 s token is due at once by refreshDueAt() (the 30 s floor reaches back past its issue)
    const { clock, script, provider } = await startProvider({ refresh: 'proactive' }, { secret: 'short', expiresAt: 20_000 });
    expect(stateOf(provider).validity).toBe('fresh');
    expect(provider.toJSON().refreshDueAt).toBe(16_000);
    await flush();
    expect(script.count).toBe(1);
    clock.advance(15_999);
    expect(script.count).toBe(1);
    clock.advance(1);
    expect(script.count).toBe(2);
    expect(stateOf(provider)).toMatchObject({ validity: 'refreshDue', flight: 'minting' });
    await provider.stop();
  });
});

describe('toJSON()', () => {
  it('gives refreshDueAt in whole milliseconds, as every other instant (issue 26: jitter made it fractional)', async () => {
    const { startProvider: start } = await import('../helpers.js');
    const { provider } = await start({ jitter: () => 0.123_456_7 });
    const { refreshDueAt } = provider.toJSON();
    expect(Number.isInteger(refreshDueAt)).toBe(true);
    expect(refreshDueAt).toBe(Math.floor(provider.actor.getSnapshot().context.refreshDueAt!));
    expect(provider.actor.getSnapshot().context.refreshDueAt! % 1).not.toBe(0); // the statechart's own instant was fractional
    await provider.stop();
  });
});
