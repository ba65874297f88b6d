import { CredentialError } from '../../machines/credential-error.js';
import { displayEndpoint } from '../display-endpoint.js';

export { displayEndpoint };

/**
 * Which step of talking to the issuer failed: reading its metadata (`issuer` given, the token
 * endpoint discovered from `/.well-known/...`) or the token request itself.
 */
export type OAuthStep = 'discovery' | 'token request';

/** What an {@link OAuthError} knows beyond its code: each field only when known. */
export interface OAuthErrorDetails {
  /** The response's `error_description`. */
  errorDescription?: string | undefined;
  /** The HTTP status of the response. */
  status?: number | undefined;
  /** The issuer's `Retry-After`, in ms. */
  retryAfterMs?: number | undefined;
  /** The step that failed (default `'token request'`). */
  step?: OAuthStep | undefined;
  /** The URL asked, without credentials, query or fragment. */
  endpoint?: string | undefined;
  /** What to change, when the fix is on our side (e.g. `allowInsecureRequests`). */
  hint?: string | undefined;
  /** The transport failure underneath (e.g. a connection refused), never a request or a response. */
  cause?: unknown;
}

/**
 * `OAUTH_ERROR`: a token endpoint (or its discovery document) answered with an error, answered with
 * something that is not OAuth, or could not be reached. A `CredentialError` like every error the
 * library makes; the issuer's own detail is in fields of its own (`error`, `errorDescription`,
 * `status`, `retryAfterMs`). Its message names the step and the URL (never a
 * credential) and, when the fix is on our side, the option to change; `cause` keeps the transport
 * failure. It never holds the request, the response object or any credential.
 *
 * `error` is the OAuth `error` code when the issuer sent one (RFC 6749 section 5.2: `invalid_client`,
 * `invalid_grant`, ...). When it did not, `error` says what happened instead, in codes no issuer
 * sends: `http_status` (an HTTP error with no OAuth body: a 404 page, a proxy's 503; see `status`),
 * `request_failed` (no response at all; see `cause`), `invalid_response` (a success that is not a
 * token response or metadata document), `insecure_url` (an `http:` URL without
 * `allowInsecureRequests`).
 *
 * @example
 * ```ts
 * provider.on('refresh.failed', ({ error }) => {
 *   if (error instanceof OAuthError && error.error === 'invalid_client') alertOps();
 * });
 * ```
 */
export class OAuthError extends CredentialError {
  /** The OAuth `error` code of the response, or one of `http_status`, `request_failed`, `invalid_response`, `insecure_url` when there was none. */
  readonly error: string;
  /** The response's `error_description`, if it had one. */
  readonly errorDescription: string | undefined;
  /** The HTTP status, if a response came back. */
  readonly status: number | undefined;
  /** How long the issuer asked us to wait (its `Retry-After` header), in ms; `undefined` when it did not say. */
  readonly retryAfterMs: number | undefined;
  /** The step that failed. */
  readonly step: OAuthStep;
  /** The URL asked (no credentials, query or fragment), when known. */
  readonly endpoint: string | undefined;

  /**
   * @param error the OAuth `error` code, or one of the codes above.
   * @param details what else is known.
   * @example
   * ```ts
   * new OAuthError('invalid_client', { errorDescription: 'client authentication failed', status: 401 });
   * ```
   */
  constructor(error: string, details: OAuthErrorDetails = {}) {
    const step = details.step ?? 'token request';
    const where = details.endpoint === undefined ? step : `${step} to ${details.endpoint}`;
    const description = details.errorDescription === undefined ? '' : `: ${details.errorDescription}`;
    const status = details.status === undefined ? '' : ` (HTTP ${details.status})`;
    const hint = details.hint === undefined ? '' : `; ${details.hint}`;
    super('OAUTH_ERROR', `${where} failed: ${error}${description}${status}${hint}`, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'OAuthError';
    this.error = error;
    this.errorDescription = details.errorDescription;
    this.status = details.status;
    this.retryAfterMs = details.retryAfterMs;
    this.step = step;
    this.endpoint = details.endpoint;
  }

  /**
   * A plain summary for structured logs.
   *
   * @example
   * ```ts
   * JSON.stringify(new OAuthError('invalid_scope')); // {"name":"OAuthError","code":"OAUTH_ERROR","message":"token request failed: invalid_scope","error":"invalid_scope","step":"token request"}
   * ```
   */
  override toJSON(): ReturnType<CredentialError['toJSON']> & { error: string; error_description?: string; status?: number; retryAfterMs?: number; step: OAuthStep; endpoint?: string } {
    return {
      ...super.toJSON(),
      error: this.error,
      ...(this.errorDescription === undefined ? {} : { error_description: this.errorDescription }),
      ...(this.status === undefined ? {} : { status: this.status }),
      ...(this.retryAfterMs === undefined ? {} : { retryAfterMs: this.retryAfterMs }),
      step: this.step,
      ...(this.endpoint === undefined ? {} : { endpoint: this.endpoint }),
    };
  }
}

/**
 * `text` with every URL in it shown as {@link displayEndpoint} shows one: a transport's message
 * (`Request cannot be constructed from a URL that includes credentials: https://svc:PW@...?api_key=K`)
 * must not carry the password or the query into an error.
 *
 * @example
 * ```ts
 * scrubUrls('failed: https://u:pw@host/token?k=1'); // 'failed: https://host/token'
 * ```
 */
export function scrubUrls(text: string): string {
  return text.replace(/\b[a-z][a-z0-9+.-]*:\/\/[^\s'"<>]+/gi, (match) => {
    try {
      return displayEndpoint(new URL(match));
    } catch {
      return '<url>';
    }
  });
}
