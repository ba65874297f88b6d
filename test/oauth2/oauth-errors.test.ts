import { createServer } from 'node:net';
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { createCredentialProvider, CredentialError } from '../../src/index.js';
import { clientCredentialsMint, OAuthError } from '../../src/oauth2/index.js';
import { ManualClock } from '../../src/testing/index.js';
import { flush } from '../helpers.js';

const CLIENT_SECRET = 'client-secret-3f9a-never-in-an-error';
const base = { tokenEndpoint: 'https://login.example/oauth2/token', clientId: 'billing', clientSecret: CLIENT_SECRET };
const signal = () => new AbortController().signal;
// what a URL carries that an error must not repeat: values no path of a checkout can hold by chance
// (a stack trace names the files; a temporary directory's random name once held "PW")
const URL_USER = 'url-user-5d1c';
const URL_PASSWORD = 'url-password-8e2f';
const URL_KEY = 'url-query-key-b7a4';
const CREDENTIALED_URL = `https://${URL_USER}:${URL_PASSWORD}@login.example/token?api_key=${URL_KEY}`;
const FROM_THE_URL = new RegExp(`${URL_USER}|${URL_PASSWORD}|${URL_KEY}|api_key`);

describe('OAuth errors a caller can act on', () => {
  const fetchAnswering = (response: () => Response) => (async () => response()) as typeof fetch;

  it('a 404 page at the token path names the step, the URL (no credentials) and asks whether the URL is right', async () => {
    const mint = clientCredentialsMint({
      ...base,
      tokenEndpoint: `https://login.example/wrong/path?api-key=${URL_KEY}`,
      fetch: fetchAnswering(() => new Response('<html>Not Found</html>', { status: 404, headers: { 'content-type': 'text/html; charset=utf-8' } })),
    });
    const error = (await mint({ signal: signal() }).catch((caught: unknown) => caught)) as OAuthError;
    expect(error).toBeInstanceOf(OAuthError);
    expect(error.error).toBe('http_status');
    expect(error.status).toBe(404);
    expect(error.step).toBe('token request');
    expect(error.endpoint).toBe('https://login.example/wrong/path');
    expect(error.message).toBe('token request to https://login.example/wrong/path failed: http_status: the response is not an OAuth error (text/html) (HTTP 404); is tokenEndpoint the right URL?');
    expect(`${error.message} ${JSON.stringify(error)} ${inspect(error)}`).not.toMatch(new RegExp(`${URL_KEY}|server_error|content-type must be`));
  });

  it('a token endpoint or issuer with user:password@ is refused at construction, without echoing it (issue 26)', () => {
    for (const option of ['tokenEndpoint', 'issuer'] as const) {
      let error: unknown;
      try {
        clientCredentialsMint({ ...base, tokenEndpoint: undefined, [option]: CREDENTIALED_URL });
      } catch (caught) {
        error = caught;
      }
      expect(error).toMatchObject({ code: 'INVALID_CONFIG', message: expect.stringContaining(`${option} carries a user name or password`) });
      expect((error as Error).message).not.toMatch(FROM_THE_URL);
    }
  });

  it('a transport error that quotes the URL does not carry its password or query into the error (issue 26)', async () => {
    const mint = clientCredentialsMint({
      ...base,
      tokenEndpoint: `https://login.example/token?api_key=${URL_KEY}`,
      fetch: async () => {
        throw new TypeError(`Request cannot be constructed from a URL that includes credentials: ${CREDENTIALED_URL}`);
      },
    });
    const error = (await mint({ signal: signal() }).catch((caught: unknown) => caught)) as OAuthError;
    expect(error).toMatchObject({ code: 'OAUTH_ERROR', error: 'request_failed' });
    expect(error.message).toContain('https://login.example/token');
    expect(`${error.message} ${JSON.stringify(error)} ${inspect(error)} ${inspect(error.cause)}`).not.toMatch(FROM_THE_URL);
  });

  it('a 401 with a WWW-Authenticate challenge keeps the body’s error_description; a 5xx with an OAuth body keeps the issuer’s words (issue 26)', async () => {
    const challenged = clientCredentialsMint({
      ...base,
      fetch: fetchAnswering(
        () =>
          new Response(JSON.stringify({ error: 'invalid_client', error_description: 'client secret expired on 2026-11-30' }), {
            status: 401,
            headers: { 'content-type': 'application/json', 'www-authenticate': 'Basic realm="token"' },
          }),
      ),
    });
    const refused = (await challenged({ signal: signal() }).catch((caught: unknown) => caught)) as OAuthError;
    expect(refused).toMatchObject({ error: 'invalid_client', errorDescription: 'client secret expired on 2026-11-30', status: 401 });
    const failing = clientCredentialsMint({
      ...base,
      fetch: fetchAnswering(
        () => new Response(JSON.stringify({ error: 'temporarily_unavailable', error_description: 'database failover' }), { status: 503, headers: { 'content-type': 'application/json' } }),
      ),
    });
    const down = (await failing({ signal: signal() }).catch((caught: unknown) => caught)) as OAuthError;
    expect(down).toMatchObject({ error: 'temporarily_unavailable', errorDescription: 'database failover', status: 503 });
    expect(down.message).not.toContain('not an OAuth error');
  });

  it('an issuer mismatch at discovery shows both values; a token endpoint given as issuer is named as one (issue 26)', async () => {
    const mismatched = clientCredentialsMint({
      ...base,
      tokenEndpoint: undefined,
      issuer: 'https://login.example/tenant-1',
      fetch: fetchAnswering(() => Response.json({ issuer: 'https://login.example/tenant-1/', token_endpoint: 'https://login.example/tenant-1/token' })),
    });
    const mismatch = (await mismatched({ signal: signal() }).catch((caught: unknown) => caught)) as OAuthError;
    expect(mismatch.message).toContain('the metadata names the issuer https://login.example/tenant-1/, and issuer was given as https://login.example/tenant-1');
    const asIssuer = clientCredentialsMint({
      ...base,
      tokenEndpoint: undefined,
      issuer: 'https://login.example/oauth2/v2.0/token',
      fetch: fetchAnswering(() => new Response('nope', { status: 404 })),
    });
    const notFound = (await asIssuer({ signal: signal() }).catch((caught: unknown) => caught)) as OAuthError;
    expect(notFound.message).toContain('give it as tokenEndpoint');
  });

  it('MINT_TIMEOUT names the step and the endpoint the mint was at: discovery, then the token request (issue 26)', async () => {
    const hangingAt = (hangs: (url: string) => boolean) =>
      (async (input: RequestInfo | URL, init?: RequestInit) => {
        const url = input instanceof Request ? input.url : String(input);
        if (!hangs(url)) return Response.json({ issuer: 'https://login.example', token_endpoint: 'https://login.example/oauth/token' });
        return new Promise<Response>((_, reject) => init?.signal?.addEventListener('abort', () => reject(init.signal!.reason)));
      }) as typeof fetch;
    const timeoutOf = async (hanging: typeof fetch): Promise<CredentialError> => {
      const clock = new ManualClock(0);
      const mint = clientCredentialsMint({ ...base, tokenEndpoint: undefined, issuer: 'https://login.example', fetch: hanging });
      const provider = await createCredentialProvider({ mint, clock, firstMint: 'lazy', mintTimeoutMs: 5_000 });
      const pending = provider.currentToken().then(
        () => new CredentialError('INVALID_TOKEN', 'expected MINT_TIMEOUT, got a token'),
        (caught: unknown) => caught as CredentialError,
      );
      await flush();
      await clock.advanceAsync(5_000);
      const error = await pending;
      await provider.stop();
      return error;
    };
    const atDiscovery = await timeoutOf(hangingAt((url) => url.includes('.well-known')));
    expect(atDiscovery.code).toBe('MINT_TIMEOUT');
    expect(atDiscovery.message).toBe('the mint did not settle within 5000 ms; it was at the discovery request to https://login.example/');
    const atToken = await timeoutOf(hangingAt((url) => url.endsWith('/oauth/token')));
    expect(atToken.message).toBe('the mint did not settle within 5000 ms; it was at the token request to https://login.example/oauth/token');
  });

  it('a 503 with Retry-After and no OAuth body keeps the status and the wait', async () => {
    const mint = clientCredentialsMint({ ...base, fetch: fetchAnswering(() => new Response('busy', { status: 503, headers: { 'retry-after': '7' } })) });
    const error = (await mint({ signal: signal() }).catch((caught: unknown) => caught)) as OAuthError;
    expect(error).toMatchObject({ error: 'http_status', status: 503, retryAfterMs: 7_000 });
  });

  it('an OAuth error response keeps its code and description, and never the client secret', async () => {
    const mint = clientCredentialsMint({
      ...base,
      fetch: fetchAnswering(() => Response.json({ error: 'invalid_client', error_description: 'bad secret' }, { status: 400 })),
    });
    const error = (await mint({ signal: signal() }).catch((caught: unknown) => caught)) as OAuthError;
    expect(error.message).toBe('token request to https://login.example/oauth2/token failed: invalid_client: bad secret (HTTP 400)');
    expect(`${error.message} ${JSON.stringify(error)} ${inspect(error, { depth: 5 })}`).not.toContain(CLIENT_SECRET);
  });

  it('a refused connection keeps its transport cause (code, address, port)', async () => {
    const port = await closedPort();
    const mint = clientCredentialsMint({ ...base, tokenEndpoint: `http://127.0.0.1:${port}/token`, allowInsecureRequests: true });
    const error = (await mint({ signal: signal() }).catch((caught: unknown) => caught)) as OAuthError;
    expect(error.error).toBe('request_failed');
    expect(error.message).toMatch(new RegExp(`^token request to http://127.0.0.1:${port}/token failed: request_failed: fetch failed \\(ECONNREFUSED\\)$`));
    expect(error.cause).toMatchObject({ code: 'ECONNREFUSED', address: '127.0.0.1', port });
    expect(inspect(error, { depth: 5 })).not.toContain(CLIENT_SECRET);
  });

  it('a failed discovery is reported as discovery, at the metadata URL', async () => {
    const mint = clientCredentialsMint({
      ...base,
      tokenEndpoint: undefined,
      issuer: 'https://login.example/tenant-1',
      fetch: fetchAnswering(() => new Response('nope', { status: 404 })),
    });
    const error = (await mint({ signal: signal() }).catch((caught: unknown) => caught)) as OAuthError;
    expect(error).toMatchObject({ error: 'http_status', status: 404, step: 'discovery' });
    expect(error.message).toMatch(/^discovery to https:\/\/login\.example\/tenant-1 failed: .*is issuer the right URL\?/);
  });

  it('a discovered http: token endpoint hints allowInsecureRequests', async () => {
    const metadata = { issuer: 'https://login.example', token_endpoint: 'http://login.example/token' };
    const mint = clientCredentialsMint({ ...base, tokenEndpoint: undefined, issuer: 'https://login.example', fetch: fetchAnswering(() => Response.json(metadata)) });
    const error = (await mint({ signal: signal() }).catch((caught: unknown) => caught)) as OAuthError;
    expect(error).toMatchObject({ error: 'insecure_url', step: 'token request' });
    expect(error.message).toMatch(/allowInsecureRequests: true/);
  });
});

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
