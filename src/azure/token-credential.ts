import { CredentialError, isCredentialError } from '../../machines/credential-error.js';
import type { AuthToken } from '../auth-token.js';
import { checkOptions } from '../check-options.js';
import { describeShape } from '../describe-shape.js';
import type { CredentialPool } from '../pool/pool.js';
import { CredentialProvider } from '../provider.js';
import { AzureAuthenticationError } from './authentication-error.js';
import { azureKey, type AzureTokenRequest } from './azure-key.js';
import { AzureCredentialUnavailableError } from './credential-unavailable-error.js';

/** What `getToken` returns: `@azure/core-auth`'s `AccessToken`, declared here so this entry point needs no Azure package to type-check. */
export interface AzureAccessToken {
  /** The secret itself: Azure's API hands it over as a string, so this is the one place it is revealed. */
  token: string;
  /** When it expires (epoch ms). */
  expiresOnTimestamp: number;
  /** When the SDK should ask again: at once, so its cache never outlives a token this library replaced (see the docs). */
  refreshAfterTimestamp?: number;
  /** `Bearer`, or `pop` for a proof-of-possession token. */
  tokenType?: 'Bearer' | 'pop';
}

/** The `getToken` options this credential reads (`@azure/core-auth`'s `GetTokenOptions`; the others are ignored). */
export interface AzureGetTokenOptions {
  /** Aborts this call only, never the shared mint. */
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
}

/**
 * An `@azure/core-auth` `TokenCredential` served by a provider (one scope set, one tenant) or a
 * pool (a key per tenant and scopes): Azure SDK clients get this library's single flight, breaker
 * and fleet sharing instead of a cache per client.
 *
 * - `getToken` answers from the provider's cache (its hot path), and tells the SDK to ask again on
 *   its next request (`refreshAfterTimestamp`), so the SDK's own cache lags a replaced token by at
 *   most one request and never hides the breaker.
 * - A `claims` challenge (CAE) invalidates the token the SDK held and mints once with the claims,
 *   however many requests saw it; a late challenge for a token already minted with them mints nothing.
 * - Failures reject with {@link AzureAuthenticationError} (as `@azure/identity` names it); a stopped
 *   source, or scopes or a tenant it does not serve, with {@link AzureCredentialUnavailableError}, so a
 *   `ChainedTokenCredential` moves on. An aborted call rejects with the signal's reason.
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
export function toTokenCredential(
  source: CredentialProvider | CredentialPool,
  options?: ProviderTokenCredentialOptions | PoolTokenCredentialOptions,
): AzureTokenCredential {
  const serve = source instanceof CredentialProvider ? providerSource(source, options) : poolSource(source as CredentialPool, options);
  /** The claims each token was minted to answer: a later challenge with the same claims does not replace it. */
  const answered = new WeakMap<AuthToken, string>();
  const challenged = async (target: TokenSource, claims: string, signal: AbortSignal | undefined): Promise<AzureAccessToken> => {
    const token = await target.currentToken(signal === undefined ? undefined : { signal });
    if (answered.get(token) === claims) return toAccessToken(token);
    target.invalidate(token, { claims });
    const answer = await target.currentToken(signal === undefined ? undefined : { signal });
    answered.set(answer, claims);
    return toAccessToken(answer);
  };
  return {
    getToken(scopes, getTokenOptions) {
      const signal = getTokenOptions?.abortSignal as AbortSignal | undefined;
      try {
        const target = serve(scopes, getTokenOptions?.tenantId);
        const claims = getTokenOptions?.claims;
        if (claims !== undefined && claims.length > 0) return challenged(target, claims, signal).catch((error: unknown) => Promise.reject(azureError(error, signal)));
        return target.accessToken(signal === undefined ? target.currentToken() : target.currentToken({ signal }), signal);
      } catch (error) {
        return Promise.reject(azureError(error, signal));
      }
    },
  };
}

/** What one request is served from: a provider, or one key of a pool. */
interface TokenSource {
  currentToken(options?: { signal?: AbortSignal }): Promise<AuthToken>;
  invalidate(token: AuthToken, options: { claims: string }): boolean;
  /** The `AccessToken` of a served token, derived once per served promise (the same for every caller of a token). */
  accessToken(served: Promise<AuthToken>, signal: AbortSignal | undefined): Promise<AzureAccessToken>;
}

/** `accessToken` for a source: one derived promise per served promise, so the hot path awaits nothing and allocates nothing. */
function derivedAccessTokens(): TokenSource['accessToken'] {
  let served: Promise<AuthToken> | null = null;
  let derived: Promise<AzureAccessToken> | null = null;
  return (token, signal) => {
    if (token !== served) {
      served = token;
      derived = token.then(toAccessToken).catch((error: unknown) => Promise.reject(azureError(error, signal)));
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
    invalidate: (token, options) => provider.invalidate(token, options),
    accessToken: derivedAccessTokens(),
  };
  return (requested, requestedTenant) => {
    // the common case, one scope as a string, is checked without building anything
    const other = typeof requested === 'string' && served.has(requested) ? undefined : requestedScopes(requested).find((scope) => !served.has(scope));
    if (other !== undefined) throw new AzureCredentialUnavailableError(`this credential serves ${[...served].join(' ')}, not ${other}`);
    if (requestedTenant !== undefined && requestedTenant !== tenantId) {
      throw new AzureCredentialUnavailableError(`this credential serves ${tenantId === undefined ? 'its own tenant' : `tenant ${tenantId}`}, not tenant ${requestedTenant}`);
    }
    return source;
  };
}

function poolSource(pool: CredentialPool, options: unknown): (scopes: unknown, tenantId: string | undefined) => TokenSource {
  checkOptions(options ?? {}, { owner: 'toTokenCredential', known: ['keyOf'] });
  const { keyOf = azureKey } = (options ?? {}) as PoolTokenCredentialOptions;
  if (typeof keyOf !== 'function') throw new CredentialError('INVALID_CONFIG', `toTokenCredential: keyOf must be a function, got ${describeShape(keyOf)}`);
  // derived per served promise in a WeakMap: a key the pool evicts leaves nothing behind here
  const derived = new WeakMap<Promise<AuthToken>, Promise<AzureAccessToken>>();
  return (requested, tenantId) => {
    const key = keyOf({ scopes: requestedScopes(requested), tenantId });
    return {
      currentToken: (options) => pool.currentToken(key, options),
      invalidate: (token, options) => pool.invalidate(key, token, options),
      accessToken: (served, signal) => {
        let accessToken = derived.get(served);
        if (accessToken === undefined) {
          accessToken = served.then(toAccessToken).catch((error: unknown) => Promise.reject(azureError(error, signal)));
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
    expiresOnTimestamp: token.expiresAt ?? Number.MAX_SAFE_INTEGER,
    // Ask again on the next request: our cache answers in a few hundred nanoseconds, and the SDK's
    // own (per client, refreshed two minutes before expiry) would otherwise serve a token we replaced.
    refreshAfterTimestamp: Date.now(),
    tokenType,
  };
}

/** The error an Azure client gets: the signal's reason as it is, unavailable for a stopped source, an `AuthenticationError` otherwise. */
function azureError(error: unknown, signal: AzureGetTokenOptions['abortSignal']): unknown {
  if (signal?.aborted === true || error instanceof AzureCredentialUnavailableError) return error;
  if (isCredentialError(error) && error.code === 'STOPPED') return new AzureCredentialUnavailableError('the credential was stopped');
  return new AzureAuthenticationError(error);
}
