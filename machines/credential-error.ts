/**
 * Why a credential operation failed. Every code names one cause:
 *
 * - `BREAKER_OPEN`: the token has expired and the mint circuit breaker is open; back off and retry.
 * - `UNCONFIGURED`: a required dependency is missing: the `mint`, or an optional peer dependency a
 *   function needs (`coverageSvg` and `@hpcc-js/wasm-graphviz`).
 * - `INVALID_CONFIG`: an option is out of range; the message names it.
 * - `INVALID_TOKEN`: the mint returned something that is not a usable token; it was not cached.
 * - `MINTED_TOKEN_ALREADY_EXPIRED`: the mint returned a token that had expired when it landed.
 * - `MINT_TIMEOUT`: the mint did not settle within `mintTimeoutMs` and was aborted.
 * - `STOPPED`: the provider was stopped.
 * - `INVALID_KEY`: a pool was asked for a key that is not a non-empty string.
 * - `INVALID_ARGUMENT`: a call's argument is not what it must be (a `signal` that is no
 *   `AbortSignal`); nothing was started.
 * - `SHARED_TOKEN_REJECTED`: a token shared by another process could not be opened (wrong key,
 *   tampered value); it counts as no shared token.
 * - `COORDINATION_UNAVAILABLE`: the store that shares tokens did not answer in time; the process
 *   mints alone until it does (an exclusive mint, a rotating refresh-token grant, does not run).
 * - `REFRESH_TOKEN_UNUSABLE`: the refresh token cannot be used again: the last grant's outcome is
 *   unknown (it may have been consumed) or there is none; the user must sign in again.
 * - `TOKEN_REFUSED`: `currentToken({ rejected })` of the newest token within
 *   `invalidateMinIntervalMs` of the last refusal: the upstream refuses what the issuer mints.
 * - `OAUTH_ERROR`: an OAuth issuer refused, failed or could not be reached (`OAuthError`: the
 *   issuer's `error`, `errorDescription`, `status` in fields of their own).
 * - `STS_ERROR`: AWS STS refused, failed or could not be reached (`StsError`: STS's own code in `stsCode`).
 * - `MINT_FAILED`: a cloud SDK asked for a token and your mint threw (the SDK needs an error of its
 *   own kind: `AzureAuthenticationError`); your error is its `cause`, reduced to name, message and code.
 * - `SCENARIO_MISMATCH`: in a test, `replayScenario` found the provider or your code doing other than a
 *   generated scenario says (`ScenarioMismatch`).
 * - `REQUEST_NOT_REPLAYABLE`: the upstream refused the token of a request made through
 *   `credential-actor/fetch` whose body was a stream, so it could not be sent again with a newer
 *   token (`RequestNotReplayableError`, with the refusal as `response`); the token was invalidated.
 */
export type CredentialErrorCode =
  | 'BREAKER_OPEN'
  | 'UNCONFIGURED'
  | 'INVALID_CONFIG'
  | 'INVALID_TOKEN'
  | 'MINTED_TOKEN_ALREADY_EXPIRED'
  | 'MINT_TIMEOUT'
  | 'STOPPED'
  | 'INVALID_KEY'
  | 'INVALID_ARGUMENT'
  | 'SHARED_TOKEN_REJECTED'
  | 'COORDINATION_UNAVAILABLE'
  | 'REFRESH_TOKEN_UNUSABLE'
  | 'TOKEN_REFUSED'
  | 'OAUTH_ERROR'
  | 'STS_ERROR'
  | 'MINT_FAILED'
  | 'SCENARIO_MISMATCH'
  | 'REQUEST_NOT_REPLAYABLE';

/**
 * The one error type the library raises itself. Errors thrown by your `mint` reach callers as they
 * were thrown, never wrapped. Messages name what is wrong and never contain a secret.
 *
 * @example
 * ```ts
 * try {
 *   await provider.currentToken();
 * } catch (error) {
 *   if (error instanceof CredentialError && error.code === 'BREAKER_OPEN') retryLater();
 * }
 * ```
 */
export class CredentialError extends Error {
  /** What went wrong; stable across versions, safe to switch on. */
  readonly code: CredentialErrorCode;

  /**
   * @param code the cause, see {@link CredentialErrorCode}.
   * @param message a human-readable explanation; never include a secret.
   * @example
   * ```ts
   * throw new CredentialError('INVALID_CONFIG', 'refreshAt must be within [0, 1], got 2');
   * ```
   */
  constructor(code: CredentialErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CredentialError';
    this.code = code;
  }

  /**
   * A plain summary for structured logs.
   *
   * @example
   * ```ts
   * JSON.stringify(new CredentialError('STOPPED', 'stopped')); // {"name":"CredentialError","code":"STOPPED",...}
   * ```
   */
  toJSON(): { name: string; code: CredentialErrorCode; message: string } {
    return { name: this.name, code: this.code, message: this.message };
  }
}

/**
 * Whether `error` is a {@link CredentialError}, optionally with a given code.
 *
 * @example
 * ```ts
 * if (isCredentialError(error, 'BREAKER_OPEN')) retryLater();
 * ```
 */
export function isCredentialError(error: unknown, code?: CredentialErrorCode): error is CredentialError {
  try {
    return error instanceof CredentialError && (code === undefined || error.code === code);
  } catch {
    return false; // a Proxy whose getPrototypeOf throws is nothing of ours
  }
}

/**
 * The `MINT_TIMEOUT` error, written once for every path that gives up on a slow mint (the
 * statechart's `mintTimeout`, a coordination's lease holder), naming the step the mint last said
 * it was at, if it said (`MintContext.step`).
 *
 * @example
 * ```ts
 * mintTimeoutError(30_000).message; // 'the mint did not settle within 30000 ms'
 * mintTimeoutError(30_000, 'the mint', 'token request to https://login.example/token').message;
 * // 'the mint did not settle within 30000 ms; it was at the token request to https://login.example/token'
 * ```
 */
export function mintTimeoutError(timeoutMs: number, what = 'the mint', step: string | null = null): CredentialError {
  return new CredentialError('MINT_TIMEOUT', `${what} did not settle within ${timeoutMs} ms${step === null ? '' : `; it was at the ${step}`}`);
}
