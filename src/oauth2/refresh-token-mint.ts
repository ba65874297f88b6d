import * as oauth from 'oauth4webapi';
import type { MintedToken } from '../auth-token.js';
import { systemClock, type Clock } from '../clock.js';
import { CredentialError } from '../../machines/credential-error.js';
import type { ExclusiveMint, MintContext } from '../mint.js';
import { Secret, type SecretValue } from '../../machines/secret.js';
import { Listeners } from '../listeners.js';
import { GrantRunner, type RefreshTokenGrant } from '../refresh-token-grant.js';
import { LocalRecordHolder, type RefreshTokenStore } from '../refresh-token-store.js';
import type { EncryptionKey } from '../sealed-token.js';
import { toSafeError } from './safe-error.js';
import { checkOptions, requireOption } from '../check-options.js';
import { defaultLifetimeOption, endpointOption, httpOptions, SCOPE_REFUSED, scopeParameter, secretOption, tokenExpiry, tokenFacts } from './endpoint.js';
import { OAuthError } from './oauth-error.js';
import type { ClientAuthenticationOption } from './client-authentication.js';
import { clientAuthenticatorOption } from './client-authenticator.js';
import { dpopProof, isDPoPKey, rememberDPoPNonce, type DPoPKey } from '../dpop.js';
import { describeShape } from '../describe-shape.js';
import { oauthErrorCode } from './token-grant.js';
import { displayEndpoint } from './oauth-error.js';

/** Options of {@link refreshTokenMint}. */
export interface RefreshTokenOptions {
  tokenEndpoint: string | URL;
  clientId: string;
  /** The client secret, for the `client_secret_*` methods; absent for a public client. */
  clientSecret?: string | Secret;
  /**
   * How the client authenticates: `'client_secret_basic'` (the default with a `clientSecret`),
   * `'client_secret_post'`, `'client_secret_jwt'`, `privateKeyJwt(…)`, `clientAssertion(…)`, or
   * `'none'` (a public client, the default without a `clientSecret`).
   */
  clientAuthentication?: ClientAuthenticationOption;
  /**
   * The refresh token to start from (a sign-in's). A newer one, where a holder knows it (the store,
   * the fleet's Redis, a live tab), wins; this one is used again only if that family is dead.
   */
  refreshToken: string | Secret;
  /** The scopes to ask for (narrower than or equal to the original grant's), sent space-separated. */
  scopes?: readonly string[];
  /** `resource` indicators (RFC 8707). */
  resource?: string | string[];
  fetch?: typeof fetch;
  clock?: Clock;
  /** Allow `http:` endpoints. Only for local development and tests. */
  allowInsecureRequests?: boolean;
  /**
   * A process alone: where its refresh token survives a restart (loaded at the first grant, saved
   * before each grant is sent and as soon as its answer is known), sealed with `encryptionKey`.
   * `fileStore(path)` is one. Under a coordination the fleet's Redis, or the tabs' IndexedDB, holds it instead.
   */
  store?: RefreshTokenStore;
  /** Seals what `store` keeps (required with it): `{ id, key }` with 32 random bytes, or a list (the sealing key first). */
  encryptionKey?: EncryptionKey | readonly EncryptionKey[];
  /** How long a grant that was sent may take to answer before it is given up and its refresh token is in doubt (ms; default 60 000). */
  grantTimeoutMs?: number;
  /**
   * The issuer's refresh-token reuse interval (Auth0 "reuse interval", Okta "grace period", Supabase
   * "reuse interval"), in ms; default 0 (none). Within its first half, counted from when a refresh
   * token was first sent, a refresh token whose grant's answer was lost is sent again instead of
   * asking for a new sign-in (the second half is left for the retry to reach the issuer). Set it no
   * longer than the issuer's.
   */
  reuseIntervalMs?: number;
  /**
   * Before each grant, check that the token endpoint answers at all (a `HEAD` that carries no
   * credential), so that a refused connection is known not to have sent the refresh token. Default:
   * on where a failed request does not say whether it was sent (browsers), off in Node, whose errors say.
   */
  checkReachable?: boolean;
  /** The lifetime assumed for an access token whose response gives none (see `clientCredentialsMint`): default 300 000 ms; `'never'` to cache it until refused. */
  defaultLifetimeMs?: number | 'never';
  /**
   * A DPoP key (`dpopKey()`): each grant carries a proof of it, and the issuer binds the access token
   * (and a public client's refresh token) to it. Its tokens are not shared through a coordination:
   * the key never leaves this process.
   */
  dpop?: DPoPKey;
}

/** What a refresh-token mint tells its listeners. */
export type RefreshTokenMintEvent =
  /** A grant's answer carried a new refresh token: the one sent is spent. Never in clear: a `Secret`. */
  | { readonly type: 'rotated'; readonly refreshToken: Secret; readonly family: string; readonly generation: number }
  /** The store's value did not open, or a save failed: the refresh token is kept in memory meanwhile. */
  | { readonly type: 'store.failed'; readonly error: CredentialError };

type EventOf<K extends RefreshTokenMintEvent['type']> = Extract<RefreshTokenMintEvent, { type: K }>;

/** A rotating refresh-token grant as a `mint`, with its events. */
export interface RefreshTokenMint extends ExclusiveMint {
  /**
   * Listens to `rotated` (a grant returned a new refresh token; for a store of your own, or an audit
   * log) or `store.failed`. Returns the function that stops listening.
   *
   * @example
   * ```ts
   * mint.on('rotated', ({ generation }) => log.info(`refresh token rotated (generation ${generation})`));
   * ```
   */
  on<K extends RefreshTokenMintEvent['type']>(type: K, listener: (event: EventOf<K>) => void): () => void;
}

/**
 * Builds a `mint` for the refresh-token grant with **rotating** refresh tokens: each grant returns a
 * new refresh token and the one sent is spent (issuers detect reuse and revoke the whole family). The
 * refresh token's life follows the refresh-token statechart (`machines/refresh-token.machine.ts`),
 * the same in a process alone, across a fleet on Redis and across tabs:
 *
 * - it is spent from the moment it is handed to the transport, and sent again only where the failure
 *   proves nothing left (a refused connection, offline), or within the issuer's `reuseIntervalMs`;
 * - a grant is never cut short by the attempt that started it (a `MINT_TIMEOUT`, callers leaving):
 *   it runs to its answer or `grantTimeoutMs`, and an answer that arrived is never thrown away;
 * - a new refresh token in an answer is kept even when the rest of the answer is refused;
 * - `invalid_grant` is final: `REFRESH_TOKEN_UNUSABLE` at once, with the issuer's words, no retry;
 * - a grant whose answer was lost leaves the refresh token in doubt: `REFRESH_TOKEN_UNUSABLE`
 *   (sign in again), never a second send;
 * - `provider.signIn(refreshToken)` replaces the family with a new sign-in's, everywhere.
 *
 * Alone, the refresh token lives in memory, or in `store` (sealed) to survive restarts.
 *
 * @example
 * ```ts
 * const mint = refreshTokenMint({ tokenEndpoint, clientId, refreshToken: fromSignIn, store: fileStore('./session.sealed'), encryptionKey });
 * mint.on('rotated', () => metrics.increment('refresh_token.rotated'));
 * const provider = await createCredentialProvider({ mint });
 * ```
 */
export function refreshTokenMint(options: RefreshTokenOptions): RefreshTokenMint {
  checkOptions(options, { owner: OWNER, known: REFRESH_TOKEN_OPTION_NAMES, refused: SCOPE_REFUSED });
  const { clientId } = options;
  if (typeof clientId !== 'string' || clientId.length === 0) throw new CredentialError('INVALID_CONFIG', `${OWNER}: clientId must be a non-empty string`);
  if (options.tokenEndpoint === undefined) throw new CredentialError('INVALID_CONFIG', `${OWNER}: tokenEndpoint is required`);
  const tokenEndpoint = endpointOption(OWNER, 'tokenEndpoint', options.tokenEndpoint, options);
  const configuredRefreshToken = secretOption(OWNER, 'refreshToken', options.refreshToken);
  const authenticator = clientAuthenticatorOption(OWNER, options, false);
  const { dpop } = options;
  if (dpop !== undefined && !isDPoPKey(dpop)) throw new CredentialError('INVALID_CONFIG', `${OWNER}: dpop must be a key made by dpopKey(), got ${describeShape(dpop)}`);
  const scope = scopeParameter(OWNER, options.scopes);
  const defaultLifetime = defaultLifetimeOption(OWNER, options.defaultLifetimeMs);
  const { grantTimeoutMs = 60_000, reuseIntervalMs = 0, checkReachable = !isNode() } = options;
  requireOption(OWNER, 'grantTimeoutMs', typeof grantTimeoutMs === 'number' && grantTimeoutMs > 0, 'must be a number of ms > 0 (Infinity: never given up)', grantTimeoutMs);
  requireOption(OWNER, 'reuseIntervalMs', typeof reuseIntervalMs === 'number' && reuseIntervalMs >= 0 && reuseIntervalMs < Infinity, 'must be a finite number of ms >= 0', reuseIntervalMs);
  requireOption(OWNER, 'checkReachable', typeof checkReachable === 'boolean', 'must be a boolean', checkReachable);
  if (options.store !== undefined) {
    const store = options.store as Partial<RefreshTokenStore> | null;
    requireOption(
      OWNER,
      'store',
      typeof store === 'object' && store !== null && typeof store.load === 'function' && typeof store.save === 'function',
      'must have load() and save(sealed)',
      options.store,
    );
    if (options.encryptionKey === undefined) throw new CredentialError('INVALID_CONFIG', `${OWNER}: store needs encryptionKey, { id, key } with 32 random bytes, to seal the refresh token`);
  } else if (options.encryptionKey !== undefined) {
    throw new CredentialError('INVALID_CONFIG', `${OWNER}: encryptionKey is only used with store`);
  }
  const clock = options.clock ?? systemClock;
  const now = () => clock.now();
  // a family signed in after this moment came after the configured refresh token: it is never taken back over it
  const configuredAt = now();
  const client: oauth.Client = { client_id: clientId };
  const server: oauth.AuthorizationServer = { issuer: tokenEndpoint.origin, token_endpoint: tokenEndpoint.href };
  const http = httpOptions(options);
  const call = { step: 'token request', endpoint: tokenEndpoint } as const;
  const listeners = new Listeners<RefreshTokenMintEvent>();

  /** The grant itself, sending `grant.refreshToken` and saying what became of it. */
  const sendGrant = async (signal: AbortSignal, grant: RefreshTokenGrant): Promise<MintedToken> => {
    const parameters = new URLSearchParams();
    if (scope !== undefined) parameters.set('scope', scope);
    for (const resource of [options.resource ?? []].flat()) parameters.append('resource', resource);
    const unsent = (error: unknown): never => {
      grant.unspent();
      throw error;
    };
    if (signal.aborted) unsent(signal.reason);
    if ((globalThis as { navigator?: { onLine?: unknown } }).navigator?.onLine === false) {
      unsent(new OAuthError('request_failed', { ...where(tokenEndpoint), errorDescription: 'the browser is offline; the refresh token was not sent' }));
    }
    if (checkReachable) {
      // a request that carries no credential: if the endpoint cannot be reached, the grant is not sent
      try {
        await (options.fetch ?? fetch)(tokenEndpoint.href, { method: 'HEAD', mode: 'no-cors', cache: 'no-store', credentials: 'omit', signal });
      } catch (error) {
        unsent(await toSafeError(error, signal, now(), call));
      }
    }
    // a client assertion that cannot be read fails before anything is sent: the refresh token is not spent
    const authentication = await authenticator({ tokenEndpoint, issuer: server.issuer, signal }).catch(unsent);
    const sentAt = now();
    let response: Response;
    try {
      const send = async () => {
        const headers = dpop === undefined ? undefined : { dpop: await dpopProof(dpop, { method: 'POST', url: tokenEndpoint }) };
        const answer = await oauth.refreshTokenGrantRequest(server, client, authentication, grant.refreshToken.reveal(), {
          ...http,
          signal,
          additionalParameters: parameters,
          ...(headers === undefined ? {} : { headers }),
        });
        return { answer, freshNonce: dpop !== undefined && rememberDPoPNonce(dpop, tokenEndpoint, answer) };
      };
      const first = await send();
      response = first.answer;
      // RFC 9449 section 8: the issuer refuses a proof without its nonce before it reads the grant, so
      // the refresh token was not taken: sent once more, with the nonce, in this same grant
      if (first.freshNonce && response.status === 400 && (await oauthErrorCode(response)) === 'use_dpop_nonce') response = (await send()).answer;
    } catch (error) {
      if (wasNeverSent(error)) grant.unspent();
      throw await toSafeError(error, signal, now(), call);
    }
    // kept before anything else is checked: a refused answer that carries one has still spent the old one
    const rotated = await rotatedRefreshToken(response);
    if (rotated !== undefined) {
      grant.rotated(rotated);
      listeners.notify({ type: 'rotated', refreshToken: new Secret(rotated), family: grant.family, generation: grant.generation + 1 });
    }
    let result: oauth.TokenEndpointResponse;
    try {
      result = await oauth.processRefreshTokenResponse(server, client, response);
    } catch (error) {
      const safe = await toSafeError(error, signal, now(), call);
      if (safe instanceof OAuthError && safe.error === 'invalid_grant') {
        const refusal = { error: safe.error, ...(safe.errorDescription === undefined ? {} : { description: safe.errorDescription }) };
        grant.refused(refusal);
        throw Object.assign(
          new CredentialError('REFRESH_TOKEN_UNUSABLE', `the issuer refused the refresh token (invalid_grant${refusal.description === undefined ? '' : `: ${refusal.description}`}): sign in again`, {
            cause: safe,
          }),
          { refusal },
        );
      }
      // an error answer (a 5xx, a 429, invalid_client) did not take the refresh token: it is sent again later
      if (response.status !== 200 && rotated === undefined) grant.unspent();
      throw safe;
    }
    return {
      secret: new Secret(result.access_token),
      expiresAt: tokenExpiry(result, sentAt, defaultLifetime),
      ...tokenFacts(result, sentAt),
    };
  };

  const mint = async ({ signal, grant, claims, step }: MintContext): Promise<MintedToken> => {
    step?.(`refresh-token grant at ${displayEndpoint(tokenEndpoint)}`);
    if (grant !== undefined) return sendGrant(signal, grant);
    // alone: this process holds the record (in memory, or sealed in the store)
    return (await local.mintAlone(claims === undefined ? { signal } : { signal, claims })) as MintedToken;
  };
  const exclusive: RefreshTokenMint = Object.assign(mint, {
    ...(dpop === undefined ? {} : { keyBound: true as const }),
    exclusive: true as const,
    configuredRefreshToken,
    configuredAt,
    grantTimeoutMs,
    reuseIntervalMs,
    signIn: (refreshToken: string | Secret) => local.signIn(secretOption(`${OWNER} signIn`, 'refreshToken', refreshToken)),
    on: <K extends RefreshTokenMintEvent['type']>(type: K, listener: (event: EventOf<K>) => void) => listeners.add(type, listener as (event: RefreshTokenMintEvent) => void),
  });
  const holder = new LocalRecordHolder(
    options.store === undefined
      ? undefined
      : {
          store: options.store,
          encryptionKey: options.encryptionKey!,
          name: `refresh-token:${displayEndpoint(tokenEndpoint)}:${clientId}`,
          failed: (error) => listeners.notify({ type: 'store.failed', error }),
        },
  );
  const local = new GrantRunner({ mint: exclusive as ExclusiveMint<SecretValue>, holder, clock });
  return exclusive;
}

const OWNER = 'refreshTokenMint';

const REFRESH_TOKEN_OPTION_NAMES: readonly string[] = [
  'tokenEndpoint',
  'clientId',
  'clientSecret',
  'clientAuthentication',
  'refreshToken',
  'scopes',
  'resource',
  'fetch',
  'clock',
  'allowInsecureRequests',
  'store',
  'encryptionKey',
  'grantTimeoutMs',
  'reuseIntervalMs',
  'checkReachable',
  'defaultLifetimeMs',
  'dpop',
];

/** A connection refused (or a name that did not resolve): the request never left, the refresh token is unspent. */
function wasNeverSent(error: unknown): boolean {
  const code = ((error as { cause?: { code?: unknown } } | null)?.cause ?? {}).code;
  return code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EAI_AGAIN';
}

/** The `refresh_token` of a successful answer, read before the answer is checked; `undefined` when there is none. */
async function rotatedRefreshToken(response: Response): Promise<string | undefined> {
  if (response.status !== 200) return undefined;
  try {
    const body = (await response.clone().json()) as { refresh_token?: unknown } | null;
    return typeof body?.refresh_token === 'string' && body.refresh_token.length > 0 ? body.refresh_token : undefined;
  } catch {
    return undefined;
  }
}

function where(endpoint: URL): { step: 'token request'; endpoint: string } {
  return { step: 'token request', endpoint: displayEndpoint(endpoint) };
}

/** Node's failed requests carry a system error code that says whether anything was sent; a browser's do not. */
function isNode(): boolean {
  return typeof (globalThis as { process?: { versions?: { node?: unknown } } }).process?.versions?.node === 'string';
}
