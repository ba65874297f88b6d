import { breakerAfterAnswer, breakerAfterFailure, CLOSED_BREAKER, cooldownElapsedAt, type BreakerFields, type BreakerPolicy } from '../../machines/breaker.js';
import type { BreakerState } from '../../machines/credential.types.js';
import { BreakerOpenError } from '../breaker-open-error.js';

/**
 * One breaker for a credential across the tabs of an origin, as the fleet's is across processes:
 * every tab applies the failures and answers the tabs announce, by the library's one set of breaker
 * rules (`machines/breaker.ts`), so about `breakerThreshold` attempts reach a failing issuer from all
 * tabs together, then one probe per cooldown (the Web Lock lets one tab at a time mint, and a failed
 * probe reopens the breaker for every tab before it is let go). There is no timer: the clock read at
 * each question decides when an opening has ended.
 *
 * @example
 * ```ts
 * breaker.failed(crypto.randomUUID(), now, null, policy);
 * breaker.refuseIfOpen(now); // throws BreakerOpenError (scope 'tabs') once the threshold is reached
 * ```
 */
export class TabBreaker {
  #state: BreakerState = 'closed';
  #fields: BreakerFields = CLOSED_BREAKER;
  /** The latest failures' ids (a failure is posted again when its echo was lost). */
  readonly #heard: string[] = [];

  /** A mint failed at the issuer at `at` (perhaps saying when to come back); a failure heard twice (`id`) counts once. */
  failed(id: string, at: number, retryAfterMs: number | null, policy: BreakerPolicy): void {
    if (this.#heard.includes(id)) return;
    this.#heard.push(id);
    if (this.#heard.length > 16) this.#heard.shift();
    this.#apply(breakerAfterFailure(this.#stateAt(at), this.#fields, policy, { at, retryAfterMs }));
  }

  /** A mint was answered, heard at `now`: closed, the count cleared (unless open: the answer is older news). */
  answered(now: number): void {
    this.#apply(breakerAfterAnswer(this.#stateAt(now), this.#fields));
  }

  /** Throws the refusal while the breaker is open at `now` (it carries `retryAfterMs`, so the provider's own breaker waits as long). */
  refuseIfOpen(now: number): void {
    const { openUntil, openReason } = this.#fields;
    if (this.#stateAt(now) === 'open' && openUntil !== null) throw new BreakerOpenError({ scope: 'tabs', openUntil, reason: openReason ?? 'failures', now });
  }

  /** The state at `now`: an opening whose end has come by the clock is half-open. */
  #stateAt(now: number): BreakerState {
    if (this.#state === 'open' && cooldownElapsedAt(this.#fields, now)) this.#apply({ state: 'halfOpen', fields: { ...this.#fields, openUntil: null, openReason: null } });
    return this.#state;
  }

  #apply(next: { state: BreakerState; fields: BreakerFields }): void {
    this.#state = next.state;
    this.#fields = next.fields;
  }
}
