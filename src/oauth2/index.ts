/**
 * A `mint` for the OAuth 2.0 client-credentials grant, on `oauth4webapi`.
 *
 * @module credential-actor/oauth2
 */
import * as oauth from 'oauth4webapi';
import type { MintedToken } from '../auth-token.js';
import type { Clock } from '../clock.js';
import { CredentialError } from '../../machines/credential-error.js';
import type { Mint } from '../mint.js';
import { toSafeError } from './safe-error.js';
import { checkOptions } from '../check-options.js';
import { defaultLifetimeOption, endpointOption, httpOptions, SCOPE_REFUSED, scopeParameter, secretOption, tokenExpiry, tokenFacts } from './endpoint.js';
import { Secret } from '../../machines/secret.js';
import { displayEndpoint } from './oauth-error.js';

/** Options of {@link clientCredentialsMint}: a `tokenEndpoint`, or an `issuer` to discover it from. */
export interface ClientCredentialsOptions {
  /** The token endpoint URL. */
  tokenEndpoint?: string | URL;
  /** The issuer identifier, to discover the token endpoint from its metadata (once, then cached). */
  issuer?: string | URL;
  clientId: string;
  /** Held as a {@link Secret}; revealed only to build each request. */
  clientSecret: string | Secret;
  /** The scopes to ask for, sent as the space-separated `scope` parameter. */
  scopes?: readonly string[];
  /** `audience` (as Auth0 and others name the API). */
  audience?: string;
  /** `resource` indicators (RFC 8707). */
  resource?: string | string[];
  /** How the client authenticates (default `client_secret_basic`). */
  clientAuthentication?: 'client_secret_basic' | 'client_secret_post';
  /** A `fetch` to use instead of the global one. */
  fetch?: typeof fetch;
  /** The local clock `expires_in` is counted from (default `Date.now`). */
  clock?: Pick<Clock, 'now'>;
  /** Allow `http:` endpoints. Only for local development and tests. */
  allowInsecureRequests?: boolean;
  /**
   * The lifetime assumed for a token whose response gives none (no `expires_in`, and not a JWT with
   * an `exp`), in ms from when the request was sent: default 300 000 (five minutes), so that such a
   * token is refreshed rather than served for ever; `'never'` to cache it until it is refused.
   */
  defaultLifetimeMs?: number | 'never';
}

/**
 * Builds a `mint` that runs the client-credentials grant. `expiresAt` is `expires_in` counted from
 * the local clock when the request was sent, or a JWT's `exp` when that is earlier (with neither,
 * `defaultLifetimeMs`, five minutes unless set; `'never'` only when you say so); the
 * token's facts travel with it (`tokenType` from `token_type`, the granted `scope`, and Entra ID's
 * `refresh_in` as `refreshAfter`, which brings the refresh forward within the policy's bounds); a
 * claims challenge (`invalidate(token, { claims })`) is sent as the `claims` parameter; the
 * caller's `signal` aborts the request; an OAuth error response becomes an {@link OAuthError} that
 * keeps `error` and `error_description` and never the client secret.
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
  checkOptions(options, { owner: OWNER, known: CLIENT_CREDENTIALS_OPTION_NAMES, refused: SCOPE_REFUSED });
  const { clientId } = options;
  if (typeof clientId !== 'string' || clientId.length === 0) throw new CredentialError('INVALID_CONFIG', `${OWNER}: clientId must be a non-empty string`);
  if (options.tokenEndpoint === undefined && options.issuer === undefined) throw new CredentialError('INVALID_CONFIG', `${OWNER}: tokenEndpoint or issuer is required`);
  const issuer = options.issuer === undefined ? undefined : endpointOption(OWNER, 'issuer', options.issuer, options);
  const tokenEndpoint = options.tokenEndpoint === undefined ? undefined : endpointOption(OWNER, 'tokenEndpoint', options.tokenEndpoint, options);
  const clientSecret = secretOption(OWNER, 'clientSecret', options.clientSecret);
  const defaultLifetime = defaultLifetimeOption(OWNER, options.defaultLifetimeMs);
  const scope = scopeParameter(OWNER, options.scopes);
  const now = options.clock === undefined ? () => Date.now() : () => options.clock!.now();
  const client: oauth.Client = { client_id: clientId };
  const http = httpOptions(options);
  let server: oauth.AuthorizationServer | undefined =
    tokenEndpoint === undefined ? undefined : { issuer: options.issuer === undefined ? tokenEndpoint.origin : String(options.issuer), token_endpoint: tokenEndpoint.href };
  const discover = async (issuerUrl: URL, signal: AbortSignal): Promise<oauth.AuthorizationServer> => {
    try {
      const response = await oauth.discoveryRequest(issuerUrl, { ...http, signal });
      return await oauth.processDiscoveryResponse(issuerUrl, response);
    } catch (error) {
      throw await toSafeError(error, signal, now(), { step: 'discovery', endpoint: issuerUrl });
    }
  };
  return async ({ signal, claims, step }): Promise<MintedToken> => {
    if (server === undefined) {
      step?.(`discovery request to ${displayEndpoint(issuer!)}`);
      server = await discover(issuer!, signal);
    }
    const endpoint = new URL(server.token_endpoint ?? issuer!.href);
    step?.(`token request to ${displayEndpoint(endpoint)}`);
    try {
      const parameters = new URLSearchParams();
      if (scope !== undefined) parameters.set('scope', scope);
      if (options.audience !== undefined) parameters.set('audience', options.audience);
      for (const resource of [options.resource ?? []].flat()) parameters.append('resource', resource);
      if (claims !== undefined) parameters.set('claims', claims);
      const authentication = options.clientAuthentication === 'client_secret_post' ? oauth.ClientSecretPost(clientSecret.reveal()) : oauth.ClientSecretBasic(clientSecret.reveal());
      const sentAt = now();
      const response = await oauth.clientCredentialsGrantRequest(server, client, authentication, parameters, { ...http, signal });
      const result = await oauth.processClientCredentialsResponse(server, client, response);
      return {
        secret: new Secret(result.access_token),
        expiresAt: tokenExpiry(result, sentAt, defaultLifetime),
        ...tokenFacts(result, sentAt),
      };
    } catch (error) {
      throw await toSafeError(error, signal, now(), { step: 'token request', endpoint });
    }
  };
}

const OWNER = 'clientCredentialsMint';
const CLIENT_CREDENTIALS_OPTION_NAMES: readonly string[] = [
  'tokenEndpoint',
  'issuer',
  'clientId',
  'clientSecret',
  'scopes',
  'audience',
  'resource',
  'clientAuthentication',
  'fetch',
  'clock',
  'allowInsecureRequests',
  'defaultLifetimeMs',
];

export { OAuthError } from './oauth-error.js';
export type { OAuthErrorDetails, OAuthStep } from './oauth-error.js';

export { refreshTokenMint } from './refresh-token-mint.js';
export type { RefreshTokenMint, RefreshTokenMintEvent, RefreshTokenOptions } from './refresh-token-mint.js';
export { fileStore } from './file-store.js';
export { refreshTokenMachine } from '../../machines/refresh-token.machine.js';
export type { RefreshTokenStore } from '../refresh-token-store.js';
