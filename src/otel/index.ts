/**
 * OpenTelemetry metrics for a credential provider, on `@opentelemetry/api` (an optional peer
 * dependency: install it to use this entry).
 *
 * @module credential-actor/otel
 */
import type { Attributes, Meter } from '@opentelemetry/api';
import type { BreakerState } from '../../machines/credential.types.js';
import type { CredentialReporters } from '../provider.js';
import { checkOptions } from '../check-options.js';
import { CredentialError } from '../../machines/credential-error.js';

/** `credential.breaker.state` values: 0 closed, 1 half-open, 2 open. */
export const BREAKER_STATE_VALUE: Readonly<Record<BreakerState, number>> = Object.freeze({ closed: 0, halfOpen: 1, open: 2 });

/** Options of {@link otelReporters}. */
export interface OtelReportersOptions {
  /** Names the credential: recorded as the `credential.name` attribute on every measurement. */
  name?: string;
}

/**
 * Reporters that record three instruments:
 * - `credential.refresh` (counter), attribute `result` = `refreshed` | `failed`;
 * - `credential.token.ttl` (gauge, `s`): the new token's seconds left after a refresh, the
 *   still-cached token's after a failure (so an outage shows it decaying); nothing for a token
 *   with no expiry;
 * - `credential.breaker.state` (gauge): 0 closed, 1 half-open, 2 open; recorded as closed at once.
 *
 * @example
 * ```ts
 * import { metrics } from '@opentelemetry/api';
 * import { otelReporters } from 'credential-actor/otel';
 *
 * const provider = await createCredentialProvider({
 *   mint,
 *   reporters: otelReporters(metrics.getMeter('my-app'), { name: 'registry' }),
 * });
 * ```
 */
export function otelReporters(meter: Meter, options: OtelReportersOptions = {}): CredentialReporters {
  checkOptions(options, { owner: 'otelReporters', known: ['name'] });
  if (options.name !== undefined && typeof options.name !== 'string') throw new CredentialError('INVALID_CONFIG', 'otelReporters: name must be a string');
  const base: Attributes = options.name === undefined ? {} : { 'credential.name': options.name };
  const refreshes = meter.createCounter('credential.refresh', { description: 'Credential refresh attempts, by result' });
  const ttl = meter.createGauge('credential.token.ttl', { unit: 's', description: 'Seconds the cached credential has left' });
  const breaker = meter.createGauge('credential.breaker.state', { description: 'Mint circuit breaker: 0 closed, 1 half-open, 2 open' });
  breaker.record(BREAKER_STATE_VALUE.closed, base);
  const recordTtl = (seconds: number | null) => {
    if (seconds !== null) ttl.record(seconds, base);
  };
  return {
    refresh: {
      onRefreshSucceeded(seconds) {
        refreshes.add(1, { ...base, result: 'refreshed' });
        recordTtl(seconds);
      },
      onRefreshFailed(seconds) {
        refreshes.add(1, { ...base, result: 'failed' });
        recordTtl(seconds);
      },
    },
    breaker: {
      onBreakerStateChanged({ to }) {
        breaker.record(BREAKER_STATE_VALUE[to], base);
      },
    },
  };
}
