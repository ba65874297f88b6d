import type { Mint } from '../mint.js';
import { tokenGrantMint, type TokenRequestOptions } from './token-grant.js';

/**
 * Options of {@link clientCredentialsMint}: a `tokenEndpoint`, or an `issuer` to discover it from;
 * the client's id and how it authenticates (a `clientSecret`, `privateKeyJwt(…)` or `clientAssertion(…)`).
 */
export type ClientCredentialsOptions = TokenRequestOptions;

/**
 * Builds a `mint` that runs the client-credentials grant. `expiresAt` is `expires_in` counted from
 * the local clock when the request was sent, or a JWT's `exp` when that is earlier (with neither,
 * `defaultLifetimeMs`, five minutes unless set; `'never'` only when you say so); the
 * token's facts travel with it (`tokenType` from `token_type`, the granted `scope`, and Entra ID's
 * `refresh_in` as `refreshAfter`, which brings the refresh forward within the policy's bounds); a
 * claims challenge (`invalidate(token, { claims })`) is sent as the `claims` parameter; the
 * caller's `signal` aborts the request; an OAuth error response becomes an {@link OAuthError} that
 * keeps `error` and `error_description` and never the client's secret or key.
 *
 * @example
 * ```ts
 * const provider = await createCredentialProvider({
 *   mint: clientCredentialsMint({
 *     issuer: 'https://login.example.com',
 *     clientId: 'billing-service',
 *     clientSecret: process.env.CLIENT_SECRET!,
 *     scopes: ['invoices:read'],
 *   }),
 *   refresh: 'proactive',
 * });
 * ```
 */
export function clientCredentialsMint(options: ClientCredentialsOptions): Mint {
  return tokenGrantMint(options, { owner: 'clientCredentialsMint', ownOptions: [], grantType: 'client_credentials', clientRequired: true });
}
