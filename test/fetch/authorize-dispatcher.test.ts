/**
 * `authorizeDispatcher` inside the real undici 7 (a dev dependency), against a loopback upstream that
 * refuses tokens the way RFC 6750 writes it: through `undici.request` and undici's `fetch`, both
 * composed on an `Agent`. Providers run on a `ManualClock` with scripted mints.
 */
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { Agent, fetch as undiciFetch, request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { createCredentialProvider, CredentialError, type MintContext, type MintedToken } from '../../src/index.js';
import { authorizeDispatcher } from '../../src/fetch/index.js';
import { ManualClock } from '../../src/testing/index.js';
import { HOUR } from '../helpers.js';

const servers: Server[] = [];
const agents: Agent[] = [];
afterEach(async () => {
  await Promise.all(agents.splice(0).map((agent) => agent.close()));
  await Promise.all(servers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
});

/** A loopback upstream that refuses every token in `refused` with `challenge`, and records each request's token and body. */
async function upstream(refused: (token: string) => boolean, challenge = 'Bearer error="invalid_token"') {
  const seen: { token: string; body: string }[] = [];
  const server = createServer((incoming, response) => {
    const chunks: Buffer[] = [];
    incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
    incoming.on('end', () => {
      const token = /^Bearer (.*)$/.exec(incoming.headers.authorization ?? '')?.[1] ?? '';
      seen.push({ token, body: Buffer.concat(chunks).toString() });
      if (refused(token)) response.writeHead(401, { 'www-authenticate': challenge }).end('refused');
      else response.end(`ok ${token}`);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  servers.push(server);
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/orders`, seen };
}

async function scriptedProvider(options: { failing?: boolean; invalidateMinIntervalMs?: number } = {}) {
  const clock = new ManualClock(Date.now());
  let mints = 0;
  const provider = await createCredentialProvider({
    clock,
    firstMint: 'lazy',
    invalidateMinIntervalMs: options.invalidateMinIntervalMs ?? 0,
    mint: async (_context: MintContext): Promise<MintedToken> => {
      if (options.failing === true) throw new CredentialError('MINT_FAILED', 'the issuer is down');
      mints++;
      return { secret: `t${mints}`, expiresAt: clock.now() + HOUR };
    },
  });
  return { provider, mints: () => mints };
}

const composed = (interceptor: ReturnType<typeof authorizeDispatcher>) => {
  const agent = new Agent();
  agents.push(agent);
  return agent.compose(interceptor);
};

describe('authorizeDispatcher (undici)', () => {
  it('adds the token; a refusal is held back, a newer token minted, and the request sent once more (undici.request)', async () => {
    const { url, seen } = await upstream((token) => token === 't1');
    const { provider, mints } = await scriptedProvider();
    const dispatcher = composed(authorizeDispatcher(provider));
    const response = await request(url, { method: 'POST', body: 'order-1', dispatcher, headers: { authorization: 'Basic bm8=' } });
    expect(response.statusCode).toBe(200);
    expect(await response.body.text()).toBe('ok t2');
    expect(seen).toEqual([
      { token: 't1', body: 'order-1' },
      { token: 't2', body: 'order-1' },
    ]);
    expect(mints()).toBe(2);
    await provider.stop();
  });

  it('a second refusal reaches the caller as it came: no request is sent more than twice', async () => {
    const { url, seen } = await upstream(() => true, 'Bearer realm="api", error="invalid_token"');
    const { provider } = await scriptedProvider();
    const response = await request(url, { dispatcher: composed(authorizeDispatcher(provider)) });
    expect(response.statusCode).toBe(401);
    expect(response.headers['www-authenticate']).toBe('Bearer realm="api", error="invalid_token"');
    expect(await response.body.text()).toBe('refused');
    expect(seen.map(({ token }) => token)).toEqual(['t1', 't2']);
    await provider.stop();
  });

  it('50 concurrent requests refused with one token: 50 retries, one mint', async () => {
    const { url, seen } = await upstream((token) => token === 't1');
    const { provider, mints } = await scriptedProvider();
    await provider.currentToken();
    const dispatcher = composed(authorizeDispatcher(provider));
    const responses = await Promise.all(Array.from({ length: 50 }, () => request(url, { dispatcher })));
    expect(responses.map(({ statusCode }) => statusCode)).toEqual(Array.from({ length: 50 }, () => 200));
    await Promise.all(responses.map(({ body }) => body.text()));
    expect(mints()).toBe(2);
    expect(seen).toHaveLength(100);
    await provider.stop();
  });

  it('a stream body is not sent again: the refusal reaches the caller, and the token is invalidated', async () => {
    const { url, seen } = await upstream((token) => token === 't1');
    const { provider, mints } = await scriptedProvider();
    const dispatcher = composed(authorizeDispatcher(provider));
    const response = await request(url, { method: 'POST', body: Readable.from(['streamed']), dispatcher });
    expect(response.statusCode).toBe(401);
    await response.body.text();
    expect(seen).toEqual([{ token: 't1', body: 'streamed' }]);
    expect((await provider.currentToken()).secret.reveal()).toBe('t2');
    expect(mints()).toBe(2);
    await provider.stop();
  });

  it('through undici’s fetch on the composed agent: a body-less request is retried with a newer token', async () => {
    const { url, seen } = await upstream((token) => token === 't1');
    const { provider } = await scriptedProvider();
    const response = await undiciFetch(url, { dispatcher: composed(authorizeDispatcher(provider)) });
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('ok t2');
    expect(seen.map(({ token }) => token)).toEqual(['t1', 't2']);
    await provider.stop();
  });

  it('no token, no request: the source’s CredentialError fails the request, nothing sent', async () => {
    const { url, seen } = await upstream(() => false);
    const { provider } = await scriptedProvider({ failing: true });
    await expect(request(url, { dispatcher: composed(authorizeDispatcher(provider)) })).rejects.toMatchObject({ code: 'MINT_FAILED' });
    expect(seen).toEqual([]);
    await provider.stop();
  });

  it('an upstream that refuses every token the issuer mints gets its refusal back, not a loop of mints', async () => {
    const { url, seen } = await upstream(() => true);
    const { provider, mints } = await scriptedProvider({ invalidateMinIntervalMs: 60_000 });
    const dispatcher = composed(authorizeDispatcher(provider));
    expect((await request(url, { dispatcher })).statusCode).toBe(401);
    expect((await request(url, { dispatcher })).statusCode).toBe(401);
    // the second request's refusal is of the newest token, within invalidateMinIntervalMs: TOKEN_REFUSED, no third mint
    expect(mints()).toBe(2);
    expect(seen.length).toBe(3);
    await provider.stop();
  });
});
