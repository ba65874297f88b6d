/**
 * An OAuth 2.0 error response from a token endpoint (RFC 6749 section 5.2), or a token endpoint
 * that could not be reached. Keeps the standard `error` and `error_description` and the HTTP status;
 * never the request, the response object or any credential.
 *
 * @example
 * ```ts
 * provider.on('refresh.failed', ({ error }) => {
 *   if (error instanceof OAuthError && error.error === 'invalid_client') alertOps();
 * });
 * ```
 */
export class OAuthError extends Error {
  /** The `error` code of the response, e.g. `invalid_client`; `request_failed` when there was no OAuth response. */
  readonly error: string;
  /** The response's `error_description`, if it had one. */
  readonly errorDescription: string | undefined;
  /** The HTTP status, if a response came back. */
  readonly status: number | undefined;
  /** How long the issuer asked us to wait (its `Retry-After` header), in ms; `undefined` when it did not say. */
  readonly retryAfterMs: number | undefined;

  /**
   * @param error the OAuth `error` code.
   * @param details `errorDescription` and `status`, when known.
   * @example
   * ```ts
   * new OAuthError('invalid_client', { errorDescription: 'client authentication failed', status: 401 });
   * ```
   */
  constructor(
    error: string,
    details: { errorDescription?: string | undefined; status?: number | undefined; retryAfterMs?: number | undefined } = {},
  ) {
    const description = details.errorDescription === undefined ? '' : `: ${details.errorDescription}`;
    const status = details.status === undefined ? '' : ` (HTTP ${details.status})`;
    super(`token endpoint error ${error}${description}${status}`);
    this.name = 'OAuthError';
    this.error = error;
    this.errorDescription = details.errorDescription;
    this.status = details.status;
    this.retryAfterMs = details.retryAfterMs;
  }

  /**
   * A plain summary for structured logs.
   *
   * @example
   * ```ts
   * JSON.stringify(new OAuthError('invalid_scope')); // {"name":"OAuthError","error":"invalid_scope",...}
   * ```
   */
  toJSON(): { name: string; error: string; error_description?: string; status?: number; retryAfterMs?: number } {
    return {
      name: this.name,
      error: this.error,
      ...(this.errorDescription === undefined ? {} : { error_description: this.errorDescription }),
      ...(this.status === undefined ? {} : { status: this.status }),
      ...(this.retryAfterMs === undefined ? {} : { retryAfterMs: this.retryAfterMs }),
    };
  }
}
