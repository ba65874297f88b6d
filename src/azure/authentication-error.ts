import { CredentialError, type CredentialErrorCode } from '../../machines/credential-error.js';
import { readThrown } from '../../machines/thrown.js';
import { describeError } from '../inspection.js';

/**
 * What an Azure SDK client sees when the credential could not give a token: an error named
 * `AuthenticationError`, as `@azure/identity`'s credentials throw (so code written for them, and
 * their logs, read it the same way), carrying the issuer's `statusCode` and OAuth `errorResponse`
 * when the failure came from the issuer, and this library's own error as its redacted `cause`
 * (`BREAKER_OPEN` with `retryAfterMs`, `MINT_TIMEOUT`, an `OAuthError`). A `CredentialError`: its
 * `code` is the library's error's (`BREAKER_OPEN`, `OAUTH_ERROR`, ...), or `MINT_FAILED` when your
 * own mint threw.
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
export class AzureAuthenticationError extends CredentialError {
  /** The issuer's HTTP status, when the failure was an answer from it; `undefined` otherwise. */
  readonly statusCode: number | undefined;
  /**
   * What `@azure/identity` puts here: the OAuth error (`invalid_client`, ...), else this library's
   * code (`BREAKER_OPEN`, ...), else your error's own `code` or its name; and the failure's message.
   */
  readonly errorResponse: { readonly error: string; readonly errorDescription: string };
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
    const { code, error, errorDescription, statusCode, retryAfterMs } = detailsOf(failure);
    super(code, `the credential could not get a token: ${errorDescription}`, { cause: describeError(failure) });
    this.name = 'AuthenticationError';
    this.statusCode = statusCode;
    this.errorResponse = { error, errorDescription };
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
  override toJSON(): ReturnType<CredentialError['toJSON']> & { statusCode?: number; retryAfterMs?: number } {
    return {
      ...super.toJSON(),
      ...(this.statusCode === undefined ? {} : { statusCode: this.statusCode }),
      ...(this.retryAfterMs === undefined ? {} : { retryAfterMs: this.retryAfterMs }),
    };
  }
}

/** The fields of a failure an Azure client reads, from this library's errors (an `OAuthError`, a `CredentialError`) or any other, read defensively. */
function detailsOf(failure: unknown): { code: CredentialErrorCode; error: string; errorDescription: string; statusCode: number | undefined; retryAfterMs: number | undefined } {
  const facts = readThrown(failure);
  let oauthError: unknown;
  try {
    oauthError = (failure as { error?: unknown } | null)?.error;
  } catch {
    oauthError = undefined;
  }
  const code = facts.credentialError ? (facts.code as CredentialErrorCode) : 'MINT_FAILED';
  return {
    code,
    error: typeof oauthError === 'string' ? oauthError : (facts.code ?? facts.name),
    errorDescription: facts.message,
    statusCode: facts.status,
    retryAfterMs: facts.retryAfterMs ?? undefined,
  };
}
