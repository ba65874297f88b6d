import type { RefreshPolicy } from '../src/config.js';
import { clamp01, refreshDueAt } from '../src/refresh-due-at.js';
import type { CredentialContext } from './credential.types.js';

/**
 * The policy's pure predicates over the statechart's context and a clock reading. Guards, the
 * facade's fast path and the tests' reference model all ask these, so they cannot disagree.
 */

/**
 * When the statechart refreshes a token: the original's {@link refreshDueAt}, except for a token
 * that formula makes due at its very issue (its whole life is within `refreshFloorMs`). Acting on
 * that would start a refresh on every request, since each new token is due the moment it lands:
 * 400 mints a minute for 20-second tokens. Such a token is instead refreshed once `refreshAt` of
 * its life (less the jitter sample) has passed, ignoring the floor: one refresh per lifetime,
 * whatever the traffic. A deliberate difference from the original.
 *
 * @example
 * ```ts
 * scheduledRefreshAt({ refreshAt: 0.8, refreshFloorMs: 30_000 }, 0, 3_600_000, 0); // 2_880_000, as refreshDueAt
 * scheduledRefreshAt({ refreshAt: 0.8, refreshFloorMs: 30_000 }, 0, 20_000, 0); // 16_000, where refreshDueAt gives 0
 * ```
 */
export function scheduledRefreshAt(
  policy: Pick<RefreshPolicy, 'refreshAt' | 'refreshFloorMs'>,
  issuedAt: number,
  expiresAt: number | null,
  jitter: number,
): number | null {
  const due = refreshDueAt(policy, issuedAt, expiresAt, jitter);
  if (due === null || expiresAt === null || due > issuedAt) return due;
  return issuedAt + clamp01(policy.refreshAt - clamp01(jitter)) * (expiresAt - issuedAt);
}

/**
 * The cached token may not be served at `now`: the upstream refused it, or `now` is at or past
 * its expiry (validity is strict: a token is valid while `now < expiresAt`).
 *
 * @example
 * ```ts
 * isTokenUnusableAt(context, context.token.expiresAt ?? Infinity); // true
 * ```
 */
export function isTokenUnusableAt(context: CredentialContext, now: number): boolean {
  const { expiresAt } = context.token;
  return context.tokenRejected || (expiresAt !== null && now >= expiresAt);
}

/**
 * The cached token's refresh is due at `now` (inclusive).
 *
 * @example
 * ```ts
 * isRefreshDueAt(context, context.refreshDueAt ?? Infinity); // true when it has an expiry
 * ```
 */
export function isRefreshDueAt(context: CredentialContext, now: number): boolean {
  return context.refreshDueAt !== null && now >= context.refreshDueAt;
}

/**
 * A mint would do good at `now`: the token is due or unusable.
 *
 * @example
 * ```ts
 * needsMintAt(context, now) && breakerAdmitsAt(context, now); // start a mint
 * ```
 */
export function needsMintAt(context: CredentialContext, now: number): boolean {
  return isTokenUnusableAt(context, now) || isRefreshDueAt(context, now);
}

/**
 * The breaker lets a mint through at `now`: it is closed, half-open, or open with its cooldown
 * elapsed (the late-timer case: the clock, not the timer, decides).
 *
 * @example
 * ```ts
 * breakerAdmitsAt({ ...context, openUntil: 60_000 }, 59_999); // false
 * ```
 */
export function breakerAdmitsAt(context: CredentialContext, now: number): boolean {
  return context.openUntil === null || now >= context.openUntil;
}

/**
 * An invalidation at `now` takes effect: the token is not already refused, and the last accepted
 * invalidation is at least `invalidateMinIntervalMs` old.
 *
 * @example
 * ```ts
 * invalidationAllowedAt({ ...context, lastInvalidatedAt: null }, now); // true unless already refused
 * ```
 */
export function invalidationAllowedAt(context: CredentialContext, now: number): boolean {
  return (
    !context.tokenRejected &&
    (context.lastInvalidatedAt === null || now - context.lastInvalidatedAt >= context.policy.invalidateMinIntervalMs)
  );
}

/**
 * The instant before which a caller's request would not change the statechart, so the provider
 * serves the cached token without sending any event: the refresh instant (or, with the breaker
 * open, the end of its cooldown if that is later), never past expiry; with a mint already in
 * flight, expiry itself. `-Infinity` for a refused token.
 *
 * @example
 * ```ts
 * if (now < quietUntil(context, false)) return cachedPromise; // the hot path
 * ```
 */
export function quietUntil(context: CredentialContext, minting: boolean): number {
  if (context.tokenRejected) return -Infinity;
  const expiresAt = context.token.expiresAt ?? Infinity;
  if (minting) return expiresAt;
  return Math.min(expiresAt, Math.max(context.refreshDueAt ?? Infinity, context.openUntil ?? -Infinity));
}

/**
 * Whole seconds a token has left at `now`, as reporters get them: `null` without expiry, never
 * negative, 0 for a refused token.
 *
 * @example
 * ```ts
 * remainingSeconds({ expiresAt: 10_500 }, false, 0); // 10
 * ```
 */
export function remainingSeconds(token: { expiresAt: number | null }, rejected: boolean, now: number): number | null {
  if (token.expiresAt === null) return null;
  if (rejected) return 0;
  return Math.max(0, Math.floor((token.expiresAt - now) / 1000));
}

/**
 * Whether a breaker with this policy counts a failure of this blame: a provider counts every
 * failure of its mint; a pool's key only its own (`'key'`), since the pool's issuer breaker counts
 * the issuer's, and a mint the pool refused (`'pool'`) is nobody's.
 *
 * @example
 * ```ts
 * failureCountsHere({ policy: { ...policy, breakerCounts: 'key-failures' } }, 'issuer'); // false
 * ```
 */
export function failureCountsHere(context: Pick<CredentialContext, 'policy'>, blame: 'issuer' | 'key' | 'pool'): boolean {
  return context.policy.breakerCounts === 'all-failures' ? blame !== 'pool' : blame === 'key';
}

/**
 * How long a breaker opened by a `Retry-After` stays open: what the issuer asked, but never less
 * than the cooldown (a `Retry-After: 0` is not an invitation to hammer) nor more than
 * `maxRetryAfterMs` (a bogus date years ahead must not lock the credential out).
 *
 * @example
 * ```ts
 * retryAfterCooldownMs({ breakerCooldownMs: 60_000, maxRetryAfterMs: 600_000 }, 3_600_000); // 600_000
 * ```
 */
export function retryAfterCooldownMs(policy: Pick<RefreshPolicy, 'breakerCooldownMs' | 'maxRetryAfterMs'>, retryAfterMs: number): number {
  return Math.max(policy.breakerCooldownMs, Math.min(retryAfterMs, Math.max(policy.maxRetryAfterMs, policy.breakerCooldownMs)));
}

/** The first proactive retry waits this long after a failure; each further one doubles it. */
export const PROACTIVE_RETRY_BASE_MS = 1_000;
/** No proactive retry waits longer than this (nor longer than the breaker's cooldown). */
export const PROACTIVE_RETRY_MAX_MS = 30_000;

/**
 * Proactive mode's backoff after the `failures`-th consecutive failure: 1 s, 2 s, 4 s, ...
 * capped at 30 s and at the breaker cooldown. The breaker opening ends the retries.
 *
 * @example
 * ```ts
 * proactiveRetryDelayMs(defaultRefreshConfig, 3); // 4_000
 * ```
 */
export function proactiveRetryDelayMs(policy: Pick<RefreshPolicy, 'breakerCooldownMs'>, failures: number): number {
  const doubled = PROACTIVE_RETRY_BASE_MS * 2 ** Math.max(0, failures - 1);
  return Math.min(doubled, PROACTIVE_RETRY_MAX_MS, Math.max(policy.breakerCooldownMs, PROACTIVE_RETRY_BASE_MS));
}

/**
 * Milliseconds from `now` until `deadline`: never negative, `Infinity` when there is none.
 *
 * @example
 * ```ts
 * msUntil(null, 0); // Infinity
 * ```
 */
export function msUntil(deadline: number | null, now: number): number {
  return deadline === null ? Infinity : Math.max(0, deadline - now);
}
