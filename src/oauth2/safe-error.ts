import * as oauth from 'oauth4webapi';
import { parseRetryAfter } from '../retry-after.js';
import { displayEndpoint, OAuthError, type OAuthStep } from './oauth-error.js';

/** The call that failed: which step, at which URL. */
export interface OAuthCall {
  readonly step: OAuthStep;
  readonly endpoint: URL;
}

const INSECURE_HINT = 'only https: URLs are used unless allowInsecureRequests: true is set (for local development and tests)';

/**
 * Whatever the OAuth client threw, as an {@link OAuthError} naming the step and the URL: an OAuth
 * error response keeps its `error`, `error_description`, status and `Retry-After`; a response that
 * is not OAuth says so with its status and content type; a transport failure keeps its cause. The
 * original is dropped because oauth4webapi's errors may hold the response, or the request.
 * An aborted attempt rejects with its signal's reason, as every mint does.
 */
export function toSafeError(error: unknown, signal: AbortSignal, nowMs: number, call: OAuthCall): unknown {
  if (signal.aborted) return signal.reason;
  const at = { step: call.step, endpoint: displayEndpoint(call.endpoint) };
  if (error instanceof oauth.ResponseBodyError) {
    return new OAuthError(error.error, { ...at, errorDescription: error.error_description, status: error.status, retryAfterMs: retryAfter(error.response, nowMs) });
  }
  if (error instanceof oauth.WWWAuthenticateChallengeError) {
    const challenge = error.cause[0];
    return new OAuthError(challenge?.parameters.error ?? 'invalid_client', {
      ...at,
      errorDescription: challenge?.parameters.error_description,
      status: error.status,
      retryAfterMs: retryAfter(error.response, nowMs),
    });
  }
  if (error instanceof oauth.OperationProcessingError) {
    if (error.code === oauth.HTTP_REQUEST_FORBIDDEN || error.code === oauth.REQUEST_PROTOCOL_FORBIDDEN) {
      return new OAuthError('insecure_url', { ...at, hint: INSECURE_HINT });
    }
    const response = error.cause instanceof Response ? error.cause : undefined;
    if (response !== undefined && !response.ok) {
      // e.g. a 404 page, a proxy's 503 or 429: an HTTP error that is not an OAuth error response
      const type = response.headers.get('content-type')?.split(';')[0]?.trim();
      return new OAuthError('http_status', {
        ...at,
        errorDescription: `the response is not an OAuth error${type === undefined || type === '' ? '' : ` (${type})`}`,
        status: response.status,
        retryAfterMs: retryAfter(response, nowMs),
        hint: response.status === 404 ? `is ${call.step === 'discovery' ? 'issuer' : 'tokenEndpoint'} the right URL?` : undefined,
      });
    }
    return new OAuthError('invalid_response', { ...at, errorDescription: error.message, status: response?.status });
  }
  if (error instanceof Error) {
    // e.g. fetch's TypeError('fetch failed') with an ECONNREFUSED cause: the cause is the real story
    const cause = error.cause ?? error;
    const code = (cause as { code?: unknown }).code;
    return new OAuthError('request_failed', {
      ...at,
      errorDescription: typeof code === 'string' ? `${error.message} (${code})` : error.message,
      cause: transportCause(cause),
    });
  }
  return error;
}

/**
 * The transport failure as a plain Error carrying its message, `code`, `syscall`, `address` and
 * `port` (a system error's own fields), and nothing the request held.
 */
function transportCause(cause: unknown): Error {
  const source = (typeof cause === 'object' && cause !== null ? cause : {}) as Record<string, unknown>;
  const plain = new Error(typeof source.message === 'string' ? source.message : String(cause));
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
