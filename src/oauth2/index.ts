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
import { Secret } from '../../machines/secret.js';

/** Options of {@link clientCredentialsMint}: a `tokenEndpoint`, or an `issuer` to discover it from. */
export interface ClientCredentialsOptions {
  /** The token endpoint URL. */
  tokenEndpoint?: string | URL;
  /** The issuer identifier, to discover the token endpoint from its metadata (once, then cached). */
  issuer?: string | URL;
  clientId: string;
  /** Held as a {@link Secret}; revealed only to build each request. */
  clientSecret: string | Secret;
  /** `scope`, space-separated. */
  scope?: string;
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
}

/**
 * Builds a `mint` that runs the client-credentials grant. `expiresAt` is `expires_in` counted from
 * the local clock when the request was sent (a token without `expires_in` never expires); the
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
 *     scope: 'invoices:read',
 *   }),
 *   refresh: 'proactive',
 * });
 * ```
 */
export function clientCredentialsMint(options: ClientCredentialsOptions): Mint {
  const { clientId, tokenEndpoint, issuer } = options;
  if (typeof clientId !== 'string' || clientId.length === 0) throw new CredentialError('INVALID_CONFIG', 'clientId must be a non-empty string');
  if (tokenEndpoint === undefined && issuer === undefined) throw new CredentialError('INVALID_CONFIG', 'tokenEndpoint or issuer is required');
  const clientSecret = options.clientSecret instanceof Secret ? options.clientSecret : new Secret(String(options.clientSecret ?? ''));
  if (clientSecret.reveal().length === 0) throw new CredentialError('INVALID_CONFIG', 'clientSecret must be a non-empty string or Secret');
  const now = options.clock === undefined ? () => Date.now() : () => options.clock!.now();
  const client: oauth.Client = { client_id: clientId };
  const http = {
    ...(options.fetch === undefined ? {} : { [oauth.customFetch]: options.fetch }),
    ...(options.allowInsecureRequests === true ? { [oauth.allowInsecureRequests]: true } : {}),
  };
  let server: oauth.AuthorizationServer | undefined =
    tokenEndpoint === undefined ? undefined : { issuer: String(issuer ?? new URL(tokenEndpoint).origin), token_endpoint: String(tokenEndpoint) };

  const discover = async (signal: AbortSignal): Promise<oauth.AuthorizationServer> => {
    const issuerUrl = new URL(String(issuer));
    const response = await oauth.discoveryRequest(issuerUrl, { ...http, signal });
    return oauth.processDiscoveryResponse(issuerUrl, response);
  };

  return async ({ signal }): Promise<MintedToken> => {
    try {
      server ??= await discover(signal);
      const parameters = new URLSearchParams();
      if (options.scope !== undefined) parameters.set('scope', options.scope);
      if (options.audience !== undefined) parameters.set('audience', options.audience);
      for (const resource of [options.resource ?? []].flat()) parameters.append('resource', resource);
      const authentication =
        options.clientAuthentication === 'client_secret_post'
          ? oauth.ClientSecretPost(clientSecret.reveal())
          : oauth.ClientSecretBasic(clientSecret.reveal());
      const sentAt = now();
      const response = await oauth.clientCredentialsGrantRequest(server, client, authentication, parameters, { ...http, signal });
      const result = await oauth.processClientCredentialsResponse(server, client, response);
      return {
        secret: new Secret(result.access_token),
        expiresAt: typeof result.expires_in === 'number' ? sentAt + result.expires_in * 1000 : null,
      };
    } catch (error) {
      throw toSafeError(error, signal, now());
    }
  };
}

export { OAuthError } from './oauth-error.js';

export { refreshTokenMint } from './refresh-token-mint.js';
export type { RefreshTokenOptions } from './refresh-token-mint.js';
