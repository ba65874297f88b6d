import { CredentialError } from '../../machines/credential-error.js';
import type { AuthToken } from '../../machines/credential.types.js';
import { describeShape } from '../describe-shape.js';
import type { TokenSource } from '../provider.js';
import { parseChallenges } from './bearer-challenge.js';
import { RequestNotReplayableError } from './request-not-replayable-error.js';

/** A `fetch` with the credential added: the same arguments and result as the platform's. */
export type AuthorizedFetch = (input: RequestInfo | URL, init?: RequestInit) => Promise<Response>;

/** Options of {@link authorizedFetch}. */
export interface AuthorizedFetchOptions {
  /** What sends the request, with `fetch`'s own arguments (default: the platform's `fetch`, read at each call). */
  readonly fetch?: (input: RequestInfo | URL, init: RequestInit) => Promise<Response>;
}

/** Where a request's token comes from: one source, or one chosen per request from its URL, method and headers (a pool's key: `pool.source(key)`). */
export type TokenSourceFor = TokenSource<string> | ((request: Request) => TokenSource<string>);

/** What the upstream's refusal asks for: a newer token, perhaps minted with a claims challenge. */
export type Refusal = { readonly claims?: string };

/**
 * A `fetch` that adds the credential from `source` to every request, in the scheme the token names
 * (`Authorization: Bearer ...`), and reads the upstream's refusal the way RFC 6750 writes it:
 *
 * - A 401 with `WWW-Authenticate: Bearer error="invalid_token"`, or a 401 with no Bearer error at
 *   all (most APIs send none), asks the source for a token newer than the refused one
 *   (`currentToken({ rejected })`: however many requests were refused with it, one mint replaces it)
 *   and sends the request once more. A second refusal is returned as it came: no request is sent
 *   more than twice.
 * - A 401 with `error="insufficient_claims"` and `claims` (Continuous Access Evaluation) does the
 *   same, the newer token minted with the decoded claims (`MintContext.claims`).
 * - Any other status, and a 401 with another error (`invalid_request`), is returned as it came.
 * - A request whose body is a stream cannot be sent twice: on a refusal its token is invalidated and
 *   the call rejects with {@link RequestNotReplayableError}, the refusal in its `response`.
 * - When the refused token is the newest and was refused within `invalidateMinIntervalMs` of the
 *   last refusal (`TOKEN_REFUSED`: the upstream refuses what the issuer mints), the refusal is
 *   returned, not retried.
 *
 * The request's `signal` (and so a timeout: `AbortSignal.timeout(ms)`) covers the whole exchange,
 * the wait for a token included. A source that cannot give a token (`BREAKER_OPEN`, `STOPPED`)
 * rejects the call, and nothing is sent. An `Authorization` header the caller set is replaced.
 *
 * @example
 * ```ts
 * const api = authorizedFetch(provider);
 * const response = await api('https://api.example/orders', { signal: AbortSignal.timeout(5_000) });
 * ```
 */
export function authorizedFetch(source: TokenSourceFor, options: AuthorizedFetchOptions = {}): AuthorizedFetch {
  const sourceIsFunction = typeof source === 'function';
  if (!sourceIsFunction && (typeof source !== 'object' || source === null || typeof source.currentToken !== 'function' || typeof source.invalidate !== 'function')) {
    throw new CredentialError(
      'INVALID_CONFIG',
      `authorizedFetch: source must be a provider (currentToken and invalidate), a pool's source(key), or a function of the request giving one, got ${describeShape(source)}`,
    );
  }
  const send = options.fetch;
  if (send !== undefined && typeof send !== 'function') throw new CredentialError('INVALID_CONFIG', `authorizedFetch: fetch must be a function, got ${describeShape(send)}`);
  return async (input, init = {}) => {
    const given = input instanceof Request ? input : null;
    // the function choosing the source sees the request's URL, method and headers, never its body (a stream is read once)
    const tokens = sourceIsFunction ? source(new Request(given?.url ?? input, { method: init.method ?? given?.method ?? 'GET', headers: init.headers ?? given?.headers ?? {} })) : source;
    const signal = init.signal ?? given?.signal ?? undefined;
    // a body read as it is sent (a stream the caller made) cannot be sent again; a Request's own body is kept by a clone
    const replayable = !isStreamBody(init);
    const transport = send ?? ((input: RequestInfo | URL, init: RequestInit) => fetch(input, init));
    const headersOf = (token: AuthToken<string>) => {
      const headers = new Headers(init.headers ?? given?.headers);
      headers.set('authorization', authorizationOf(token));
      return headers;
    };
    const token = await tokens.currentToken(signal === undefined ? undefined : { signal });
    const first = replayable && given !== null && given.body !== null && init.body === undefined ? given.clone() : input;
    const response = await transport(first, { ...init, headers: headersOf(token) });
    const refusal = refusalOf(response);
    if (refusal === null) return response;
    if (!replayable) {
      tokens.invalidate(token, refusal.claims === undefined ? undefined : { claims: refusal.claims });
      throw new RequestNotReplayableError(response, { method: init.method ?? given?.method ?? 'GET', url: given?.url ?? String(input) });
    }
    let newer: AuthToken<string>;
    try {
      newer = await tokens.currentToken({ ...(signal === undefined ? {} : { signal }), rejected: token, ...(refusal.claims === undefined ? {} : { claims: refusal.claims }) });
    } catch (error) {
      // the upstream refuses what the issuer mints: the refusal is the answer, not a loop of mints
      if (error instanceof CredentialError && error.code === 'TOKEN_REFUSED') return response;
      throw error;
    }
    await response.body?.cancel();
    return transport(input, { ...init, headers: headersOf(newer) });
  };
}

/** The `Authorization` header's value for `token`: its scheme and its secret. */
export function authorizationOf(token: AuthToken<string>): string {
  const secret: unknown = token.secret.reveal();
  if (typeof secret !== 'string') throw new CredentialError('INVALID_ARGUMENT', `a request needs a token whose secret is a string, got ${describeShape(secret)}`);
  return `${schemeOf(token)} ${secret}`;
}

/** `Bearer` for a bearer token (or one that names no type); a DPoP-bound token needs proofs this entry point does not make yet. */
export function schemeOf(token: AuthToken<string>): string {
  const type = token.tokenType;
  if (type === undefined || /^bearer$/i.test(type)) return 'Bearer';
  if (/^dpop$/i.test(type)) {
    throw new CredentialError('UNCONFIGURED', 'the token is DPoP-bound (token_type DPoP): credential-actor/fetch sends it only with a DPoP proof, which it does not make yet; nothing was sent');
  }
  return type;
}

/** What a 401 asks for, or `null` for a response that is no refusal of the token. */
function refusalOf(response: Response): Refusal | null {
  return refusalFrom(response.status, response.headers.get('www-authenticate'));
}

/**
 * What an answer of `status` with this `WWW-Authenticate` asks for (RFC 6750): a newer token (perhaps
 * minted with a claims challenge), or `null` when it is no refusal of the token.
 */
export function refusalFrom(status: number, wwwAuthenticate: string | null): Refusal | null {
  if (status !== 401) return null;
  const bearer = wwwAuthenticate === null ? undefined : parseChallenges(wwwAuthenticate).find((challenge) => challenge.scheme === 'bearer');
  const error = bearer?.params.error;
  if (error === undefined || error === 'invalid_token') return {};
  if (error === 'insufficient_claims') {
    const claims = decodeClaims(bearer?.params.claims);
    return claims === undefined ? {} : { claims };
  }
  return null;
}

/** The `claims` parameter, base64 (standard or URL-safe) as Entra ID and the CAE spec send it, decoded; `undefined` if it does not decode. */
function decodeClaims(encoded: string | undefined): string | undefined {
  if (encoded === undefined || encoded.length === 0) return undefined;
  try {
    const binary = atob(encoded.replace(/-/g, '+').replace(/_/g, '/'));
    const text = new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(binary, (char) => char.charCodeAt(0)));
    return text.length === 0 ? undefined : text;
  } catch {
    return undefined;
  }
}

/** The caller gave the body as a stream: a `ReadableStream`, or an async iterable (a Node `Readable`), read once as it is sent. */
function isStreamBody(init: RequestInit): boolean {
  const body: unknown = init.body;
  if (typeof body !== 'object' || body === null) return false;
  return (typeof ReadableStream !== 'undefined' && body instanceof ReadableStream) || typeof (body as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === 'function';
}
