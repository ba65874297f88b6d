/**
 * A URL as an error may show it: no user, password, query or fragment (any of which can hold a
 * credential).
 *
 * @example
 * ```ts
 * displayEndpoint(new URL('https://user:pw@login.example/token?key=1')); // 'https://login.example/token'
 * ```
 */
export function displayEndpoint(url: URL): string {
  return `${url.origin}${url.pathname}`;
}
