import * as oauth from 'oauth4webapi';
import { base64urlBytes } from '../base64url.js';
import { urlOption } from '../check-options.js';
import { CredentialError } from '../../machines/credential-error.js';
import { Secret } from '../../machines/secret.js';
import { describeShape } from '../describe-shape.js';

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
  if (url.username !== '' || url.password !== '') {
    // refused, and never echoed: the password would travel into every error and log that names the URL
    throw new CredentialError('INVALID_CONFIG', `${owner}: ${name} carries a user name or password (user:password@); give the client's credentials as clientId and clientSecret`);
  }
  if (url.protocol !== 'https:' && options.allowInsecureRequests !== true) {
    throw new CredentialError('INVALID_CONFIG', `${owner}: ${name} is an ${url.protocol} URL; only https: is used unless allowInsecureRequests: true is set (for local development and tests)`);
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

/** What an OAuth mint assumes of a token whose response gives no lifetime: a number of ms, or `'never'` (it never expires). */
export type DefaultLifetime = number | 'never';

/** `defaultLifetimeMs`, checked: a positive number of ms, or `'never'`. */
export function defaultLifetimeOption(owner: string, value: unknown): DefaultLifetime {
  if (value === undefined) return DEFAULT_LIFETIME_MS;
  if (value === 'never' || (typeof value === 'number' && value > 0 && value < Infinity)) return value;
  throw new CredentialError('INVALID_CONFIG', `${owner}: defaultLifetimeMs must be a positive number of ms, or 'never' (the token never expires), got ${describeShape(value)}`);
}

/** Five minutes: a token whose lifetime nobody stated is refreshed soon rather than served for ever. */
const DEFAULT_LIFETIME_MS = 300_000;

/**
 * When a token from a token response expires: the earlier of `expires_in` (counted from `sentAt`,
 * when the request was sent) and, when the access token is a JWT, its `exp` (issuers round `iat`
 * down, so `exp` can fall up to a second before `sentAt + expires_in`). An `exp` that is not after
 * `sentAt` says the clocks disagree, not that the token is dead, and is left out. With neither,
 * `defaultLifetime` from `sentAt` (or never, when it is `'never'`).
 *
 * @example
 * ```ts
 * tokenExpiry({ access_token: jwtExpiringAt(1_060), expires_in: 60 }, 1_000_400, 300_000); // 1_060_000
 * ```
 */
export function tokenExpiry(response: { readonly access_token: string; readonly expires_in?: unknown }, sentAt: number, defaultLifetime: DefaultLifetime): number | null {
  const fromExpiresIn = typeof response.expires_in === 'number' && Number.isFinite(response.expires_in) ? sentAt + response.expires_in * 1000 : null;
  const exp = jwtExpiry(response.access_token);
  const fromExp = exp !== null && exp > sentAt ? exp : null;
  if (fromExpiresIn !== null && fromExp !== null) return Math.min(fromExpiresIn, fromExp);
  if (fromExpiresIn !== null || fromExp !== null) return fromExpiresIn ?? fromExp;
  return defaultLifetime === 'never' ? null : sentAt + defaultLifetime;
}

/** A JWT's `exp`, in epoch ms; `null` when the token is not a JWT or has no numeric `exp`. Its signature is not checked: `exp` is a hint for when to refresh, never a reason to trust. */
function jwtExpiry(token: string): number | null {
  const parts = token.split('.');
  if (parts.length !== 3 || parts[1] === undefined || parts[1].length === 0 || parts[1].length > 8_192) return null;
  try {
    const payload = JSON.parse(new TextDecoder().decode(base64urlBytes(parts[1]))) as { exp?: unknown } | null;
    return typeof payload?.exp === 'number' && Number.isFinite(payload.exp) && payload.exp > 0 ? payload.exp * 1000 : null;
  } catch {
    return null;
  }
}

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
