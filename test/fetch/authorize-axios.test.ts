/**
 * `authorizeAxios` with the real axios (1.x) against a loopback upstream that refuses tokens as
 * RFC 6750 writes it: the interceptors follow `authorizedFetch`'s rules.
 */
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import axios, { AxiosError } from 'axios';
import { afterEach, describe, expect, it } from 'vitest';
import { createCredentialProvider, type MintContext, type MintedToken } from '../../src/index.js';
import { authorizeAxios, RequestNotReplayableError } from '../../src/fetch/index.js';
import { ManualClock } from '../../src/testing/index.js';
import { HOUR } from '../helpers.js';

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
});

async function upstream(refuses: (token: string) => string | undefined) {
  const seen: { token: string; id: string | undefined; body: string }[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const token = /^Bearer (.*)$/.exec(request.headers.authorization ?? '')?.[1] ?? '';
      seen.push({ token, id: request.headers['x-request'] as string | undefined, body: Buffer.concat(chunks).toString() });
      const challenge = refuses(token);
      if (challenge === undefined) return response.end(`ok ${token}`);
      response.writeHead(401, { 'www-authenticate': challenge });
      response.end('refused');
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  servers.push(server);
  return { baseURL: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

async function scriptedProvider() {
  const clock = new ManualClock(Date.now());
  const mints: (string | undefined)[] = [];
  const provider = await createCredentialProvider({
    clock,
    invalidateMinIntervalMs: 0,
    mint: async ({ claims }: MintContext): Promise<MintedToken> => {
      mints.push(claims);
      return { secret: `t${mints.length}`, expiresAt: clock.now() + HOUR };
    },
  });
  return { provider, mints };
}

describe('authorizeAxios (axios 1.x)', () => {
  it('adds the token; a refusal (invalid_token) is sent once more with a newer token; a second refusal rejects as axios does', async () => {
    const { baseURL, seen } = await upstream((token) => (token === 't3' ? undefined : 'Bearer error="invalid_token"'));
    const { provider, mints } = await scriptedProvider();
    const api = axios.create({ baseURL });
    authorizeAxios(api, provider);
    const refused = await api.post('/orders', 'order-1').catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(AxiosError);
    expect((refused as AxiosError).response?.status).toBe(401);
    expect(seen.map(({ token, body }) => [token, body])).toEqual([
      ['t1', 'order-1'],
      ['t2', 'order-1'],
    ]);
    const accepted = await api.post('/orders', 'order-2');
    expect(accepted.data).toBe('ok t3');
    expect(mints).toHaveLength(3);
    await provider.stop();
  });

  it('100 concurrent requests refused with the same token: 100 retries, one mint, none sent more than twice', async () => {
    const { baseURL, seen } = await upstream((token) => (token === 't1' ? 'Bearer error="invalid_token"' : undefined));
    const { provider, mints } = await scriptedProvider();
    const api = axios.create({ baseURL });
    authorizeAxios(api, provider);
    const responses = await Promise.all(Array.from({ length: 100 }, (_, index) => api.get('/orders', { headers: { 'x-request': String(index) } })));
    expect(responses.every((response) => response.status === 200)).toBe(true);
    expect(mints).toHaveLength(2);
    const perRequest = new Map<string, number>();
    for (const { id } of seen) perRequest.set(id!, (perRequest.get(id!) ?? 0) + 1);
    expect(perRequest.size).toBe(100);
    expect([...perRequest.values()].every((count) => count === 2)).toBe(true);
    await provider.stop();
  });

  it('insufficient_claims: one mint with the decoded claims, then the request once more', async () => {
    const claims = '{"access_token":{"acrs":{"essential":true,"value":"c1"}}}';
    const { baseURL } = await upstream((token) => (token === 't1' ? `Bearer error="insufficient_claims", claims="${Buffer.from(claims).toString('base64')}"` : undefined));
    const { provider, mints } = await scriptedProvider();
    const api = axios.create({ baseURL });
    authorizeAxios(api, provider);
    expect((await api.get('/orders')).data).toBe('ok t2');
    expect(mints).toEqual([undefined, claims]);
    await provider.stop();
  });

  it('a stream body is not sent again: RequestNotReplayableError with the axios response, the token invalidated', async () => {
    const { baseURL, seen } = await upstream((token) => (token === 't1' ? 'Bearer error="invalid_token"' : undefined));
    const { provider } = await scriptedProvider();
    const api = axios.create({ baseURL });
    authorizeAxios(api, provider);
    const refused = await api.put('/upload?sig=secret-signature', Readable.from(['a large upload'])).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(RequestNotReplayableError);
    expect((refused as RequestNotReplayableError<{ status: number }>).response.status).toBe(401);
    expect((refused as Error).message).toContain(`PUT ${baseURL}/upload`);
    expect((refused as Error).message).not.toContain('secret-signature');
    expect(seen).toHaveLength(1);
    expect((await api.get('/orders')).data).toBe('ok t2');
    await provider.stop();
  });

  it('the request’s signal bounds the wait for the token; detached, requests go out as they are', async () => {
    const { baseURL, seen } = await upstream(() => undefined);
    let release: (token: MintedToken) => void = () => {};
    const provider = await createCredentialProvider({ firstMint: 'lazy', mint: () => new Promise<MintedToken>((resolve) => (release = resolve)) });
    const api = axios.create({ baseURL });
    const detach = authorizeAxios(api, provider);
    const controller = new AbortController();
    const call = api.get('/orders', { signal: controller.signal }).catch((error: unknown) => error);
    controller.abort(new Error('the caller gave up'));
    expect(await call).toMatchObject({ message: 'the caller gave up' });
    expect(seen).toHaveLength(0);
    release({ secret: 'late', expiresAt: Date.now() + HOUR });
    detach();
    await api.get('/orders');
    expect(seen.map(({ token }) => token)).toEqual(['']);
    await provider.stop();
  });

  it('refuses what is not a source or not an axios instance, at once', () => {
    expect(() => authorizeAxios(axios.create(), {} as never)).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
    expect(() => authorizeAxios({} as never, () => ({}) as never)).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
  });
});
