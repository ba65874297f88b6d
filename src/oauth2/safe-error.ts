import * as oauth from 'oauth4webapi';
import { parseRetryAfter } from '../retry-after.js';
import { OAuthError } from './oauth-error.js';

/**
 * An OAuth error response keeps its `error`, `error_description` and status; everything else that
 * went wrong is re-thrown as it was, except oauth4webapi's own errors, which may hold the response.
 */
export function toSafeError(error: unknown, signal: AbortSignal, nowMs: number): unknown {
  if (signal.aborted) return signal.reason;
  if (error instanceof oauth.ResponseBodyError) {
    return new OAuthError(error.error, { errorDescription: error.error_description, status: error.status, retryAfterMs: retryAfter(error.response, nowMs) });
  }
  if (error instanceof oauth.WWWAuthenticateChallengeError) {
    const challenge = error.cause[0];
    return new OAuthError(challenge?.parameters.error ?? 'invalid_client', {
      errorDescription: challenge?.parameters.error_description,
      status: error.status,
      retryAfterMs: retryAfter(error.response, nowMs),
    });
  }
  if (error instanceof oauth.OperationProcessingError) {
    // e.g. a 503 or 429 with no OAuth body: the response is the error's cause
    const response = error.cause instanceof Response ? error.cause : undefined;
    return new OAuthError(response === undefined ? 'invalid_response' : response.status === 429 ? 'rate_limited' : 'server_error', {
      errorDescription: error.message,
      status: response?.status,
      retryAfterMs: retryAfter(response, nowMs),
    });
  }
  if (error instanceof Error) {
    // e.g. fetch's TypeError('fetch failed') with an ECONNREFUSED cause: keep the code, drop the rest
    const code = (error.cause as { code?: unknown } | undefined)?.code;
    return new OAuthError('request_failed', { errorDescription: typeof code === 'string' ? `${error.message} (${code})` : error.message });
  }
  return error;
}

/** The response's `Retry-After`, in ms from `nowMs`, when it has one. */
function retryAfter(response: Response | undefined, nowMs: number): number | undefined {
  return parseRetryAfter(response?.headers.get('retry-after'), nowMs) ?? undefined;
}
