import * as oauth from 'oauth4webapi';
import type { MintedToken } from '../auth-token.js';
import type { Clock } from '../clock.js';
import { CredentialError } from '../../machines/credential-error.js';
import type { ExclusiveMint, MintContext } from '../mint.js';
import { Secret } from '../../machines/secret.js';
import { toSafeError } from './safe-error.js';
import { checkOptions } from '../check-options.js';
import { endpointOption, httpOptions, SCOPE_REFUSED, scopeParameter, secretOption, tokenFacts } from './endpoint.js';

/** Options of {@link refreshTokenMint}. */
export interface RefreshTokenOptions {
  tokenEndpoint: string | URL;
  clientId: string;
  /** Absent for a public client. */
  clientSecret?: string | Secret;
  /** The refresh token to start from (the one a sign-in returned); under a coordination, only until the fleet shares one. */
  refreshToken: string | Secret;
  /** The scopes to ask for (narrower than or equal to the original grant's), sent space-separated. */
  scopes?: readonly string[];
  /** `resource` indicators (RFC 8707). */
  resource?: string | string[];
  fetch?: typeof fetch;
  clock?: Pick<Clock, 'now'>;
  /** Allow `http:` endpoints. Only for local development and tests. */
  allowInsecureRequests?: boolean;
}

/**
 * Builds a `mint` for the refresh-token grant with **rotating** refresh tokens: each grant returns
 * a new refresh token and the one used is spent (issuers detect reuse and revoke the whole token
 * family). So the mint is exclusive: under a `coordination` the current refresh token travels in
 * the sealed shared state, only the lease holder runs the grant, it writes the new refresh token
 * before it releases the lease, and no grant runs while Redis is down. A grant whose outcome is
 * unknown (aborted, timed out, the connection lost after the request went out) is never replayed
 * with the same refresh token: the mint fails with `REFRESH_TOKEN_UNUSABLE` from then on, and the
 * user must sign in again. A refused connection (nothing was sent) may be retried.
 *
 * Configure the issuer's reuse window (Auth0 "reuse interval", Okta "grace period for token
 * rotation") to cover your `mintTimeoutMs`: then even a response lost on the way back costs a
 * retry rather than the family. This mint does not rely on it.
 *
 * @example
 * ```ts
 * const provider = await createCredentialProvider({
 *   mint: refreshTokenMint({ tokenEndpoint, clientId, clientSecret, refreshToken: fromSignIn }),
 *   coordination, sharedKey: credentialKey({ issuer: tokenEndpoint, clientId, tenant: userId }),
 * });
 * ```
 */
export function refreshTokenMint(options: RefreshTokenOptions): ExclusiveMint {
  checkOptions(options, { owner: OWNER, known: REFRESH_TOKEN_OPTION_NAMES, refused: SCOPE_REFUSED });
  const { clientId } = options;
  if (typeof clientId !== 'string' || clientId.length === 0) throw new CredentialError('INVALID_CONFIG', `${OWNER}: clientId must be a non-empty string`);
  if (options.tokenEndpoint === undefined) throw new CredentialError('INVALID_CONFIG', `${OWNER}: tokenEndpoint is required`);
  const tokenEndpoint = endpointOption(OWNER, 'tokenEndpoint', options.tokenEndpoint, options);
  const initial = secretOption(OWNER, 'refreshToken', options.refreshToken).reveal();
  const clientSecret = options.clientSecret === undefined ? undefined : secretOption(OWNER, 'clientSecret', options.clientSecret);
  const scope = scopeParameter(OWNER, options.scopes);
  const now = options.clock === undefined ? () => Date.now() : () => options.clock!.now();
  const client: oauth.Client = { client_id: clientId };
  const server: oauth.AuthorizationServer = { issuer: tokenEndpoint.origin, token_endpoint: tokenEndpoint.href };
  const http = httpOptions(options);
  const call = { step: 'token request', endpoint: tokenEndpoint } as const;
  /** Alone, the refresh token lives here; under a coordination, in the fleet's shared state. */
  let local: Secret | null = new Secret(initial);
  /** Whether a coordination has ever handed this mint a shared refresh token. */
  let sawSharedState = false;

  const mint = async ({ signal, state }: MintContext): Promise<MintedToken> => {
    if (typeof state === 'string') sawSharedState = true;
    if (state === null && sawSharedState) {
      // The fleet had a refresh token and Redis no longer does (it lost its data): the one this
      // process started from is long spent, and sending it would revoke the family.
      throw unusable('the fleet’s shared refresh token is gone (Redis lost its data?): sign in again');
    }
    const current = state === undefined || state === null ? local : new Secret(state);
    if (current === null) {
      throw unusable('the last refresh-token grant’s outcome is unknown, so its refresh token may be spent: sign in again');
    }
    const parameters = new URLSearchParams();
    if (scope !== undefined) parameters.set('scope', scope);
    for (const resource of [options.resource ?? []].flat()) parameters.append('resource', resource);
    const authentication = clientSecret === undefined ? oauth.None() : oauth.ClientSecretBasic(clientSecret.reveal());
    if (signal.aborted) throw signal.reason; // nothing sent yet: the refresh token is unspent
    const sentAt = now();
    let response: Response;
    try {
      response = await oauth.refreshTokenGrantRequest(server, client, authentication, current.reveal(), { ...http, signal, additionalParameters: parameters });
    } catch (error) {
      if (!wasNeverSent(error)) {
        // The request may have reached the issuer and spent the refresh token: never send it again.
        if (state === undefined) local = null;
        throw Object.assign(new CredentialError('REFRESH_TOKEN_UNUSABLE', 'the refresh-token grant’s outcome is unknown (no response): its refresh token is not used again', { cause: toSafeError(error, signal, now(), call) }), { stateSpent: true });
      }
      throw toSafeError(error, signal, now(), call);
    }
    let result: oauth.TokenEndpointResponse;
    try {
      result = await oauth.processRefreshTokenResponse(server, client, response);
    } catch (error) {
      throw toSafeError(error, signal, now(), call);
    }
    const next = typeof result.refresh_token === 'string' && result.refresh_token.length > 0 ? result.refresh_token : current.reveal();
    if (state === undefined) local = new Secret(next);
    return {
      secret: new Secret(result.access_token),
      expiresAt: typeof result.expires_in === 'number' ? sentAt + result.expires_in * 1000 : null,
      ...tokenFacts(result, sentAt),
      state: next,
    };
  };
  return Object.assign(mint, { exclusive: true as const });
}

const OWNER = 'refreshTokenMint';

/**
 * A refusal before anything is sent, marked `issuerNotAsked`: no breaker counts it, so every
 * caller hears `REFRESH_TOKEN_UNUSABLE` itself (no retry can fix it), not a `BREAKER_OPEN`.
 */
function unusable(message: string): CredentialError {
  return Object.assign(new CredentialError('REFRESH_TOKEN_UNUSABLE', message), { issuerNotAsked: true as const });
}
const REFRESH_TOKEN_OPTION_NAMES: readonly string[] = [
  'tokenEndpoint',
  'clientId',
  'clientSecret',
  'refreshToken',
  'scopes',
  'resource',
  'fetch',
  'clock',
  'allowInsecureRequests',
];

/** A connection refused (or a name that did not resolve): the request never left, the refresh token is unspent. */
function wasNeverSent(error: unknown): boolean {
  const code = ((error as { cause?: { code?: unknown } } | null)?.cause ?? {}).code;
  return code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EAI_AGAIN';
}
