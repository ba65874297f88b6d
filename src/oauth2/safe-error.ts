import * as oauth from 'oauth4webapi';
import { parseRetryAfter } from '../retry-after.js';
import { displayEndpoint, OAuthError, scrubUrls, type OAuthStep } from './oauth-error.js';

/** The call that failed: which step, at which URL. */
export interface OAuthCall {
  readonly step: OAuthStep;
  readonly endpoint: URL;
}

const INSECURE_HINT = 'only https: URLs are used unless allowInsecureRequests: true is set (for local development and tests)';

/**
 * Whatever the OAuth client threw, as an {@link OAuthError} naming the step and the URL: an OAuth
 * error response keeps its `error`, `error_description`, status and `Retry-After` (also a 401 that
 * carries a `WWW-Authenticate` challenge, and a 5xx whose body is an OAuth error); a response that
 * is not OAuth says so with its status and content type; a transport failure keeps its cause. The
 * original is dropped because oauth4webapi's errors may hold the response, or the request, and no
 * URL in a message keeps its user, password or query. An aborted attempt rejects with its signal's
 * reason, as every mint does.
 */
export async function toSafeError(error: unknown, signal: AbortSignal, nowMs: number, call: OAuthCall): Promise<unknown> {
  if (signal.aborted) return signal.reason;
  const at = { step: call.step, endpoint: displayEndpoint(call.endpoint) };
  if (error instanceof oauth.ResponseBodyError) {
    return new OAuthError(error.error, { ...at, errorDescription: error.error_description, status: error.status, retryAfterMs: retryAfter(error.response, nowMs) });
  }
  if (error instanceof oauth.WWWAuthenticateChallengeError) {
    // the challenge names the error; the body (unread by oauth4webapi) often says more
    const challenge = error.cause[0];
    const body = await oauthBody(error.response);
    return new OAuthError(body?.error ?? challenge?.parameters.error ?? 'invalid_client', {
      ...at,
      errorDescription: body?.error_description ?? challenge?.parameters.error_description,
      status: error.status,
      retryAfterMs: retryAfter(error.response, nowMs),
    });
  }
  if (error instanceof oauth.OperationProcessingError) {
    if (error.code === oauth.HTTP_REQUEST_FORBIDDEN || error.code === oauth.REQUEST_PROTOCOL_FORBIDDEN) {
      return new OAuthError('insecure_url', { ...at, hint: INSECURE_HINT });
    }
    if (error.code === oauth.JSON_ATTRIBUTE_COMPARISON && isIssuerMismatch(error.cause)) {
      const named = typeof error.cause.body.issuer === 'string' ? error.cause.body.issuer : String(error.cause.body.issuer);
      return new OAuthError('invalid_response', {
        ...at,
        errorDescription: `the metadata names the issuer ${scrubUrls(named)}, and issuer was given as ${scrubUrls(error.cause.expected)}`,
        hint: 'give issuer exactly as the issuer identifier its metadata names (a trailing slash counts)',
      });
    }
    const response = error.cause instanceof Response ? error.cause : undefined;
    if (response !== undefined && !response.ok) {
      const body = await oauthBody(response);
      if (body !== undefined) {
        // a 5xx (or any status oauth4webapi does not read) whose body is an OAuth error: the issuer's own words
        return new OAuthError(body.error, { ...at, errorDescription: body.error_description, status: response.status, retryAfterMs: retryAfter(response, nowMs) });
      }
      // e.g. a 404 page, a proxy's 503 or 429: an HTTP error that is not an OAuth error response
      const type = response.headers.get('content-type')?.split(';')[0]?.trim();
      return new OAuthError('http_status', {
        ...at,
        errorDescription: `the response is not an OAuth error${type === undefined || type === '' ? '' : ` (${type})`}`,
        status: response.status,
        retryAfterMs: retryAfter(response, nowMs),
        hint: response.status === 404 ? notFoundHint(call) : undefined,
      });
    }
    return new OAuthError('invalid_response', { ...at, errorDescription: scrubUrls(error.message), status: response?.status });
  }
  if (error instanceof Error) {
    // e.g. fetch's TypeError('fetch failed') with an ECONNREFUSED cause: the cause is the real story
    const cause = error.cause ?? error;
    const code = (cause as { code?: unknown }).code;
    const message = scrubUrls(error.message);
    return new OAuthError('request_failed', {
      ...at,
      errorDescription: typeof code === 'string' ? `${message} (${code})` : message,
      cause: transportCause(cause),
    });
  }
  return error;
}

/** What to check after a 404: the URL, and for an `issuer` that looks like a token endpoint, which option it belongs in. */
function notFoundHint(call: OAuthCall): string {
  if (call.step !== 'discovery') return 'is tokenEndpoint the right URL?';
  return /\/(oauth2?\/)?(v\d+(\.\d+)?\/)?token\/?$/i.test(call.endpoint.pathname)
    ? 'this issuer looks like a token endpoint: give it as tokenEndpoint (issuer is the identifier its metadata is discovered from)'
    : 'is issuer the right URL? (or give tokenEndpoint, and nothing is discovered)';
}

function isIssuerMismatch(cause: unknown): cause is { expected: string; body: { issuer: unknown }; attribute: 'issuer' } {
  const candidate = cause as { expected?: unknown; body?: unknown; attribute?: unknown } | null;
  return (
    typeof candidate === 'object' && candidate !== null && candidate.attribute === 'issuer' && typeof candidate.expected === 'string' && typeof candidate.body === 'object' && candidate.body !== null
  );
}

/** The response's body when it is an OAuth error (`{ error, error_description? }` as JSON), read from a clone; `undefined` otherwise. */
async function oauthBody(response: Response | undefined): Promise<{ error: string; error_description?: string } | undefined> {
  if (response === undefined || response.bodyUsed) return undefined;
  try {
    const body = (await response.clone().json()) as { error?: unknown; error_description?: unknown } | null;
    if (typeof body?.error !== 'string' || body.error.length === 0 || body.error.length > 200) return undefined;
    const description = typeof body.error_description === 'string' ? body.error_description.slice(0, 2_000) : undefined;
    return description === undefined ? { error: body.error } : { error: body.error, error_description: description };
  } catch {
    return undefined;
  }
}

/**
 * The transport failure as a plain Error carrying its message, `code`, `syscall`, `address` and
 * `port` (a system error's own fields), and nothing the request held.
 */
function transportCause(cause: unknown): Error {
  const source = (typeof cause === 'object' && cause !== null ? cause : {}) as Record<string, unknown>;
  const plain = new Error(scrubUrls(typeof source.message === 'string' ? source.message : String(cause)));
  plain.name = typeof source.name === 'string' ? source.name : 'Error';
  for (const field of ['code', 'syscall', 'address', 'port', 'errno'] as const) {
    if (typeof source[field] === 'string' || typeof source[field] === 'number') Object.assign(plain, { [field]: source[field] });
  }
  return plain;
}

/** The response's `Retry-After`, in ms from `nowMs`, when it has one. */
function retryAfter(response: Response | undefined, nowMs: number): number | undefined {
  return parseRetryAfter(response?.headers.get('retry-after'), nowMs) ?? undefined;
}
