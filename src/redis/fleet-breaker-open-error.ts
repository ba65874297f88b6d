import { CredentialError } from '../../machines/credential-error.js';

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
export class FleetBreakerOpenError extends CredentialError {
  /** How long the fleet's breaker stays open, as Redis counts it (ms). */
  readonly retryAfterMs: number;

  /** @param retryAfterMs the open breaker's remaining time. */
  constructor(retryAfterMs: number) {
    super('BREAKER_OPEN', `the fleet's breaker for this credential is open for ${retryAfterMs} ms more`);
    this.name = 'FleetBreakerOpenError';
    this.retryAfterMs = retryAfterMs;
  }
}
