import { createServer } from 'node:net';
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { BreakerOpenError, createCredentialPool, createCredentialProvider, CredentialError } from '../../src/index.js';
import { clientCredentialsMint, OAuthError, refreshTokenMint } from '../../src/oauth2/index.js';
import { otelReporters } from '../../src/otel/index.js';
import { credentialScenarios, replayScenario } from '../../src/testing/index.js';
import { renderTimeline } from '../../src/timeline/index.js';
import { credentialKey, FleetBreakerOpenError, redisCoordination } from '../../src/redis/index.js';
import { ManualClock } from '../../src/testing/index.js';
import { Secret } from '../../machines/secret.js';
import { flush } from '../helpers.js';

const CLIENT_SECRET = 'client-secret-3f9a-never-in-an-error';
const base = { tokenEndpoint: 'https://login.example/oauth2/token', clientId: 'billing', clientSecret: CLIENT_SECRET };
const signal = () => new AbortController().signal;
const invalidConfig = (pattern: RegExp) => expect.objectContaining({ code: 'INVALID_CONFIG', message: expect.stringMatching(pattern) });

/** Every public options object is checked by the one helper: a typo fails at construction with a hint. */
describe('one way to pass options', () => {
  it.each([
    ['clientCredentialsMint', () => clientCredentialsMint({ ...base, scopes: ['a'], audiance: 'x' } as never), /^clientCredentialsMint: unknown option audiance; did you mean audience\?$/],
    ['refreshTokenMint', () => refreshTokenMint({ ...base, refreshToken: 'r', clientSecrt: 'x' } as never), /^refreshTokenMint: unknown option clientSecrt; did you mean clientSecret\?$/],
    ['credentialKey', () => credentialKey({ issuer: 'i', clientId: 'c', tennant: 't' } as never), /^credentialKey: unknown option tennant; did you mean tenant\?$/],
    [
      'redisCoordination',
      () => redisCoordination({ client: {}, subscriber: {}, encryptionKey: { id: 'k', key: Buffer.alloc(32) }, leasMs: 1 } as never),
      /^redisCoordination: unknown option leasMs; did you mean leaseMs\?$/,
    ],
    ['otelReporters', () => otelReporters({} as never, { nmae: 'x' } as never), /^otelReporters: unknown option nmae; did you mean name\?$/],
    [
      'renderTimeline',
      () => renderTimeline({ startedAt: 0, endedAt: 1, tokens: [], mints: [], requests: [], breaker: [] } as never, { widht: 800 } as never),
      /^renderTimeline: unknown option widht; did you mean width\?$/,
    ],
    [
      'createCredentialPool',
      () => createCredentialPool({ mint: async () => ({ secret: 'x', expiresAt: null }), maxKey: 3 } as never),
      /^createCredentialPool: unknown option maxKey; did you mean maxKeys\?$/,
    ],
  ])('%s refuses an unknown option, naming the closest', (_owner, construct, message) => {
    expect(construct).toThrow(CredentialError);
    expect(construct).toThrowError(message);
  });

  it('replayScenario refuses an unknown option, naming the closest', async () => {
    const [scenario] = credentialScenarios({ refresh: 'on-demand' });
    await expect(replayScenario(scenario!, { onReqest: () => {} } as never)).rejects.toThrow(/^replayScenario: unknown option onReqest; did you mean onRequest\?$/);
  });

  it('createCredentialProvider refuses an unknown option before it mints', async () => {
    let mints = 0;
    const mint = async () => ({ secret: `t${++mints}`, expiresAt: null });
    await expect(createCredentialProvider({ mint, firstMnt: 'lazy' } as never)).rejects.toEqual(invalidConfig(/^createCredentialProvider: unknown option firstMnt; did you mean firstMint\?$/));
    expect(mints).toBe(0);
  });

  it('scopes is one name and one shape: an array everywhere; scope is refused with a hint', () => {
    expect(() => clientCredentialsMint({ ...base, scope: 'a b' } as never)).toThrowError(/clientCredentialsMint: option scope is not taken; use scopes, an array of strings/);
    expect(() => refreshTokenMint({ ...base, refreshToken: 'r', scope: 'a' } as never)).toThrowError(/refreshTokenMint: option scope is not taken; use scopes/);
    expect(() => credentialKey({ issuer: 'i', clientId: 'c', scope: 'a' } as never)).toThrowError(/credentialKey: option scope is not taken; use scopes/);
    expect(() => clientCredentialsMint({ ...base, scopes: 'a b' } as never)).toThrowError(/scopes must be an array of non-empty strings/);
    expect(() => clientCredentialsMint({ ...base, scopes: ['a b'] })).toThrowError(/without spaces/);
  });

  it('sends scopes space-separated as the scope parameter', async () => {
    const bodies: string[] = [];
    const fetch = (async (_url: string | URL | Request, init?: RequestInit) => {
      bodies.push(String(init?.body));
      return Response.json({ access_token: 'at', token_type: 'Bearer', expires_in: 60 });
    }) as typeof globalThis.fetch;
    await clientCredentialsMint({ ...base, scopes: ['invoices:read', 'invoices:write'], fetch })({ signal: signal() });
    expect(new URLSearchParams(bodies[0]).get('scope')).toBe('invoices:read invoices:write');
  });

  it('a tokenEndpoint that is not a URL is INVALID_CONFIG naming the option, without echoing the value', () => {
    const construct = () => clientCredentialsMint({ ...base, tokenEndpoint: 'login.example/token?key=hunter2' });
    expect(construct).toThrow(CredentialError);
    expect(construct).toThrowError(/^clientCredentialsMint: tokenEndpoint must be an absolute URL/);
    expect(construct).not.toThrowError(/hunter2/);
    expect(() => refreshTokenMint({ ...base, tokenEndpoint: 42 as never, refreshToken: 'r' })).toThrowError(/refreshTokenMint: tokenEndpoint must be an absolute URL.*got a number/);
  });

  it('an http: URL fails at construction with the allowInsecureRequests hint, and is taken with it', () => {
    expect(() => clientCredentialsMint({ ...base, tokenEndpoint: 'http://127.0.0.1:8080/token' })).toThrowError(
      /tokenEndpoint is an http: URL; only https: is used unless allowInsecureRequests: true/,
    );
    expect(() => clientCredentialsMint({ ...base, issuer: 'http://127.0.0.1:8080', tokenEndpoint: undefined })).toThrowError(/issuer is an http: URL/);
    expect(() => clientCredentialsMint({ ...base, tokenEndpoint: 'http://127.0.0.1:8080/token', allowInsecureRequests: true })).not.toThrow();
  });
});

describe('OAuth errors a caller can act on', () => {
  const fetchAnswering = (response: () => Response) => (async () => response()) as typeof fetch;

  it('a 404 page at the token path names the step, the URL (no credentials) and asks whether the URL is right', async () => {
    const mint = clientCredentialsMint({
      ...base,
      tokenEndpoint: 'https://login.example/wrong/path?api-key=k1',
      fetch: fetchAnswering(() => new Response('<html>Not Found</html>', { status: 404, headers: { 'content-type': 'text/html; charset=utf-8' } })),
    });
    const error = (await mint({ signal: signal() }).catch((caught: unknown) => caught)) as OAuthError;
    expect(error).toBeInstanceOf(OAuthError);
    expect(error.error).toBe('http_status');
    expect(error.status).toBe(404);
    expect(error.step).toBe('token request');
    expect(error.endpoint).toBe('https://login.example/wrong/path');
    expect(error.message).toBe('token request to https://login.example/wrong/path failed: http_status: the response is not an OAuth error (text/html) (HTTP 404); is tokenEndpoint the right URL?');
    expect(`${error.message} ${JSON.stringify(error)} ${inspect(error)}`).not.toMatch(/k1|server_error|content-type must be/);
  });

  it('a token endpoint or issuer with user:password@ is refused at construction, without echoing it (issue 26)', () => {
    for (const option of ['tokenEndpoint', 'issuer'] as const) {
      let error: unknown;
      try {
        clientCredentialsMint({ ...base, tokenEndpoint: undefined, [option]: 'https://svc:PW@login.example/token?api_key=K' });
      } catch (caught) {
        error = caught;
      }
      expect(error).toMatchObject({ code: 'INVALID_CONFIG', message: expect.stringContaining(`${option} carries a user name or password`) });
      expect((error as Error).message).not.toMatch(/PW|api_key|svc/);
    }
  });

  it('a transport error that quotes the URL does not carry its password or query into the error (issue 26)', async () => {
    const mint = clientCredentialsMint({
      ...base,
      tokenEndpoint: 'https://login.example/token?api_key=K',
      fetch: async () => {
        throw new TypeError('Request cannot be constructed from a URL that includes credentials: https://svc:PW@login.example/token?api_key=K');
      },
    });
    const error = (await mint({ signal: signal() }).catch((caught: unknown) => caught)) as OAuthError;
    expect(error).toMatchObject({ code: 'OAUTH_ERROR', error: 'request_failed' });
    expect(error.message).toContain('https://login.example/token');
    expect(`${error.message} ${JSON.stringify(error)} ${inspect(error)} ${inspect(error.cause)}`).not.toMatch(/PW|api_key|svc:/);
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

describe('BREAKER_OPEN carries what a gateway needs', () => {
  it('openUntil, retryAfterMs, the reason, an ISO time in the message, and the last failure as a redacted cause', async () => {
    const clock = new ManualClock(Date.UTC(2026, 10, 30, 12));
    let calls = 0;
    const leakyFailure = Object.assign(new Error('issuer down'), { code: 'EISSUER', response: { headers: { authorization: `Basic ${CLIENT_SECRET}` } } });
    const mint = async () => {
      calls++;
      if (calls === 1) return { secret: 'first', expiresAt: clock.now() + 1_000 };
      throw leakyFailure;
    };
    const provider = await createCredentialProvider({ mint, clock, breakerThreshold: 1, breakerCooldownMs: 30_000, refreshFloorMs: 0 });
    clock.advance(1_000);
    await provider.currentToken().catch(() => {}); // the mint fails: the breaker opens
    await flush();
    clock.advance(5_000);
    const refusal = (await provider.currentToken().catch((caught: unknown) => caught)) as BreakerOpenError;
    expect(refusal).toBeInstanceOf(BreakerOpenError);
    expect(refusal).toMatchObject({ code: 'BREAKER_OPEN', scope: 'credential', reason: 'failures', openUntil: Date.UTC(2026, 10, 30, 12) + 31_000, retryAfterMs: 25_000 });
    expect(refusal.message).toBe('the mint breaker is open until 2026-11-30T12:00:31.000Z (25000 ms), after consecutive failures; last failure: Error EISSUER');
    expect(refusal.cause).toMatchObject({ name: 'Error', message: 'issuer down', code: 'EISSUER' });
    expect(refusal.cause).not.toBe(leakyFailure);
    const everything = `${JSON.stringify(refusal)} ${inspect(refusal, { depth: 10 })} ${JSON.stringify(structuredClone(refusal))}`;
    expect(everything).not.toContain(CLIENT_SECRET);
    expect(refusal.toJSON()).toMatchObject({ scope: 'credential', retryAfterMs: 25_000, cause: { code: 'EISSUER' } });
    await provider.stop();
  });

  it('the fleet’s breaker refusal is a BreakerOpenError too', () => {
    const refusal = new FleetBreakerOpenError(4_000, Date.UTC(2026, 10, 30));
    expect(refusal).toBeInstanceOf(BreakerOpenError);
    expect(refusal).toMatchObject({ code: 'BREAKER_OPEN', scope: 'fleet', retryAfterMs: 4_000, openUntil: Date.UTC(2026, 10, 30) + 4_000 });
    expect(refusal.message).toBe("the fleet's breaker for this credential is open until 2026-11-30T00:00:04.000Z (4000 ms)");
  });

  it('a pool key refused by the issuer breaker gets scope issuer and the issuer’s last failure', async () => {
    const clock = new ManualClock(Date.UTC(2026, 10, 30));
    const pool = createCredentialPool({
      mint: async () => {
        throw Object.assign(new Error('503 from issuer'), { status: 503 });
      },
      clock,
      breakerThreshold: 1,
      breakerCooldownMs: 10_000,
    });
    await pool.currentToken('a').catch(() => {});
    const refusal = (await pool.currentToken('b').catch((caught: unknown) => caught)) as BreakerOpenError;
    expect(refusal).toBeInstanceOf(BreakerOpenError);
    expect(refusal).toMatchObject({ scope: 'issuer', reason: 'failures', retryAfterMs: 10_000 });
    expect(refusal.cause).toMatchObject({ message: '503 from issuer' });
    await pool.stop();
  });
});

describe("firstMint: 'lazy'", () => {
  it('resolves without minting, and the first currentToken() mints; an issuer blip at start-up does not fail the start', async () => {
    const clock = new ManualClock(0);
    let calls = 0;
    const mint = async () => {
      calls++;
      if (calls === 1) throw new Error('issuer blip during the deploy');
      return { secret: new Secret(`t${calls}`), expiresAt: 60_000 };
    };
    const provider = await createCredentialProvider({ mint, clock, firstMint: 'lazy' });
    expect(calls).toBe(0);
    await expect(provider.currentToken()).rejects.toThrow('issuer blip during the deploy');
    expect((await provider.currentToken()).secret).toBeInstanceOf(Secret);
    expect(calls).toBe(2);
    await provider.stop();
  });

  it('eager stays the default: the same blip rejects createCredentialProvider; a bad firstMint is INVALID_CONFIG', async () => {
    let calls = 0;
    const mint = async () => {
      calls++;
      throw new Error('issuer blip during the deploy');
    };
    await expect(createCredentialProvider({ mint, clock: new ManualClock(0) })).rejects.toThrow('issuer blip');
    expect(calls).toBe(1);
    await expect(createCredentialProvider({ mint, firstMint: 'later' as never })).rejects.toEqual(invalidConfig(/firstMint must be 'eager' or 'lazy'/));
  });
});

/** A loopback port nothing listens on: bound by the OS, then closed. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
