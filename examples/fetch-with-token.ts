/**
 * Embedding example: a `fetch` that adds `Authorization: Bearer` from `currentToken()`, and on a 401
 * asks for a token newer than the refused one (`currentToken({ rejected })`: however many requests
 * were refused with it, one mint replaces it) and retries once. When no
 * token can be had it rejects with the provider's `CredentialError` (`BREAKER_OPEN`, ...) and sends
 * nothing. `fetchImpl` lets a test hand it a fake upstream (`credential-actor/testing`'s replay does).
 */
import type { AuthToken, TokenSource } from 'credential-actor';

export async function fetchWithToken(
  provider: Pick<TokenSource, 'currentToken'>,
  url: string,
  init: RequestInit = {},
  fetchImpl: (input: string, init?: RequestInit) => Promise<Response> = fetch,
): Promise<Response> {
  const send = async (rejected?: AuthToken) => {
    const signal = init.signal ?? undefined;
    const token = await provider.currentToken(rejected === undefined ? { signal } : { signal, rejected });
    const headers = new Headers(init.headers);
    headers.set('authorization', `Bearer ${token.secret.reveal()}`);
    return { token, response: await fetchImpl(url, { ...init, headers }) };
  };
  const first = await send();
  if (first.response.status !== 401) return first.response;
  await first.response.body?.cancel();
  return (await send(first.token)).response;
}
