import type { BreakerOpenReason } from '../../machines/credential.types.js';
import { retryAfterCooldownMs } from '../../machines/policy.js';
import { BreakerOpenError } from '../breaker-open-error.js';
import type { SharedMintPolicy } from '../coordination.js';

/**
 * One breaker for a credential across the tabs of an origin, as the fleet's is across processes:
 * every tab applies the failures and answers the tabs announce, so about `breakerThreshold`
 * attempts reach a failing issuer from all tabs together, then one probe per cooldown (the lock lets
 * one tab at a time mint, and a failed probe reopens the breaker for every tab before it is let go).
 * Failures older than the window (twice the cooldown plus a mint's bound, as the fleet's) are forgotten.
 *
 * @example
 * ```ts
 * breaker.failed(crypto.randomUUID(), now, null, policy);
 * breaker.refuseIfOpen(now); // throws BreakerOpenError (scope 'tabs') once the threshold is reached
 * ```
 */
export class TabBreaker {
  #failures = 0;
  #lastFailureAt = -Infinity;
  #openUntil: number | null = null;
  #reason: BreakerOpenReason = 'failures';
  /** The latest failures' ids (a failure is posted again when its echo was lost). */
  readonly #heard: string[] = [];

  /** A mint failed at the issuer at `at` (perhaps saying when to come back); a failure heard twice (`id`) counts once. */
  failed(id: string, at: number, retryAfterMs: number | null, policy: SharedMintPolicy): void {
    if (this.#heard.includes(id)) return;
    this.#heard.push(id);
    if (this.#heard.length > 16) this.#heard.shift();
    if (at - this.#lastFailureAt > 2 * policy.breakerCooldownMs + policy.mintTimeoutMs) this.#failures = 0;
    this.#failures++;
    this.#lastFailureAt = at;
    const reachesThreshold = this.#failures >= policy.breakerThreshold;
    const opensUntil = retryAfterMs !== null ? at + retryAfterCooldownMs(policy, retryAfterMs, reachesThreshold) : reachesThreshold ? at + policy.breakerCooldownMs : null;
    if (opensUntil !== null && opensUntil > (this.#openUntil ?? -Infinity)) {
      this.#openUntil = opensUntil;
      this.#reason = retryAfterMs !== null ? 'retry-after' : 'failures';
    }
  }

  /** A mint was answered: closed, the count cleared. */
  answered(): void {
    this.#failures = 0;
    this.#openUntil = null;
  }

  /** Throws the refusal while the breaker is open at `now` (it carries `retryAfterMs`, so the provider's own breaker waits as long). */
  refuseIfOpen(now: number): void {
    if (this.#openUntil !== null && now < this.#openUntil) throw new BreakerOpenError({ scope: 'tabs', openUntil: this.#openUntil, reason: this.#reason, now });
  }
}
