/**
 * `credential-actor/fetch` between two peers nobody on the project wrote: tokens minted by
 * oauth2-mock-server (its JWKS, its token endpoint, through `clientCredentialsMint` and
 * oauth4webapi), checked by a resource server that verifies each with `jose` against the issuer's
 * published keys, as an API gateway does, and refuses a revoked one as RFC 6750 writes it.
 */
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { OAuth2Server } from 'oauth2-mock-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCredentialProvider } from '../../src/index.js';
import { authorizedFetch } from '../../src/fetch/index.js';
import { clientCredentialsMint } from '../../src/oauth2/index.js';

let issuerServer: OAuth2Server;
let issuer: string;
let api: Server;
let apiUrl: string;
const revoked = new Set<string>();
const verified: string[] = [];

beforeAll(async () => {
  issuerServer = new OAuth2Server();
  await issuerServer.issuer.keys.generate('RS256');
  await issuerServer.start(0, '127.0.0.1');
  issuer = `http://127.0.0.1:${(issuerServer.address() as AddressInfo).port}`;
  issuerServer.issuer.url = issuer;
  const keys = createRemoteJWKSet(new URL(`${issuer}/jwks`));
  api = createServer((request, response) => {
    const token = /^Bearer (.+)$/.exec(request.headers.authorization ?? '')?.[1];
    const refuse = (description: string) => {
      response.writeHead(401, { 'www-authenticate': `Bearer realm="orders", error="invalid_token", error_description="${description}"` });
      response.end();
    };
    if (token === undefined) return refuse('no token');
    jwtVerify(token, keys, { issuer }).then(
      ({ payload }) => {
        if (revoked.has(token)) return refuse('revoked');
        verified.push(token);
        response.end(JSON.stringify({ scope: payload.scope }));
      },
      () => refuse('signature'),
    );
  });
  api.listen(0, '127.0.0.1');
  await once(api, 'listening');
  apiUrl = `http://127.0.0.1:${(api.address() as AddressInfo).port}/orders`;
});
afterAll(async () => {
  await new Promise((resolve) => api?.close(resolve));
  await issuerServer?.stop();
});

describe('authorizedFetch with oauth2-mock-server’s tokens, verified by jose at the resource', () => {
  it('the token is accepted; revoked, it is replaced by one new mint at the issuer and the request sent again, once', async () => {
    let tokenRequests = 0;
    issuerServer.service.on('beforeResponse', () => tokenRequests++);
    // two tokens minted in one second are otherwise the same bytes (this issuer sets no jti; real ones do)
    issuerServer.service.on('beforeTokenSigning', (token: { payload: Record<string, unknown> }) => {
      token.payload.jti = randomUUID();
    });
    const provider = await createCredentialProvider({
      mint: clientCredentialsMint({ issuer, clientId: 'orders', clientSecret: 'mock-secret', scopes: ['orders:read'], allowInsecureRequests: true }),
      invalidateMinIntervalMs: 0,
    });
    try {
      const send = authorizedFetch(provider);
      const first = await send(apiUrl);
      expect(first.status).toBe(200);
      expect(await first.json()).toEqual({ scope: 'orders:read' });
      expect(tokenRequests).toBe(1);
      revoked.add(verified[0]!);
      const responses = await Promise.all(Array.from({ length: 10 }, () => send(apiUrl)));
      expect(responses.map((response) => response.status)).toEqual(Array(10).fill(200));
      expect(tokenRequests).toBe(2);
      expect(new Set(verified.slice(1)).size).toBe(1);
      expect(verified[1]).not.toBe(verified[0]);
    } finally {
      await provider.stop();
    }
  });
});
