import { CredentialError } from '../../machines/credential-error.js';
import { displayEndpoint } from '../display-endpoint.js';

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
export class RequestNotReplayableError<R extends { readonly status: number } = Response> extends CredentialError {
  /** The upstream's refusal (a 401), its body unread: a `Response` from `authorizedFetch`, an axios response from `authorizeAxios`. */
  readonly response: R;

  /**
   * @param response the upstream's refusal.
   * @param request what was refused: its method and URL are named (the URL without its query, user
   *   or fragment, any of which can hold a credential).
   * @example
   * ```ts
   * throw new RequestNotReplayableError(response, request);
   * ```
   */
  constructor(response: R, request: { readonly method: string; readonly url: string }) {
    super(
      'REQUEST_NOT_REPLAYABLE',
      `the upstream refused the token (${response.status}) of ${request.method.toUpperCase()} ${shownUrl(request.url)}, whose body is a stream and cannot be sent again: the token was invalidated, so send the request again with a new body`,
    );
    this.name = 'RequestNotReplayableError';
    this.response = response;
  }
}

/** The URL without what can hold a credential; a URL that does not parse (a relative one) is not shown. */
function shownUrl(url: string): string {
  try {
    return displayEndpoint(new URL(url));
  } catch {
    return '(a relative URL)';
  }
}
