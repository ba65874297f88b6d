import { CredentialError } from '../../machines/credential-error.js';

/**
 * The upstream refused the token a request carried, and the request cannot be sent again with a
 * newer one: its body was a stream, read as it was sent. The token was invalidated (the next request
 * gets a newer one); the refusal itself is `response`, unread. Code `REQUEST_NOT_REPLAYABLE`.
 *
 * @example
 * ```ts
 * try {
 *   await send(url, { method: 'PUT', body: stream, duplex: 'half' });
 * } catch (error) {
 *   if (error instanceof RequestNotReplayableError) await send(url, { method: 'PUT', body: reopen(), duplex: 'half' });
 * }
 * ```
 */
export class RequestNotReplayableError extends CredentialError {
  /** The upstream's refusal (a 401), its body unread. */
  readonly response: Response;

  /** @internal Raised by `authorizedFetch` only. */
  constructor(response: Response, method: string, url: string) {
    super(
      'REQUEST_NOT_REPLAYABLE',
      `the upstream refused the token (${response.status}) of ${method} ${url}, whose body is a stream and cannot be sent again: the token was invalidated, so send the request again with a new body`,
    );
    this.name = 'RequestNotReplayableError';
    this.response = response;
  }
}
