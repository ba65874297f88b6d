/**
 * Embedding example: a `fetch` that adds `Authorization: Bearer` from `currentToken()`, and on a 401
 * invalidates that token (once per token, rate-limited by the provider) and retries once. When no
 * token can be had it rejects with the provider's `CredentialError` (`BREAKER_OPEN`, ...) and sends
 * nothing. `fetchImpl` lets a test hand it a fake upstream (`credential-actor/testing`'s replay does).
 */
import type { CredentialProvider } from 'credential-actor';

export async function fetchWithToken(
  provider: Pick<CredentialProvider, 'currentToken' | 'invalidate'>,
  url: string,
  init: RequestInit = {},
  fetchImpl: (input: string, init?: RequestInit) => Promise<Response> = fetch,
): Promise<Response> {
  const send = async () => {
    const token = await provider.currentToken({ signal: init.signal ?? undefined });
    const headers = new Headers(init.headers);
    headers.set('authorization', `Bearer ${token.secret.reveal()}`);
    return { token, response: await fetchImpl(url, { ...init, headers }) };
  };
  const first = await send();
  if (first.response.status !== 401 || !provider.invalidate(first.token)) return first.response;
  await first.response.body?.cancel();
  return (await send()).response;
}
