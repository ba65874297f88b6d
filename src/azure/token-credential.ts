import { CredentialError, isCredentialError } from '../../machines/credential-error.js';
import type { AuthToken } from '../auth-token.js';
import { checkOptions } from '../check-options.js';
import { describeShape } from '../describe-shape.js';
import type { CredentialPool } from '../pool/pool.js';
import { CredentialProvider, type CurrentTokenOptions } from '../provider.js';
import { AzureAuthenticationError } from './authentication-error.js';
import { azureKey, type AzureTokenRequest } from './azure-key.js';
import { AzureCredentialUnavailableError } from './credential-unavailable-error.js';

/** What `getToken` returns: `@azure/core-auth`'s `AccessToken`, declared here so this entry point needs no Azure package to type-check. */
export interface AzureAccessToken {
  /** The secret itself: Azure's API hands it over as a string, so this is the one place it is revealed. */
  token: string;
  /**
   * When the SDK must ask again: the moment it was handed out (never later than the token's own
   * expiry), so that an SDK client asks this credential on every request, in that request (its
   * answer comes from the provider's cache). A failure then reaches the request that needs the
   * token, never a background refresh that nobody awaits (the SDK's token cycler leaves those
   * unhandled, which crashes Node), and a token the provider replaced or dropped is not sent again.
   * The token's real expiry is the provider's (`currentToken()`'s `expiresAt`).
   */
  expiresOnTimestamp: number;
  /** `Bearer`, or `pop` for a proof-of-possession token. */
  tokenType?: 'Bearer' | 'pop';
}

/** The `getToken` options this credential reads (`@azure/core-auth`'s `GetTokenOptions`; the others are ignored). */
export interface AzureGetTokenOptions {
  /**
   * Accepted and not passed on: an SDK client shares one `getToken` among its requests (its token
   * cycler), passing the signal of whichever request started it, so honouring it would fail the
   * others; the aborted request is stopped by the SDK's own HTTP layer, and the mint goes on for the rest.
   */
  abortSignal?: { readonly aborted: boolean; addEventListener(type: 'abort', listener: () => void): void; removeEventListener(type: 'abort', listener: () => void): void };
  /** A Continuous Access Evaluation claims challenge: the cached token is invalidated and the next one minted with these claims. */
  claims?: string;
  /** The tenant a challenge named: with a pool, part of the key; with a provider, it must be the provider's. */
  tenantId?: string;
  /** Whether the client handles CAE challenges (accepted; claims are always honoured). */
  enableCae?: boolean;
}

/** `@azure/core-auth`'s `TokenCredential`, as this library implements it. */
export interface AzureTokenCredential {
  getToken(scopes: string | string[], options?: AzureGetTokenOptions): Promise<AzureAccessToken | null>;
}

/** Options of {@link toTokenCredential} for a provider: what it serves. */
export interface ProviderTokenCredentialOptions {
  /** The scopes the provider's token is good for: a request for any other is refused (`CredentialUnavailableError`), never answered with the wrong audience. */
  scopes: readonly string[];
  /** The tenant it serves: a request naming another is refused. Default: any request without a tenant, or naming none. */
  tenantId?: string;
}

/** Options of {@link toTokenCredential} for a pool. */
export interface PoolTokenCredentialOptions {
  /** The pool key for a request (default {@link azureKey}: tenant and sorted scopes). */
  keyOf?: (request: AzureTokenRequest) => string;
  /** The tenant of a request that names none (the key's `tenantId`); default: none, `undefined` in the key. */
  tenantId?: string;
}

/**
 * An `@azure/core-auth` `TokenCredential` served by a provider (one scope set, one tenant) or a
 * pool (a key per tenant and scopes): Azure SDK clients get this library's single flight, breaker
 * and fleet sharing instead of a cache per client.
 *
 * - `getToken` answers from the provider's cache (its hot path), and has the SDK ask again on
 *   every request, in the request (`expiresOnTimestamp` is the moment of the answer), so the SDK's
 *   own cache never sends a replaced or dropped token, never hides the breaker, and never fails in a
 *   background refresh that nobody awaits.
 * - A `claims` challenge (CAE) invalidates the token the SDK held and mints once with the claims,
 *   however many requests saw it; a late challenge for a token already minted with them mints nothing.
 * - Failures reject with {@link AzureAuthenticationError} (as `@azure/identity` names it); a stopped
 *   source, or scopes or a tenant it does not serve, with {@link AzureCredentialUnavailableError}, so a
 *   `ChainedTokenCredential` moves on. The SDK's `abortSignal` is not passed on (see `AzureGetTokenOptions`).
 *
 * @example
 * ```ts
 * const credential = toTokenCredential(provider, { scopes: ['https://vault.azure.net/.default'] });
 * const secrets = new SecretClient(vaultUrl, credential);
 * ```
 */
export function toTokenCredential(source: CredentialProvider, options: ProviderTokenCredentialOptions): AzureTokenCredential;
/** With a pool: each request's tenant and scopes choose its key. */
export function toTokenCredential(source: CredentialPool, options?: PoolTokenCredentialOptions): AzureTokenCredential;
export function toTokenCredential(source: CredentialProvider | CredentialPool, options?: ProviderTokenCredentialOptions | PoolTokenCredentialOptions): AzureTokenCredential {
  const serve = source instanceof CredentialProvider ? providerSource(source, options) : poolSource(source as CredentialPool, options);
  /** The claims each token was minted to answer: a later challenge with the same claims does not replace it. */
  const answered = new WeakMap<AuthToken, string>();
  const challenged = async (target: TokenSource, claims: string): Promise<AzureAccessToken> => {
    const token = await target.currentToken();
    if (answered.get(token) === claims) return toAccessToken(token);
    const answer = await target.currentToken({ rejected: token, claims });
    answered.set(answer, claims);
    return toAccessToken(answer);
  };
  return {
    getToken(scopes, getTokenOptions) {
      try {
        const target = serve(scopes, getTokenOptions?.tenantId);
        const claims = getTokenOptions?.claims;
        if (claims !== undefined && claims.length > 0) return challenged(target, claims).catch((error: unknown) => Promise.reject(azureError(error)));
        return target.accessToken(target.currentToken());
      } catch (error) {
        return Promise.reject(azureError(error));
      }
    },
  };
}

/** What one request is served from: a provider, or one key of a pool. */
interface TokenSource {
  currentToken(options?: CurrentTokenOptions): Promise<AuthToken>;
  /** The `AccessToken` of a served token, derived once per served promise (the same for every caller of a token). */
  accessToken(served: Promise<AuthToken>): Promise<AzureAccessToken>;
}

/** `accessToken` for a source: one derived promise per served promise, so the hot path awaits nothing and allocates nothing. */
function derivedAccessTokens(): TokenSource['accessToken'] {
  let served: Promise<AuthToken> | null = null;
  let derived: Promise<AzureAccessToken> | null = null;
  return (token) => {
    if (token !== served) {
      served = token;
      derived = token.then(toAccessToken).catch((error: unknown) => Promise.reject(azureError(error)));
    }
    return derived!;
  };
}

function providerSource(provider: CredentialProvider, options: unknown): (scopes: unknown, tenantId: string | undefined) => TokenSource {
  checkOptions(options, { owner: 'toTokenCredential', known: ['scopes', 'tenantId'] });
  const { scopes, tenantId } = (options ?? {}) as Partial<ProviderTokenCredentialOptions>;
  if (!Array.isArray(scopes) || scopes.length === 0 || !scopes.every((scope) => typeof scope === 'string' && scope.length > 0)) {
    throw new CredentialError('INVALID_CONFIG', `toTokenCredential: with a provider, scopes (the scopes its token is good for) must be a non-empty array of strings, got ${describeShape(scopes)}`);
  }
  if (tenantId !== undefined && (typeof tenantId !== 'string' || tenantId.length === 0)) {
    throw new CredentialError('INVALID_CONFIG', `toTokenCredential: tenantId must be a non-empty string, got ${describeShape(tenantId)}`);
  }
  const served = new Set(scopes);
  const source: TokenSource = {
    currentToken: (options) => provider.currentToken(options),
    accessToken: derivedAccessTokens(),
  };
  return (requested, requestedTenant) => {
    // the common case, one scope as a string, is checked without building anything
    const other = typeof requested === 'string' && served.has(requested) ? undefined : requestedScopes(requested).find((scope) => !served.has(scope));
    if (other !== undefined) throw new AzureCredentialUnavailableError(`this credential serves ${[...served].join(' ')}, not ${other}`);
    if (requestedTenant !== undefined && requestedTenant !== tenantId) {
      throw new AzureCredentialUnavailableError(
        tenantId === undefined
          ? `the request names tenant ${requestedTenant} (a challenge, such as Key Vault's, names its tenant), and this credential was given no tenantId: if the provider's token is for that tenant, pass toTokenCredential(provider, { scopes, tenantId: '${requestedTenant}' }); for several tenants, use a pool`
          : `this credential serves tenant ${tenantId}, not tenant ${requestedTenant}`,
      );
    }
    return source;
  };
}

function poolSource(pool: CredentialPool, options: unknown): (scopes: unknown, tenantId: string | undefined) => TokenSource {
  checkOptions(options ?? {}, { owner: 'toTokenCredential', known: ['keyOf', 'tenantId'] });
  const { keyOf = azureKey, tenantId: defaultTenant } = (options ?? {}) as PoolTokenCredentialOptions;
  if (typeof keyOf !== 'function') throw new CredentialError('INVALID_CONFIG', `toTokenCredential: keyOf must be a function, got ${describeShape(keyOf)}`);
  if (defaultTenant !== undefined && (typeof defaultTenant !== 'string' || defaultTenant.length === 0)) {
    throw new CredentialError('INVALID_CONFIG', `toTokenCredential: tenantId must be a non-empty string, got ${describeShape(defaultTenant)}`);
  }
  // derived per served promise in a WeakMap: a key the pool evicts leaves nothing behind here
  const derived = new WeakMap<Promise<AuthToken>, Promise<AzureAccessToken>>();
  return (requested, tenantId) => {
    const key = keyOf({ scopes: requestedScopes(requested), tenantId: tenantId ?? defaultTenant });
    return {
      currentToken: (options) => pool.currentToken(key, options),
      accessToken: (served) => {
        let accessToken = derived.get(served);
        if (accessToken === undefined) {
          accessToken = served.then(toAccessToken).catch((error: unknown) => Promise.reject(azureError(error)));
          derived.set(served, accessToken);
        }
        return accessToken;
      },
    };
  };
}

function requestedScopes(scopes: unknown): readonly string[] {
  const list = typeof scopes === 'string' ? [scopes] : scopes;
  if (!Array.isArray(list) || list.length === 0 || !list.every((scope) => typeof scope === 'string' && scope.length > 0)) {
    throw new AzureCredentialUnavailableError(`getToken needs scopes, a non-empty string or array of strings, got ${describeShape(scopes)}`);
  }
  return [...new Set(list as string[])].sort();
}

function toAccessToken(token: AuthToken): AzureAccessToken {
  const tokenType = token.tokenType === undefined || /^bearer$/i.test(token.tokenType) ? 'Bearer' : /^pop$/i.test(token.tokenType) ? 'pop' : null;
  if (tokenType === null) {
    throw new CredentialError('INVALID_TOKEN', `a ${token.tokenType} token cannot be presented by an Azure SDK client, which sends Bearer or pop tokens`);
  }
  return {
    token: token.secret.reveal(),
    // Ask again on every request, in the request: our cache answers in a few hundred nanoseconds; the
    // SDK's own (per client) would otherwise send a token we replaced, and refresh it in the background,
    // where a failure is an unhandled rejection once its old token expires (see AzureAccessToken).
    expiresOnTimestamp: Math.min(token.expiresAt ?? Infinity, Date.now()),
    tokenType,
  };
}

/** The error an Azure client gets: unavailable for a stopped source (or one that does not serve the request), an `AuthenticationError` otherwise. */
function azureError(error: unknown): unknown {
  if (error instanceof AzureCredentialUnavailableError) return error;
  if (isCredentialError(error, 'STOPPED')) return new AzureCredentialUnavailableError('the credential was stopped', 'STOPPED');
  return new AzureAuthenticationError(error);
}
