/**
 * `credential-actor/fetch` against a loopback server that refuses tokens the way RFC 6750 and the
 * issuers write it. Providers run on a `ManualClock` with scripted mints; the requests are real HTTP.
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { createCredentialPool, createCredentialProvider, CredentialError, type MintContext, type MintedToken } from '../../src/index.js';
import { authorizedFetch, parseChallenges, RequestNotReplayableError } from '../../src/fetch/index.js';
import { ManualClock } from '../../src/testing/index.js';
import { HOUR } from '../helpers.js';

/** What the upstream did with one request: the token it carried, and its id (`x-request`). */
type Seen = { readonly token: string; readonly id: string | undefined; readonly body: string };

/** A loopback upstream: `refuse(token, request)` gives the refusal's `WWW-Authenticate` (or `null` to refuse with none, `undefined` to accept). */
async function upstream(refuse: (token: string, request: IncomingMessage) => { status?: number; challenge?: string | null } | undefined) {
  const seen: Seen[] = [];
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const token = /^Bearer (.*)$/.exec(request.headers.authorization ?? '')?.[1] ?? '';
      const id = request.headers['x-request'] as string | undefined;
      seen.push({ token, id, body: Buffer.concat(chunks).toString() });
      const refusal = refuse(token, request);
      if (refusal === undefined) {
        response.end(`ok ${token}`);
        return;
      }
      response.writeHead(refusal.status ?? 401, refusal.challenge === null || refusal.challenge === undefined ? {} : { 'www-authenticate': refusal.challenge });
      response.end('refused');
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/orders`;
  servers.push(server);
  return { url, seen };
}

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
});

/** A provider on a manual clock whose mints land at once, each a new token (`t1`, `t2`, ...), recording each mint's claims. */
async function scriptedProvider(options: { invalidateMinIntervalMs?: number; tokenType?: string } = {}) {
  const clock = new ManualClock(Date.now());
  const mints: (string | undefined)[] = [];
  const provider = await createCredentialProvider({
    clock,
    invalidateMinIntervalMs: options.invalidateMinIntervalMs ?? 0,
    mint: async ({ claims }: MintContext): Promise<MintedToken> => {
      mints.push(claims);
      return { secret: `t${mints.length}`, expiresAt: clock.now() + HOUR, ...(options.tokenType === undefined ? {} : { tokenType: options.tokenType }) };
    },
  });
  return { provider, mints, clock };
}

describe('authorizedFetch', () => {
  it('adds the token as Authorization: Bearer, and returns what the upstream answered', async () => {
    const { url, seen } = await upstream(() => undefined);
    const { provider } = await scriptedProvider();
    const response = await authorizedFetch(provider)(url, { headers: { authorization: 'Basic bm8=', 'x-request': 'a' } });
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('ok t1');
    expect(seen).toEqual([{ token: 't1', id: 'a', body: '' }]);
    await provider.stop();
  });

  it('a 401 with error="invalid_token" is retried once with a newer token; a second refusal is returned as it came', async () => {
    const { url, seen } = await upstream((token) => (token === 't3' ? undefined : { challenge: 'Bearer realm="api", error="invalid_token", error_description="expired"' }));
    const { provider, mints } = await scriptedProvider();
    const api = authorizedFetch(provider);
    const refusedTwice = await api(url, { method: 'POST', body: 'order-1' });
    expect(refusedTwice.status).toBe(401);
    expect(seen.map(({ token, body }) => [token, body])).toEqual([
      ['t1', 'order-1'],
      ['t2', 'order-1'],
    ]);
    const accepted = await api(url, { method: 'POST', body: 'order-2' });
    expect(accepted.status).toBe(200);
    expect(seen.slice(2).map(({ token }) => token)).toEqual(['t2', 't3']);
    expect(mints).toHaveLength(3);
    await provider.stop();
  });

  it('100 concurrent requests refused with the same token: 100 retries, one mint, no request sent more than twice', async () => {
    const { url, seen } = await upstream((token) => (token === 't1' ? { challenge: 'Bearer error="invalid_token"' } : undefined));
    const { provider, mints } = await scriptedProvider();
    const api = authorizedFetch(provider);
    const responses = await Promise.all(Array.from({ length: 100 }, (_, index) => api(url, { headers: { 'x-request': String(index) } })));
    expect(responses.every((response) => response.status === 200)).toBe(true);
    expect(mints).toHaveLength(2); // the first token, and the one that replaced it
    expect(seen.filter(({ token }) => token === 't1')).toHaveLength(100);
    expect(seen.filter(({ token }) => token === 't2')).toHaveLength(100);
    const perRequest = new Map<string, number>();
    for (const { id } of seen) perRequest.set(id!, (perRequest.get(id!) ?? 0) + 1);
    expect([...perRequest.values()].every((count) => count === 2)).toBe(true);
    await provider.stop();
  });

  it('a bare 401 (no Bearer error) is retried; a 401 with another error, and a 403, are returned as they came', async () => {
    const answers = [{ challenge: null }, undefined, { challenge: 'Bearer error="invalid_request"' }, { status: 403, challenge: 'Bearer error="insufficient_scope"' }];
    const { url, seen } = await upstream(() => answers.shift());
    const { provider } = await scriptedProvider();
    const api = authorizedFetch(provider);
    expect((await api(url)).status).toBe(200);
    expect(seen.map(({ token }) => token)).toEqual(['t1', 't2']);
    expect((await api(url)).status).toBe(401);
    expect((await api(url)).status).toBe(403);
    expect(seen).toHaveLength(4);
    await provider.stop();
  });

  it('a 401 with error="insufficient_claims" mints once with the decoded claims, and retries', async () => {
    const claims = '{"access_token":{"nbf":{"essential":true,"value":"1700000000"}}}';
    const { url, seen } = await upstream((token) => (token === 't1' ? { challenge: `Bearer realm="", error="insufficient_claims", claims="${Buffer.from(claims).toString('base64')}"` } : undefined));
    const { provider, mints } = await scriptedProvider();
    const response = await authorizedFetch(provider)(url);
    expect(response.status).toBe(200);
    expect(mints).toEqual([undefined, claims]);
    expect(seen.map(({ token }) => token)).toEqual(['t1', 't2']);
    await provider.stop();
  });

  it('a refused request whose body is a stream is not sent again: RequestNotReplayableError with the refusal, and the token invalidated', async () => {
    const { url, seen } = await upstream((token) => (token === 't1' ? { challenge: 'Bearer error="invalid_token"' } : undefined));
    const { provider } = await scriptedProvider();
    const api = authorizedFetch(provider);
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('a large upload'));
        controller.close();
      },
    });
    const refused = await api(`${url}?sig=secret-signature`, { method: 'PUT', body, duplex: 'half' } as RequestInit).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(RequestNotReplayableError);
    expect((refused as RequestNotReplayableError).code).toBe('REQUEST_NOT_REPLAYABLE');
    expect((refused as RequestNotReplayableError).response.status).toBe(401);
    expect((refused as Error).message).toContain(`PUT ${url}`);
    expect((refused as Error).message).not.toContain('secret-signature');
    expect(seen.map(({ token, body }) => [token, body])).toEqual([['t1', 'a large upload']]);
    // the next request gets a newer token
    expect((await api(url)).status).toBe(200);
    expect(seen.at(-1)!.token).toBe('t2');
    await provider.stop();
  });

  it('a Node stream as the body (an async iterable) is not sent again either', async () => {
    const { url, seen } = await upstream((token) => (token === 't1' ? { challenge: 'Bearer error="invalid_token"' } : undefined));
    const { provider } = await scriptedProvider();
    const refused = await authorizedFetch(provider)(url, { method: 'POST', body: Readable.from([Buffer.from('chunk')]) as unknown as BodyInit, duplex: 'half' } as RequestInit).catch(
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(RequestNotReplayableError);
    expect(seen.map(({ token, body }) => [token, body])).toEqual([['t1', 'chunk']]);
    await provider.stop();
  });

  it('a refusal of the newest token within invalidateMinIntervalMs is returned, not retried (TOKEN_REFUSED: no loop of mints)', async () => {
    const { url, seen } = await upstream(() => ({ challenge: 'Bearer error="invalid_token"' }));
    const { provider, mints } = await scriptedProvider({ invalidateMinIntervalMs: 60_000 });
    const api = authorizedFetch(provider);
    expect((await api(url)).status).toBe(401); // t1 refused, t2 refused
    expect((await api(url)).status).toBe(401); // t2 refused again within the interval: returned
    expect(seen.map(({ token }) => token)).toEqual(['t1', 't2', 't2']);
    expect(mints).toHaveLength(2);
    await provider.stop();
  });

  it('the caller’s signal covers the wait for the token: aborted while the mint runs, it rejects and sends nothing', async () => {
    const { url, seen } = await upstream(() => undefined);
    let release: (token: MintedToken) => void = () => {};
    const clock = new ManualClock(Date.now());
    const provider = await createCredentialProvider({ clock, firstMint: 'lazy', mint: () => new Promise<MintedToken>((resolve) => (release = resolve)) });
    const controller = new AbortController();
    const call = authorizedFetch(provider)(url, { signal: controller.signal });
    controller.abort(new Error('the caller gave up'));
    await expect(call).rejects.toThrow('the caller gave up');
    release({ secret: 'late', expiresAt: clock.now() + HOUR });
    expect(seen).toHaveLength(0);
    await provider.stop();
  });

  it('a DPoP-bound token is not sent as a bearer token: UNCONFIGURED, nothing sent', async () => {
    const { url, seen } = await upstream(() => undefined);
    const { provider } = await scriptedProvider({ tokenType: 'DPoP' });
    const refused = await authorizedFetch(provider)(url).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(CredentialError);
    expect((refused as CredentialError).code).toBe('UNCONFIGURED');
    expect(seen).toHaveLength(0);
    await provider.stop();
  });

  it('a pool’s key per request (pool.source(key)): each host its own token, each refusal replacing that key’s only', async () => {
    const { url, seen } = await upstream((token) => (token === 'b@1' ? { challenge: 'Bearer error="invalid_token"' } : undefined));
    const minted = new Map<string, number>();
    const pool = createCredentialPool({
      mint: async (key: string) => {
        minted.set(key, (minted.get(key) ?? 0) + 1);
        return { secret: `${key}@${minted.get(key)}`, expiresAt: Date.now() + HOUR };
      },
    });
    const api = authorizedFetch((request) => pool.source(request.headers.get('x-tenant')!));
    expect((await api(url, { headers: { 'x-tenant': 'a' } })).status).toBe(200);
    expect((await api(url, { headers: { 'x-tenant': 'b' } })).status).toBe(200);
    expect(seen.map(({ token }) => token)).toEqual(['a@1', 'b@1', 'b@2']);
    expect(Object.fromEntries(minted)).toEqual({ a: 1, b: 2 });
    await pool.stop();
  });

  it('refuses a source that is none, at once', () => {
    expect(() => authorizedFetch({} as never)).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
    expect(() => authorizedFetch(() => ({}) as never, { fetch: 'no' as never })).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
  });
});

describe('parseChallenges (WWW-Authenticate, RFC 7235)', () => {
  it('reads several challenges, quoted and token values, escapes, and stops at what does not parse', () => {
    expect(parseChallenges('Bearer realm="api, v2", error="invalid_token", error_description="the \\"token\\" expired", DPoP algs="ES256 PS256"')).toEqual([
      { scheme: 'bearer', params: { realm: 'api, v2', error: 'invalid_token', error_description: 'the "token" expired' } },
      { scheme: 'dpop', params: { algs: 'ES256 PS256' } },
    ]);
    expect(parseChallenges('Basic, Bearer error=invalid_token')).toEqual([
      { scheme: 'basic', params: {} },
      { scheme: 'bearer', params: { error: 'invalid_token' } },
    ]);
    expect(parseChallenges('Negotiate abc123==')).toEqual([{ scheme: 'negotiate', params: {} }]);
    expect(parseChallenges('Bearer error="unterminated')).toEqual([{ scheme: 'bearer', params: {} }]);
    expect(parseChallenges('')).toEqual([]);
  });
});
