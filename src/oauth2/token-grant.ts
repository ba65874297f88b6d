import * as oauth from 'oauth4webapi';
import type { MintedToken } from '../auth-token.js';
import type { Clock } from '../clock.js';
import { CredentialError } from '../../machines/credential-error.js';
import type { KeyBoundMint, Mint, MintContext } from '../mint.js';
import { dpopProof, isDPoPKey, rememberDPoPNonce, type DPoPKey } from '../dpop.js';
import { describeShape } from '../describe-shape.js';
import { Secret } from '../../machines/secret.js';
import { checkOptions } from '../check-options.js';
import { toSafeError } from './safe-error.js';
import { displayEndpoint } from './oauth-error.js';
import type { ClientAuthenticationOption } from './client-authentication.js';
import { clientAuthenticatorOption } from './client-authenticator.js';
import { defaultLifetimeOption, endpointOption, httpOptions, SCOPE_REFUSED, scopeParameter, tokenExpiry, tokenFacts } from './endpoint.js';

/** What every token-endpoint mint takes: where the endpoint is, who the client is, what to ask for. */
export interface TokenRequestOptions {
  /** The token endpoint URL. */
  tokenEndpoint?: string | URL;
  /** The issuer identifier, to discover the token endpoint from its metadata (once, then cached). */
  issuer?: string | URL;
  clientId: string;
  /** The client secret, for the `client_secret_*` methods. Held as a {@link Secret}; revealed only to build each request. */
  clientSecret?: string | Secret;
  /**
   * How the client authenticates: `'client_secret_basic'` (the default with a `clientSecret`),
   * `'client_secret_post'`, `'client_secret_jwt'`, `privateKeyJwt(…)`, `clientAssertion(…)`,
   * or `'none'` (a public client, where the grant allows one).
   */
  clientAuthentication?: ClientAuthenticationOption;
  /** The scopes to ask for, sent as the space-separated `scope` parameter. */
  scopes?: readonly string[];
  /** `audience` (as Auth0 and others name the API; RFC 8693's `audience`). */
  audience?: string;
  /** `resource` indicators (RFC 8707). */
  resource?: string | string[];
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
  /**
   * A DPoP key (`dpopKey()`): each token request carries a proof of it, and the issuer binds the
   * token to it (`token_type: DPoP`). Give the same key to `authorizedFetch`. Its tokens are not
   * shared through a coordination: each process mints its own.
   */
  dpop?: DPoPKey;
}

/** The option names of {@link TokenRequestOptions}, for each mint's option check. */
export const TOKEN_REQUEST_OPTION_NAMES: readonly string[] = [
  'tokenEndpoint',
  'issuer',
  'clientId',
  'clientSecret',
  'clientAuthentication',
  'scopes',
  'audience',
  'resource',
  'fetch',
  'clock',
  'allowInsecureRequests',
  'defaultLifetimeMs',
  'dpop',
];

/** One grant on the shared path: its `grant_type`, and the parameters it adds at each mint. */
export interface GrantDefinition {
  readonly owner: string;
  /** The options the grant takes beyond {@link TOKEN_REQUEST_OPTION_NAMES}. */
  readonly ownOptions: readonly string[];
  readonly grantType: string;
  /** Refuse a client with no authentication (the client-credentials grant is for confidential clients only). */
  readonly clientRequired: boolean;
  /** The grant's own parameters, read afresh at each mint (an assertion, a subject token). */
  readonly parameters?: (signal: AbortSignal) => Promise<Record<string, string>>;
  /** `token_type`s the grant accepts beyond `Bearer` and `DPoP` (token exchange's `N_A`), lower case. */
  readonly otherTokenTypes?: readonly string[];
}

/**
 * The one path of every token-endpoint mint (client credentials, JWT bearer, token exchange):
 * options checked at once; the endpoint discovered once; the client authenticated as configured;
 * `scope`, `audience`, `resource` and a claims challenge's `claims` sent; the answer read into a
 * `MintedToken` (expiry, `token_type`, scope, `refresh_in`); every failure an `OAuthError` that
 * names the step and never carries a secret.
 */
export function tokenGrantMint(options: TokenRequestOptions, grant: GrantDefinition): Mint | KeyBoundMint {
  const owner = grant.owner;
  checkOptions(options, { owner, known: [...TOKEN_REQUEST_OPTION_NAMES, ...grant.ownOptions], refused: SCOPE_REFUSED });
  const { clientId } = options;
  if (typeof clientId !== 'string' || clientId.length === 0) throw new CredentialError('INVALID_CONFIG', `${owner}: clientId must be a non-empty string`);
  if (options.tokenEndpoint === undefined && options.issuer === undefined) throw new CredentialError('INVALID_CONFIG', `${owner}: tokenEndpoint or issuer is required`);
  const issuer = options.issuer === undefined ? undefined : endpointOption(owner, 'issuer', options.issuer, options);
  const tokenEndpoint = options.tokenEndpoint === undefined ? undefined : endpointOption(owner, 'tokenEndpoint', options.tokenEndpoint, options);
  const authenticator = clientAuthenticatorOption(owner, options, grant.clientRequired);
  const defaultLifetime = defaultLifetimeOption(owner, options.defaultLifetimeMs);
  const scope = scopeParameter(owner, options.scopes);
  const now = options.clock === undefined ? () => Date.now() : () => options.clock!.now();
  const client: oauth.Client = { client_id: clientId };
  const http = httpOptions(options);
  const { dpop } = options;
  if (dpop !== undefined && !isDPoPKey(dpop)) throw new CredentialError('INVALID_CONFIG', `${owner}: dpop must be a key made by dpopKey(), got ${describeShape(dpop)}`);
  const recognizedTokenTypes = Object.fromEntries((grant.otherTokenTypes ?? []).map((type) => [type, () => {}]));
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
  /** One token request; with DPoP, a proof on it and the nonce the answer gives kept (`fresh`: a new one). */
  const request = async (server: oauth.AuthorizationServer, endpoint: URL, authentication: oauth.ClientAuth, parameters: URLSearchParams, signal: AbortSignal) => {
    const headers = dpop === undefined ? undefined : { dpop: await dpopProof(dpop, { method: 'POST', url: endpoint }) };
    const response = await oauth.genericTokenEndpointRequest(server, client, authentication, grant.grantType, parameters, { ...http, signal, ...(headers === undefined ? {} : { headers }) });
    return { response, fresh: dpop !== undefined && rememberDPoPNonce(dpop, endpoint, response) };
  };
  const mint = async ({ signal, claims, step }: MintContext): Promise<MintedToken> => {
    if (server === undefined) {
      step?.(`discovery request to ${displayEndpoint(issuer!)}`);
      server = await discover(issuer!, signal);
    }
    const endpoint = new URL(server.token_endpoint ?? issuer!.href);
    // read before the request: an assertion or subject token that cannot be read fails the mint with its own error
    const own = grant.parameters === undefined ? {} : await grant.parameters(signal);
    const authentication = await authenticator({ tokenEndpoint: endpoint, issuer: server.issuer, signal });
    step?.(`token request to ${displayEndpoint(endpoint)}`);
    try {
      const parameters = new URLSearchParams(own);
      if (scope !== undefined) parameters.set('scope', scope);
      if (options.audience !== undefined) parameters.set('audience', options.audience);
      for (const resource of [options.resource ?? []].flat()) parameters.append('resource', resource);
      if (claims !== undefined) parameters.set('claims', claims);
      const sentAt = now();
      let { response, fresh } = await request(server, endpoint, authentication, parameters, signal);
      // RFC 9449 section 8: a server that wants a nonce refuses with use_dpop_nonce and gives one; one more send with it
      if (fresh && response.status === 400 && (await oauthErrorCode(response)) === 'use_dpop_nonce') ({ response } = await request(server, endpoint, authentication, parameters, signal));
      const result = await oauth.processGenericTokenEndpointResponse(server, client, response, { recognizedTokenTypes });
      return {
        secret: new Secret(result.access_token),
        expiresAt: tokenExpiry(result, sentAt, defaultLifetime),
        ...tokenFacts(result, sentAt),
      };
    } catch (error) {
      throw await toSafeError(error, signal, now(), { step: 'token request', endpoint });
    }
  };
  return dpop === undefined ? mint : Object.assign(mint, { keyBound: true as const });
}

/** The `error` of an OAuth error response, read from a copy (the response is read again after). */
export async function oauthErrorCode(response: Response): Promise<string | undefined> {
  try {
    const body = (await response.clone().json()) as { error?: unknown } | null;
    return typeof body?.error === 'string' ? body.error : undefined;
  } catch {
    return undefined;
  }
}
