import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { inspect } from 'node:util';
import { calculateJwkThumbprint, createLocalJWKSet, decodeJwt, decodeProtectedHeader, EmbeddedJWK, exportJWK, generateKeyPair, jwtVerify, type JSONWebKeySet } from 'jose';
import '../../examples/quiet-oidc-warnings.js';
import { issueRefreshToken } from '../../examples/token-server.js';
import { jwtAccessTokensFor } from './jwt-access-tokens.js';
import Provider from 'oidc-provider';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCredentialPool, createCredentialProvider, CredentialError, type Coordination, type Mint, type MintContext, type SecretValue } from '../../src/index.js';
import axios from 'axios';
import { Agent, request } from 'undici';
import { authorizeAxios, authorizeDispatcher, authorizedFetch } from '../../src/fetch/index.js';
import { clientCredentialsMint, dpopKey, refreshTokenMint } from '../../src/oauth2/index.js';

/**
 * DPoP (RFC 9449) end to end: oidc-provider requires DPoP of the client and a nonce on every
 * proof, and binds the JWT access token to the key (`cnf.jkt`); a resource server of the test's
 * own verifies each request's proof with `jose` (signature by the embedded key, `typ`, `htm`, `htu`,
 * `ath`, a fresh `jti`, its own nonce) and that the key is the one the token is bound to.
 */
const CLIENT_ID = 'dpop-worker';
const SESSION_CLIENT_ID = 'dpop-single-page-app';
const CLIENT_SECRET = 'dpop-worker-secret-5b0e1c';
const AUDIENCE = 'urn:credential-actor:dpop-api';

let issuer: Awaited<ReturnType<typeof startDPoPIssuer>>;
let api: ResourceServer;

beforeAll(async () => {
  issuer = await startDPoPIssuer();
  api = await startResourceServer(issuer.url, issuer.jwks);
});
afterAll(async () => {
  await api?.close();
  await issuer?.close();
});

const mintOptions = () => ({ tokenEndpoint: issuer.tokenEndpoint, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, resource: AUDIENCE, allowInsecureRequests: true });

describe('DPoP', () => {
  it('the issuer binds the token to the key (token_type DPoP, cnf.jkt), the nonce it asks for taken and sent again once', async () => {
    const dpop = dpopKey();
    const proofs: (string | null)[] = [];
    const statuses: number[] = [];
    const recording: typeof fetch = async (input, init) => {
      proofs.push(new Headers(init?.headers).get('dpop'));
      const response = await fetch(input, init);
      statuses.push(response.status);
      return response;
    };
    const minted = await clientCredentialsMint({ ...mintOptions(), dpop, fetch: recording })({ signal: new AbortController().signal });
    expect(minted.tokenType).toBe('DPoP');
    const token = (minted.secret as { reveal(): string }).reveal();
    const { cnf } = decodeJwt(token) as { cnf?: { jkt?: string } };
    // the first proof had no nonce and was refused (use_dpop_nonce); the second carried the issuer's
    expect(statuses).toEqual([400, 200]);
    expect(proofs.map((proof) => decodeJwt(proof!).nonce === undefined)).toEqual([true, false]);
    const { jwk } = decodeProtectedHeader(proofs[1]!);
    expect(cnf?.jkt).toBe(await calculateJwkThumbprint(jwk!));
    expect(decodeJwt(proofs[1]!)).toMatchObject({ htm: 'POST', htu: issuer.tokenEndpoint });
    expect(decodeJwt(proofs[1]!).ath).toBeUndefined();
  });

  it('every request carries a proof the resource server verifies, for this method and URL, bound to the token’s key; its nonce is taken and the request sent once more', async () => {
    const dpop = dpopKey();
    const provider = await createCredentialProvider({ mint: clientCredentialsMint({ ...mintOptions(), dpop }) });
    try {
      const call = authorizedFetch(provider, { dpop });
      api.reset();
      const first = await call(`${api.url}/orders?page=2`, { method: 'POST', body: '{"item":1}' });
      expect(first.status, JSON.stringify(api.log)).toBe(200);
      // the first proof had no nonce of this server's: refused with use_dpop_nonce, then accepted
      expect(api.log.map(({ outcome }) => outcome)).toEqual(['use_dpop_nonce', 'accepted']);
      expect(api.log[1]).toMatchObject({ htm: 'POST', htu: `${api.url}/orders` });
      const second = await call(`${api.url}/orders`);
      expect(second.status).toBe(200);
      expect(api.log.map(({ outcome }) => outcome)).toEqual(['use_dpop_nonce', 'accepted', 'accepted']);
      expect(api.bodies).toEqual(['{"item":1}', '{"item":1}', '']);
    } finally {
      await provider.stop();
    }
  });

  it('through axios and undici’s dispatcher too: the same proofs, the nonce taken and the request sent once more', async () => {
    const dpop = dpopKey();
    const provider = await createCredentialProvider({ mint: clientCredentialsMint({ ...mintOptions(), dpop }) });
    const agent = new Agent();
    try {
      api.reset();
      const instance = axios.create();
      authorizeAxios(instance, provider, { dpop });
      expect((await instance.post(`${api.url}/orders?via=axios`, 'order-2')).status).toBe(200);
      expect(api.log.map(({ outcome }) => outcome)).toEqual(['use_dpop_nonce', 'accepted']);
      expect(api.log[1]).toMatchObject({ htm: 'POST', htu: `${api.url}/orders` });
      api.reset();
      const dispatcher = agent.compose(authorizeDispatcher(provider, { dpop }));
      const answer = await request(`${api.url}/orders`, { method: 'PUT', body: 'order-3', dispatcher });
      expect(answer.statusCode).toBe(200);
      await answer.body.text();
      expect(api.log.map(({ outcome }) => outcome)).toEqual(['use_dpop_nonce', 'accepted']);
      expect(api.bodies).toEqual(['order-3', 'order-3']);
      // the nonce kept from that answer: the next request is accepted at once
      const next = await request(`${api.url}/orders`, { dispatcher });
      await next.body.text();
      expect(api.log.map(({ outcome }) => outcome)).toEqual(['use_dpop_nonce', 'accepted', 'accepted']);
    } finally {
      await agent.close();
      await provider.stop();
    }
  });

  it('a token sent with another key’s proof is refused: the binding holds', async () => {
    const provider = await createCredentialProvider({ mint: clientCredentialsMint({ ...mintOptions(), dpop: dpopKey() }) });
    try {
      api.reset();
      const response = await authorizedFetch(provider, { dpop: dpopKey() })(`${api.url}/orders`);
      expect(response.status).toBe(401);
      expect(api.log.map(({ outcome }) => outcome)).toContain('key mismatch');
    } finally {
      await provider.stop();
    }
  });

  it('a DPoP-bound token is never sent as a bearer token: without the key, UNCONFIGURED and nothing sent', async () => {
    const provider = await createCredentialProvider({ mint: clientCredentialsMint({ ...mintOptions(), dpop: dpopKey() }) });
    try {
      api.reset();
      const error = await authorizedFetch(provider)(`${api.url}/orders`).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(CredentialError);
      expect(error).toMatchObject({ code: 'UNCONFIGURED', message: expect.stringContaining('authorizedFetch(source, { dpop })') as string });
      expect(api.log).toEqual([]);
    } finally {
      await provider.stop();
    }
  });

  it('a rotating refresh-token grant carries a proof too: the nonce taken in the same grant, the token bound, the rotated refresh token used next', async () => {
    const dpop = dpopKey();
    const statuses: number[] = [];
    const sentRefreshTokens: (string | null)[] = [];
    const recording: typeof fetch = async (input, init) => {
      sentRefreshTokens.push(new URLSearchParams(init?.body as URLSearchParams).get('refresh_token'));
      const response = await fetch(input, init);
      statuses.push(response.status);
      return response;
    };
    const mint = refreshTokenMint({
      tokenEndpoint: issuer.tokenEndpoint,
      clientId: SESSION_CLIENT_ID,
      refreshToken: await issuer.issueRefreshToken(),
      allowInsecureRequests: true,
      fetch: recording,
      dpop,
    });
    const provider = await createCredentialProvider({ mint });
    try {
      const token = await provider.currentToken();
      expect(token.tokenType).toBe('DPoP');
      // refused for its nonce and sent again with the same refresh token, in the same grant: it was not taken
      expect(statuses).toEqual([400, 200]);
      expect(sentRefreshTokens[1]).toBe(sentRefreshTokens[0]);
      api.reset();
      expect((await authorizedFetch(provider, { dpop })(`${api.url}/orders`)).status).toBe(200);
      provider.invalidate(token);
      await provider.currentToken();
      expect(statuses).toEqual([400, 200, 200]); // the nonce kept: no refusal this time
      expect(sentRefreshTokens[2]).not.toBe(sentRefreshTokens[1]); // the rotated one
    } finally {
      await provider.stop();
    }
  });

  it('a client the issuer requires DPoP of gets no token without a proof', async () => {
    await expect(clientCredentialsMint(mintOptions())({ signal: new AbortController().signal })).rejects.toMatchObject({ error: 'invalid_grant', status: 400 });
  });

  it('the key shows only its algorithm; a copy of it is no key', () => {
    const dpop = dpopKey();
    expect(JSON.stringify(dpop)).toBe('{"algorithm":"ES256"}');
    expect(inspect(dpop, { showHidden: true, depth: 5 })).not.toMatch(/privateKey|"d"/);
    expect(() => authorizedFetch({ currentToken: () => Promise.reject(new Error('unused')), invalidate: () => false }, { dpop: { ...dpop } })).toThrow(/dpop must be a key made by dpopKey\(\)/);
  });

  it('a DPoP mint is not shared through a coordination: each process mints its own', async () => {
    const coordination = { share: () => () => Promise.reject(new Error('never shared')) };
    await expect(createCredentialProvider({ mint: clientCredentialsMint({ ...mintOptions(), dpop: dpopKey() }), coordination, sharedKey: 'dpop' })).rejects.toMatchObject({
      code: 'INVALID_CONFIG',
      message: expect.stringContaining('DPoP-bound') as string,
    });
    // a pool's key mint is known by what it returns: a DPoP-bound token is refused before it is shared
    const shared: string[] = [];
    const passThrough: Coordination = {
      share:
        <T extends SecretValue<T>>(key: string, mint: Mint<T>) =>
        (context: MintContext) => {
          shared.push(key);
          return mint(context);
        },
    };
    const keyDpop = dpopKey();
    const pool = createCredentialPool({ mint: (_key, context) => clientCredentialsMint({ ...mintOptions(), dpop: keyDpop })(context), coordination: passThrough });
    try {
      await expect(pool.currentToken('tenant-a')).rejects.toMatchObject({ code: 'INVALID_CONFIG', message: expect.stringContaining('give the pool no coordination') as string });
      expect(shared).toEqual(['tenant-a']);
    } finally {
      await pool.stop();
    }
  });
});

async function startDPoPIssuer() {
  const server: Server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const provider = new Provider(url, {
    clients: [
      {
        client_id: SESSION_CLIENT_ID,
        token_endpoint_auth_method: 'none',
        grant_types: ['refresh_token', 'authorization_code'],
        redirect_uris: ['https://client.example/callback'],
        response_types: ['code'],
        id_token_signed_response_alg: 'ES256',
        dpop_bound_access_tokens: true,
      },
      {
        client_id: CLIENT_ID,
        client_secret: CLIENT_SECRET,
        grant_types: ['client_credentials'],
        redirect_uris: [],
        response_types: [],
        dpop_bound_access_tokens: true,
        id_token_signed_response_alg: 'ES256',
      },
    ],
    jwks: { keys: [{ ...(await exportJWK(privateKey)), kid: 'dpop-issuer', alg: 'ES256', use: 'sig' }] },
    rotateRefreshToken: true,
    scopes: ['offline_access'],
    findAccount: (_ctx, accountId) => ({ accountId, claims: () => ({ sub: accountId }) }),
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      dPoP: { enabled: true, nonceSecret: randomBytes(32), requireNonce: () => true },
      resourceIndicators: jwtAccessTokensFor(AUDIENCE),
    },
  });
  const handle = provider.callback();
  server.on('request', (request: IncomingMessage, response: ServerResponse) => void handle(request, response));
  return {
    url,
    tokenEndpoint: `${url}/token`,
    /** A refresh token of a new sign-in to the public client, as the code exchange would give. */
    issueRefreshToken: () => issueRefreshToken(provider, { clientId: SESSION_CLIENT_ID, audience: AUDIENCE, resourceScope: '' }),
    jwks: { keys: [{ ...(await exportJWK(publicKey)), kid: 'dpop-issuer', alg: 'ES256' }] },
    async close() {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

interface ResourceServer {
  readonly url: string;
  readonly log: { outcome: string; htm?: string; htu?: string }[];
  readonly bodies: string[];
  reset(): void;
  close(): Promise<void>;
}

/** A resource server that verifies DPoP as RFC 9449 section 7 says, requiring its own nonce. */
async function startResourceServer(issuerUrl: string, jwks: JSONWebKeySet): Promise<ResourceServer> {
  const keys = createLocalJWKSet(jwks);
  const log: ResourceServer['log'] = [];
  const bodies: string[] = [];
  const seenJti = new Set<string>();
  let nonce = randomBytes(16).toString('base64url');
  const server = createServer((request, response) => {
    void (async () => {
      const chunks: Buffer[] = [];
      for await (const chunk of request) chunks.push(chunk as Buffer);
      bodies.push(Buffer.concat(chunks).toString('utf8'));
      const refuse = (outcome: string, error: string, extra: Record<string, string> = {}) => {
        log.push({ outcome });
        response.writeHead(401, { 'www-authenticate': `DPoP error="${error}", algs="ES256"`, ...extra }).end();
      };
      const [scheme, token] = (request.headers.authorization ?? '').split(' ');
      const proof = request.headers.dpop;
      if (scheme !== 'DPoP' || token === undefined || typeof proof !== 'string') return refuse('no DPoP', 'invalid_token');
      const { payload: claims } = await jwtVerify(token, keys, { issuer: issuerUrl, audience: AUDIENCE });
      const { payload, protectedHeader } = await jwtVerify(proof, EmbeddedJWK, { typ: 'dpop+jwt', algorithms: ['ES256'], maxTokenAge: '60s' });
      const htu = `http://${request.headers.host}${new URL(request.url!, 'http://x').pathname}`;
      const ath = Buffer.from(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(token))).toString('base64url');
      if (payload.htm !== request.method || payload.htu !== htu || payload.ath !== ath) return refuse('proof for another request', 'invalid_dpop_proof');
      if (typeof payload.jti !== 'string' || seenJti.has(payload.jti)) return refuse('replayed proof', 'invalid_dpop_proof');
      seenJti.add(payload.jti);
      if (payload.nonce !== nonce) return refuse('use_dpop_nonce', 'use_dpop_nonce', { 'dpop-nonce': nonce });
      const jkt = await calculateJwkThumbprint(protectedHeader.jwk!);
      if ((claims as { cnf?: { jkt?: string } }).cnf?.jkt !== jkt) return refuse('key mismatch', 'invalid_token');
      log.push({ outcome: 'accepted', htm: payload.htm as string, htu: payload.htu as string });
      response.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    })().catch((error: unknown) => {
      log.push({ outcome: `error: ${String(error)}` });
      response.writeHead(401, { 'www-authenticate': 'DPoP error="invalid_token"' }).end();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    log,
    bodies,
    reset() {
      log.length = 0;
      bodies.length = 0;
      nonce = randomBytes(16).toString('base64url');
    },
    async close() {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}
