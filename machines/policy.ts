import type { CredentialContext } from './credential.types.js';
import type { MintBlame } from './mint-failure.js';

/**
 * The policy in one file: its knobs (`RefreshPolicy`), the refresh formula (`refreshDueAt`, and
 * `scheduledRefreshAt`, where the statechart deliberately differs from the original), and the pure
 * predicates over the statechart's context that the guards, the facade's fast path and the tests'
 * reference model all ask, so they cannot disagree. Nothing here reads a clock or imports `src/`.
 */

/** How the provider refreshes: only when a caller finds the token due, or on its own timer too. */
export type RefreshMode = 'on-demand' | 'proactive';

/** The policy knobs, all data: this is what the statechart's context carries. */
export interface RefreshPolicy {
  /** Fraction of a token's lifetime after which a refresh is due, in [0, 1]. */
  readonly refreshAt: number;
  /** A refresh is due at least this long before expiry (ms). */
  readonly refreshFloorMs: number;
  /** Consecutive mint failures that open the circuit breaker (integer >= 1). */
  readonly breakerThreshold: number;
  /** How long an open breaker denies mints before it lets one probe through (ms). */
  readonly breakerCooldownMs: number;
  /** A mint that has not settled after this long is aborted and counts as a failure (ms; `Infinity` disables). */
  readonly mintTimeoutMs: number;
  /** `'on-demand'` refreshes when a caller finds the token due; `'proactive'` also refreshes on its own. */
  readonly refresh: RefreshMode;
  /** `invalidate()` calls closer together than this are ignored, so a misbehaving upstream cannot make us hammer the issuer (ms). */
  readonly invalidateMinIntervalMs: number;
  /** A failure that says when to come back (`Retry-After`) opens the breaker until then, but never for longer than this (ms). */
  readonly maxRetryAfterMs: number;
  /**
   * Which mint failures the breaker counts: `'all-failures'` (a provider), or only a key's own
   * (`'key-failures'`: a pool's key, whose issuer failures count against the pool's issuer breaker).
   * Set by the facade, not an option.
   */
  readonly breakerCounts: 'all-failures' | 'key-failures';
}

/** The two knobs that place a token's refresh instant. */
export interface RefreshTiming {
  /** Fraction of the lifetime after which a refresh is due, in [0, 1]. */
  refreshAt: number;
  /** A refresh is due at least this long before expiry (ms). */
  refreshFloorMs: number;
}

/**
 * When a token issued at `issuedAt` and expiring at `expiresAt` becomes due for refresh:
 * `refreshAt` of its lifetime, pulled earlier by `jitter` (a sample in [0, 1), clamped), and at
 * least `refreshFloorMs` before expiry, but never before issue. `null` for a token with no expiry.
 *
 * @example
 * ```ts
 * // a one-hour token: due at 80% of its life, 48 minutes after issue
 * refreshDueAt({ refreshAt: 0.8, refreshFloorMs: 30_000 }, 0, 3_600_000); // 2_880_000
 * // a 20-second token is due at once: the 30-second floor reaches back past its issue
 * refreshDueAt({ refreshAt: 0.8, refreshFloorMs: 30_000 }, 0, 20_000); // 0
 * ```
 */
export function refreshDueAt(policy: RefreshTiming, issuedAt: number, expiresAt: number | null, jitter = 0): number | null {
  if (expiresAt === null) return null;
  const fraction = clamp01(policy.refreshAt - clamp01(jitter));
  const atFraction = issuedAt + fraction * (expiresAt - issuedAt);
  return Math.max(issuedAt, Math.min(atFraction, expiresAt - policy.refreshFloorMs));
}

/**
 * Clamps to [0, 1]; NaN becomes 0.
 *
 * @example
 * ```ts
 * clamp01(1.5); // 1
 * ```
 */
export function clamp01(value: number): number {
  return value > 0 ? (value < 1 ? value : 1) : 0;
}

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
export function scheduledRefreshAt(policy: Pick<RefreshPolicy, 'refreshAt' | 'refreshFloorMs'>, issuedAt: number, expiresAt: number | null, jitter: number, refreshAfter?: number): number | null {
  if (refreshAfter !== undefined) policy = { ...policy, refreshAt: hintedRefreshFraction(policy, issuedAt, expiresAt, refreshAfter) };
  const due = refreshDueAt(policy, issuedAt, expiresAt, jitter);
  if (due === null || expiresAt === null || due > issuedAt) return due;
  return issuedAt + clamp01(policy.refreshAt - clamp01(jitter)) * (expiresAt - issuedAt);
}

/**
 * The fraction of a token's life at which the issuer's refresh hint (`refreshAfter`, epoch ms) asks
 * for the refresh, held within the policy's bounds: never later than the policy's own `refreshAt`
 * (the hint cannot take away the margin the policy keeps before expiry), and never earlier than half
 * of it (a hint at issue would refresh on every request). The result replaces `refreshAt`, so the
 * jitter and `refreshFloorMs` apply to a hinted token as to any other. A token with no expiry keeps
 * the policy's fraction.
 *
 * @example
 * ```ts
 * // Entra ID's refresh_in is half of a long token's life: honoured under the default 0.8
 * hintedRefreshFraction({ refreshAt: 0.8 }, 0, 7_200_000, 3_600_000); // 0.5
 * hintedRefreshFraction({ refreshAt: 0.8 }, 0, 7_200_000, 7_000_000); // 0.8: never later than the policy
 * ```
 */
export function hintedRefreshFraction(policy: Pick<RefreshPolicy, 'refreshAt'>, issuedAt: number, expiresAt: number | null, refreshAfter: number): number {
  if (expiresAt === null || expiresAt <= issuedAt) return policy.refreshAt;
  const hinted = (refreshAfter - issuedAt) / (expiresAt - issuedAt);
  return Math.min(policy.refreshAt, Math.max(policy.refreshAt / 2, hinted));
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
 * An invalidation at `now` takes effect: the token is still usable (neither refused already nor
 * expired: an expired token is never served, so there is nothing to drop, and invalidating it must
 * not use up the window the next token may need), and the last accepted invalidation is at least
 * `invalidateMinIntervalMs` old.
 *
 * @example
 * ```ts
 * invalidationAllowedAt({ ...context, lastInvalidatedAt: null }, now); // true unless already refused or expired
 * ```
 */
export function invalidationAllowedAt(context: CredentialContext, now: number): boolean {
  return !isTokenUnusableAt(context, now) && (context.lastInvalidatedAt === null || now - context.lastInvalidatedAt >= context.policy.invalidateMinIntervalMs);
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
 * the issuer's, and an attempt refused before it reached the issuer (`'nobody'`) counts nowhere.
 *
 * @example
 * ```ts
 * failureCountsHere({ policy: { ...policy, breakerCounts: 'key-failures' } }, 'issuer'); // false
 * ```
 */
export function failureCountsHere(context: Pick<CredentialContext, 'policy'>, blame: MintBlame): boolean {
  return context.policy.breakerCounts === 'all-failures' ? blame !== 'nobody' : blame === 'key';
}

/**
 * How long a breaker opened by a failure that said when to come back (`Retry-After`) stays open:
 * what the issuer asked, never more than `maxRetryAfterMs` (a bogus date years ahead must not lock
 * the credential out). When the same failure also reaches the breaker's threshold (or is a failed
 * half-open probe), the cooldown applies too, and the later end wins.
 *
 * @example
 * ```ts
 * retryAfterCooldownMs({ breakerCooldownMs: 60_000, maxRetryAfterMs: 600_000 }, 7_000, false); // 7_000: what the issuer asked
 * retryAfterCooldownMs({ breakerCooldownMs: 60_000, maxRetryAfterMs: 600_000 }, 7_000, true); // 60_000: the threshold too
 * retryAfterCooldownMs({ breakerCooldownMs: 60_000, maxRetryAfterMs: 600_000 }, 3_600_000, false); // 600_000
 * ```
 */
export function retryAfterCooldownMs(policy: Pick<RefreshPolicy, 'breakerCooldownMs' | 'maxRetryAfterMs'>, retryAfterMs: number, reachesThreshold: boolean): number {
  const asked = Math.min(Math.max(0, retryAfterMs), policy.maxRetryAfterMs);
  return reachesThreshold ? Math.max(asked, policy.breakerCooldownMs) : asked;
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
 * When proactive mode tries again after a failure at `failedAt`: after its backoff, and never before
 * the failure said the issuer may be asked again (`retryAfterMs`), so a refused key does not knock
 * every second. The issuer's own `Retry-After` (a failure this breaker did not count) is capped by
 * `maxRetryAfterMs`; a refusal made before the issuer was asked (`blame: 'nobody'`: a pool's, the
 * fleet's or the tabs' breaker, open until its cooldown ends or half-open with its probe out) is
 * waited out as it says, since that cap is for what an issuer asks. `null` in on-demand mode, or
 * once this breaker is open (its cooldown decides).
 *
 * @example
 * ```ts
 * proactiveRetryAt({ ...context, consecutiveFailures: 0 }, 1_000, 600_000, 'issuer'); // 601_000, not 2_000
 * ```
 */
export function proactiveRetryAt(context: Pick<CredentialContext, 'policy' | 'openUntil' | 'consecutiveFailures'>, failedAt: number, retryAfterMs: number | null, blame: MintBlame): number | null {
  const { policy } = context;
  if (policy.refresh !== 'proactive' || context.openUntil !== null) return null;
  const askAgainAfterMs = blame === 'nobody' ? (retryAfterMs ?? 0) : Math.min(retryAfterMs ?? 0, policy.maxRetryAfterMs);
  return failedAt + Math.max(proactiveRetryDelayMs(policy, context.consecutiveFailures), askAgainAfterMs);
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
