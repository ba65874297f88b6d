import * as oauth from 'oauth4webapi';
import { urlOption } from '../check-options.js';
import { CredentialError } from '../../machines/credential-error.js';
import { Secret } from '../../machines/secret.js';

/** The options both OAuth mints share, checked the same way. */
export interface EndpointOptions {
  readonly fetch?: typeof fetch | undefined;
  readonly allowInsecureRequests?: boolean | undefined;
}

/**
 * A URL option of an OAuth mint, checked at construction: absolute, and `https:` unless
 * `allowInsecureRequests` is set (the request would be refused at the first mint otherwise).
 */
export function endpointOption(owner: string, name: string, value: unknown, options: EndpointOptions): URL {
  const url = urlOption(owner, name, value);
  if (url.protocol !== 'https:' && options.allowInsecureRequests !== true) {
    throw new CredentialError(
      'INVALID_CONFIG',
      `${owner}: ${name} is an ${url.protocol} URL; only https: is used unless allowInsecureRequests: true is set (for local development and tests)`,
    );
  }
  return url;
}

/** oauth4webapi's per-request options for a custom `fetch` and insecure requests. */
export function httpOptions(options: EndpointOptions): { [oauth.customFetch]?: typeof fetch; [oauth.allowInsecureRequests]?: boolean } {
  if (options.fetch !== undefined && typeof options.fetch !== 'function') throw new CredentialError('INVALID_CONFIG', 'fetch must be a function');
  return {
    ...(options.fetch === undefined ? {} : { [oauth.customFetch]: options.fetch }),
    ...(options.allowInsecureRequests === true ? { [oauth.allowInsecureRequests]: true } : {}),
  };
}

/**
 * The granted-scope request parameter from `scopes` (one name and one shape across the library, as
 * `credentialKey` takes it): an array of strings, sent space-separated.
 */
export function scopeParameter(owner: string, scopes: unknown): string | undefined {
  if (scopes === undefined) return undefined;
  if (!Array.isArray(scopes) || !scopes.every((scope) => typeof scope === 'string' && scope.length > 0 && !/\s/.test(scope))) {
    throw new CredentialError('INVALID_CONFIG', `${owner}: scopes must be an array of non-empty strings without spaces, e.g. ['invoices:read']`);
  }
  return scopes.length === 0 ? undefined : scopes.join(' ');
}

/** A secret option as a {@link Secret}, or `INVALID_CONFIG` naming it. */
export function secretOption(owner: string, name: string, value: unknown): Secret {
  const secret = value instanceof Secret ? value : typeof value === 'string' ? new Secret(value) : null;
  if (secret === null || secret.reveal().length === 0) throw new CredentialError('INVALID_CONFIG', `${owner}: ${name} must be a non-empty string or Secret`);
  return secret;
}

/** The hint for callers who pass `scope`, the other libraries' name. */
export const SCOPE_REFUSED = { scope: "use scopes, an array of strings (e.g. scopes: ['invoices:read'])" } as const;

/** The non-secret facts of a token response, as a `MintedToken` carries them. */
export interface TokenFacts {
  tokenType?: string;
  scope?: string;
  refreshAfter?: number;
}

/**
 * The facts a token endpoint gave with its token: `token_type` (in its registered spelling:
 * `Bearer`, `DPoP`, `N_A`; oauth4webapi lower-cases it), the granted `scope`, and Entra ID's
 * `refresh_in` (seconds from when the request was sent; a number or a numeric string) as `refreshAfter`.
 * A malformed fact is left out rather than failing the mint: the token itself is good.
 *
 * @example
 * ```ts
 * tokenFacts({ token_type: 'bearer', scope: 'a b', refresh_in: 1800 }, 0); // { tokenType: 'Bearer', scope: 'a b', refreshAfter: 1_800_000 }
 * ```
 */
export function tokenFacts(response: { readonly [parameter: string]: unknown }, sentAt: number): TokenFacts {
  const facts: TokenFacts = {};
  const { token_type: tokenType, scope, refresh_in: refreshIn } = response;
  if (typeof tokenType === 'string' && tokenType.length > 0 && tokenType.length <= 64) facts.tokenType = REGISTERED_TOKEN_TYPES[tokenType.toLowerCase()] ?? tokenType;
  if (typeof scope === 'string' && scope.length > 0 && scope.length <= 4096) facts.scope = scope;
  const refreshInSeconds = typeof refreshIn === 'string' && /^\d+$/.test(refreshIn) ? Number(refreshIn) : refreshIn;
  if (typeof refreshInSeconds === 'number' && Number.isFinite(refreshInSeconds) && refreshInSeconds >= 0) facts.refreshAfter = sentAt + refreshInSeconds * 1000;
  return facts;
}

const REGISTERED_TOKEN_TYPES: Readonly<Record<string, string>> = { bearer: 'Bearer', dpop: 'DPoP', n_a: 'N_A', mac: 'MAC' };
