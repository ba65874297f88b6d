import { describeError } from '../inspection.js';

/**
 * What an Azure SDK client sees when the credential could not give a token: an error named
 * `AuthenticationError`, as `@azure/identity`'s credentials throw (so code written for them, and
 * their logs, read it the same way), carrying the issuer's `statusCode` and OAuth `errorResponse`
 * when the failure came from the issuer, and this library's own error as its redacted `cause`
 * (`BREAKER_OPEN` with `retryAfterMs`, `MINT_TIMEOUT`, an `OAuthError`).
 *
 * @example
 * ```ts
 * try {
 *   await blobClient.download();
 * } catch (error) {
 *   if (error instanceof AzureAuthenticationError && error.code === 'BREAKER_OPEN') return serveStale();
 *   throw error;
 * }
 * ```
 */
export class AzureAuthenticationError extends Error {
  /** The issuer's HTTP status, when the failure was an answer from it; `undefined` otherwise. */
  readonly statusCode: number | undefined;
  /** The OAuth error (`invalid_client`, ...) or this library's code (`BREAKER_OPEN`, ...), and its description. */
  readonly errorResponse: { readonly error: string; readonly errorDescription: string };
  /** This library's code for the failure (`BREAKER_OPEN`, `MINT_TIMEOUT`, ...), or the OAuth error code. */
  readonly code: string;
  /** How long until the credential may ask the issuer again (an open breaker, a `Retry-After`), in ms, when known. */
  readonly retryAfterMs: number | undefined;

  /**
   * @param failure what `currentToken()` rejected with; kept as the `cause`, reduced to name, message and code.
   * @example
   * ```ts
   * throw new AzureAuthenticationError(error);
   * ```
   */
  constructor(failure: unknown) {
    const { error, errorDescription, statusCode, retryAfterMs } = detailsOf(failure);
    super(`the credential could not get a token: ${errorDescription}`, { cause: describeError(failure) });
    this.name = 'AuthenticationError';
    this.statusCode = statusCode;
    this.errorResponse = { error, errorDescription };
    this.code = error;
    this.retryAfterMs = retryAfterMs;
  }

  /**
   * A plain summary for structured logs.
   *
   * @example
   * ```ts
   * JSON.stringify(error); // {"name":"AuthenticationError","code":"BREAKER_OPEN",...}
   * ```
   */
  toJSON(): { name: string; code: string; message: string; statusCode?: number; retryAfterMs?: number } {
    return {
      name: this.name,
      code: this.code,
      message: this.message,
      ...(this.statusCode === undefined ? {} : { statusCode: this.statusCode }),
      ...(this.retryAfterMs === undefined ? {} : { retryAfterMs: this.retryAfterMs }),
    };
  }
}

/** The fields of a failure an Azure client reads, from this library's errors (an `OAuthError`, a `CredentialError`) or any other. */
function detailsOf(failure: unknown): { error: string; errorDescription: string; statusCode: number | undefined; retryAfterMs: number | undefined } {
  const { error, code, status, retryAfterMs, message } = (typeof failure === 'object' && failure !== null ? failure : {}) as {
    error?: unknown;
    code?: unknown;
    status?: unknown;
    retryAfterMs?: unknown;
    message?: unknown;
  };
  return {
    error: typeof error === 'string' ? error : typeof code === 'string' ? code : 'unknown_error',
    errorDescription: typeof message === 'string' ? message : String(failure),
    statusCode: typeof status === 'number' ? status : undefined,
    retryAfterMs: typeof retryAfterMs === 'number' ? retryAfterMs : undefined,
  };
}
