/**
 * The policy's predicates (`machines/policy.ts`) asked directly, at the edges the statechart rarely
 * reaches: a token with no expiry, a refused token, no refresh instant, each breaker's counting rule.
 * Written for the mutants StrykerJS found alive (`npm run mutate`).
 */
import { describe, expect, it } from 'vitest';
import type { CredentialContext } from '../../machines/credential.types.js';
import { breakerAdmitsAt, clamp01, failureCountsHere, isRefreshDueAt, isTokenUnusableAt, needsMintAt, remainingSeconds, type RefreshPolicy } from '../../machines/policy.js';
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
