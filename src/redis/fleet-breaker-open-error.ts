import { BreakerOpenError } from '../breaker-open-error.js';

/**
 * The fleet's breaker for a credential is open (the issuer failed `breakerThreshold` times across
 * the fleet, or said `Retry-After`): this process does not call the issuer either. Carries
 * `retryAfterMs`, so the provider's own breaker opens until the fleet's reopens.
 *
 * @example
 * ```ts
 * if (error instanceof FleetBreakerOpenError) console.log(`fleet cooling down for ${error.retryAfterMs} ms`);
 * ```
 */
export class FleetBreakerOpenError extends BreakerOpenError {
  /**
   * @param retryAfterMs the open breaker's remaining time, as Redis counts it.
   * @param now this process's clock reading when Redis answered.
   */
  constructor(retryAfterMs: number, now: number) {
    super({ scope: 'fleet', openUntil: now + retryAfterMs, reason: 'unknown', now });
    this.name = 'FleetBreakerOpenError';
  }
}
