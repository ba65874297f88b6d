/**
 * The policy's predicates (`machines/policy.ts`) asked directly, at the edges the statechart rarely
 * reaches: a token with no expiry, a refused token, no refresh instant, each breaker's counting rule.
 * Written for the mutants StrykerJS found alive (`npm run mutate`).
 */
import { describe, expect, it } from 'vitest';
import type { CredentialContext } from '../../machines/credential.types.js';
import {
  breakerAdmitsAt,
  clamp01,
  failureCountsHere,
  hintedRefreshFraction,
  isRefreshDueAt,
  isTokenUnusableAt,
  needsMintAt,
  proactiveRetryAt,
  proactiveRetryDelayMs,
  quietUntil,
  remainingSeconds,
  type RefreshPolicy,
} from '../../machines/policy.js';
import { Secret } from '../../machines/secret.js';
import { defaultRefreshConfig, policyOf } from '../../src/config.js';

const policy = (breakerCounts: RefreshPolicy['breakerCounts']): RefreshPolicy => policyOf(defaultRefreshConfig, breakerCounts);

function context(overrides: Partial<CredentialContext> = {}): CredentialContext {
  return {
    policy: policy('all-failures'),
    token: { secret: new Secret('s'), expiresAt: 10_000 },
    issuedAt: 0,
    refreshDueAt: 8_000,
    tokenRejected: false,
    lastInvalidatedAt: null,
    consecutiveFailures: 0,
    openUntil: null,
    openReason: null,
    attempt: 1,
    attemptKind: null,
    attemptStartedAt: null,
    attemptStep: null,
    retryAt: null,
    lastFailure: null,
    ...overrides,
  };
}

describe('the policy’s predicates', () => {
  it('clamp01 clamps to [0, 1], NaN to 0', () => {
    expect([clamp01(-1), clamp01(0), clamp01(0.25), clamp01(1), clamp01(1.5), clamp01(Number.NaN)]).toEqual([0, 0, 0.25, 1, 1, 0]);
  });

  it('a token with no expiry is never unusable unless refused, and never due', () => {
    const forever = context({ token: { secret: new Secret('s'), expiresAt: null }, refreshDueAt: null });
    expect(isTokenUnusableAt(forever, 5_000)).toBe(false);
    expect(isTokenUnusableAt({ ...forever, tokenRejected: true }, 5_000)).toBe(true);
    expect(isRefreshDueAt(forever, 5_000)).toBe(false);
    expect(needsMintAt(forever, 5_000)).toBe(false);
  });

  it('validity is strict at expiry, and the refresh instant inclusive', () => {
    const token = context();
    expect([isTokenUnusableAt(token, 9_999), isTokenUnusableAt(token, 10_000)]).toEqual([false, true]);
    expect([isRefreshDueAt(token, 7_999), isRefreshDueAt(token, 8_000)]).toEqual([false, true]);
    expect([needsMintAt(token, 7_999), needsMintAt(token, 8_000), needsMintAt(token, 10_000)]).toEqual([false, true, true]);
  });

  it('the breaker admits when closed or its cooldown has passed by the clock', () => {
    expect(breakerAdmitsAt(context(), 5_000)).toBe(true);
    expect([breakerAdmitsAt(context({ openUntil: 60_000 }), 59_999), breakerAdmitsAt(context({ openUntil: 60_000 }), 60_000)]).toEqual([false, true]);
  });

  it('remaining seconds: null without expiry, 0 for a refused token, whole seconds never negative', () => {
    expect(remainingSeconds({ expiresAt: null }, false, 0)).toBeNull();
    expect(remainingSeconds({ expiresAt: null }, true, 0)).toBeNull();
    expect(remainingSeconds({ expiresAt: 10_500 }, true, 0)).toBe(0);
    expect(remainingSeconds({ expiresAt: 10_500 }, false, 0)).toBe(10);
    expect(remainingSeconds({ expiresAt: 10_500 }, false, 20_000)).toBe(0);
  });

  it('which failures a breaker counts: a provider every one but a refusal; a pool key only its own', () => {
    const provider = context();
    const key = context({ policy: policy('key-failures') });
    expect((['issuer', 'key', 'nobody'] as const).map((blame) => failureCountsHere(provider, blame))).toEqual([true, true, false]);
    expect((['issuer', 'key', 'nobody'] as const).map((blame) => failureCountsHere(key, blame))).toEqual([false, true, false]);
  });
});

describe('the refresh hint, the quiet instant and the proactive retry, at their edges', () => {
  it('hintedRefreshFraction reads the hint against the token’s own issue, not the epoch', () => {
    const issuedAt = 1_000_000;
    expect(hintedRefreshFraction({ refreshAt: 0.8 }, issuedAt, issuedAt + 7_200_000, issuedAt + 3_600_000)).toBe(0.5);
    expect(hintedRefreshFraction({ refreshAt: 0.8 }, issuedAt, issuedAt + 7_200_000, issuedAt + 4_320_000)).toBeCloseTo(0.6, 10);
  });

  it('hintedRefreshFraction keeps the policy’s fraction for a token that expires at or before its issue, whatever the hint', () => {
    expect(hintedRefreshFraction({ refreshAt: 0.8 }, 5_000, 4_000, 6_000)).toBe(0.8);
    expect(hintedRefreshFraction({ refreshAt: 0.8 }, 5_000, 5_000, 6_000)).toBe(0.8);
  });

  it('quietUntil: with a mint in flight, the token’s expiry, not its refresh instant', () => {
    expect(quietUntil(context({ refreshDueAt: 8_000 }), true)).toBe(10_000);
    expect(quietUntil(context({ refreshDueAt: 8_000 }), false)).toBe(8_000);
  });

  it('proactiveRetryAt: a Retry-After of a refusal that is nobody’s is kept whole; the issuer’s is capped at maxRetryAfterMs', () => {
    const proactive = { ...context(), policy: { ...policy('all-failures'), refresh: 'proactive' as const, maxRetryAfterMs: 1_000 } };
    const backoff = proactiveRetryDelayMs(proactive.policy, 0);
    expect(backoff).toBeLessThan(600_000);
    expect(proactiveRetryAt(proactive, 0, 600_000, 'nobody')).toBe(600_000);
    expect(proactiveRetryAt(proactive, 0, 600_000, 'issuer')).toBe(Math.max(backoff, 1_000));
    expect(proactiveRetryAt(proactive, 0, null, 'nobody')).toBe(backoff);
    // the issuer's Retry-After, under the cap and longer than the backoff: it is the one that counts
    const capped = { ...proactive, policy: { ...proactive.policy, maxRetryAfterMs: 300_000 } };
    expect(backoff).toBeLessThan(300_000);
    expect(proactiveRetryAt(capped, 1_000, 600_000, 'issuer')).toBe(301_000);
    expect(proactiveRetryAt(capped, 1_000, 200_000, 'issuer')).toBe(201_000);
  });
});
