import { readThrown } from '../machines/thrown.js';

/** Whose failure a failed mint is: the issuer's (it is down, slow or overloaded), or one key's own. */
export type FailureBlame = 'issuer' | 'key';

/**
 * The default classification of a failed mint, for a pool's two breakers:
 * - `'key'`: the issuer answered and refused this key (HTTP 400, 401, 403: `invalid_client`,
 *   `invalid_scope`, `unauthorized_client`, ...), or minted something unusable for it, or its
 *   refresh token is unusable (`REFRESH_TOKEN_UNUSABLE`);
 * - `'issuer'`: everything that says the issuer is unreachable, failing or overloaded: no response
 *   (a network error, `request_failed`), `MINT_TIMEOUT`, HTTP 5xx, 429 (and 408), an unreadable
 *   response, and any error this function cannot place (an outage is the safer guess: it costs
 *   the issuer nothing).
 *
 * Understands `OAuthError` (from `credential-actor/oauth2`) and any error with a numeric `status`.
 *
 * @example
 * ```ts
 * defaultClassifyFailure(new OAuthError('invalid_client', { status: 401 })); // 'key'
 * defaultClassifyFailure(new OAuthError('temporarily_unavailable', { status: 503 })); // 'issuer'
 * ```
 */
export function defaultClassifyFailure(error: unknown): FailureBlame {
  const { credentialError, code, status } = readThrown(error);
  if (credentialError && (code === 'INVALID_TOKEN' || code === 'MINTED_TOKEN_ALREADY_EXPIRED' || code === 'REFRESH_TOKEN_UNUSABLE')) return 'key';
  // an issuer's answer (an OAuthError, an StsError, or any error with a status): by its HTTP status
  if (status !== undefined) return status >= 400 && status < 500 && status !== 408 && status !== 429 ? 'key' : 'issuer';
  return 'issuer';
}
