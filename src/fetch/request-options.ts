import { CredentialError } from '../../machines/credential-error.js';
import { describeShape } from '../describe-shape.js';
import { isDPoPKey } from '../dpop.js';

/**
 * The option checks every way of authorizing requests makes (`authorizedFetch`, `authorizeAxios`,
 * `authorizeDispatcher`), said once: the token source is a provider, a pool's `source(key)` (each
 * with `currentToken` and `invalidate`), or a function of the request giving one; a `dpop` key is
 * one `dpopKey()` made. Throws `INVALID_CONFIG` naming the entry point and what it got.
 *
 * @example
 * ```ts
 * checkRequestAuthorization('authorizedFetch', source, options.dpop, 'the request');
 * ```
 */
export function checkRequestAuthorization(entry: string, source: unknown, dpop: unknown, request: string): void {
  const candidate = source as { currentToken?: unknown; invalidate?: unknown } | null;
  if (typeof source !== 'function' && (typeof source !== 'object' || candidate === null || typeof candidate.currentToken !== 'function' || typeof candidate.invalidate !== 'function')) {
    throw new CredentialError(
      'INVALID_CONFIG',
      `${entry}: source must be a provider (currentToken and invalidate), a pool's source(key), or a function of ${request} giving one, got ${describeShape(source)}`,
    );
  }
  if (dpop !== undefined && !isDPoPKey(dpop)) throw new CredentialError('INVALID_CONFIG', `${entry}: dpop must be a key made by dpopKey(), got ${describeShape(dpop)}`);
}
