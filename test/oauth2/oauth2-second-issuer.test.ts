/**
 * The OAuth mints against a second issuer that nobody on the project wrote: oauth2-mock-server
 * (signed JWTs from its own JWKS, its own discovery document, its own token endpoint), beside
 * oidc-provider in `test/oauth2/oauth2-integration.test.ts`. What our fakes agree with by construction,
 * a peer written apart from our reading of the RFCs need not.
 */
import type { AddressInfo } from 'node:net';
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import { OAuth2Server } from 'oauth2-mock-server';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createCredentialProvider, CredentialError } from '../../src/index.js';
import { clientCredentialsMint, OAuthError, refreshTokenMint } from '../../src/oauth2/index.js';

let server: OAuth2Server;
let issuer: string;
const CLIENT_SECRET = 'mock-server-client-secret';

beforeAll(async () => {
  server = new OAuth2Server();
  await server.issuer.keys.generate('RS256');
  await server.start(0, '127.0.0.1');
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  server.issuer.url = issuer;
});
afterAll(async () => {
  await server?.stop();
});
afterEach(() => {
  server.service.removeAllListeners();
});

type TokenResponse = { body: Record<string, unknown>; statusCode: number };
type TokenRequest = { body: Record<string, string> };

describe('the OAuth mints against oauth2-mock-server (a second, independent issuer)', () => {
  it('client credentials against oauth2-mock-server: discovered from the issuer, a JWT its JWKS verifies, expiring no later than its exp', async () => {
    const before = Date.now();
    const provider = await createCredentialProvider({
      mint: clientCredentialsMint({ issuer, clientId: 'orders', clientSecret: CLIENT_SECRET, scopes: ['orders:read'], allowInsecureRequests: true }),
    });
    try {
      const token = await provider.currentToken();
      const { payload } = await jwtVerify(token.secret.reveal(), createRemoteJWKSet(new URL(`${issuer}/jwks`)), { issuer });
      expect(payload.scope).toBe('orders:read');
      expect(token.scope).toBe('orders:read');
      expect(token.tokenType).toBe('Bearer');
      // its exp is iat (whole seconds) + 3600: the earlier of it and sent + expires_in
      expect(token.expiresAt).toBeLessThanOrEqual(payload.exp! * 1_000);
      expect(token.expiresAt).toBeGreaterThanOrEqual(Math.min(payload.exp! * 1_000, before + 3_600_000));
    } finally {
      await provider.stop();
    }
  });

  it('a response without expires_in: the JWT’s exp decides, not for ever', async () => {
    server.service.on('beforeTokenSigning', (token: { payload: { iat: number; exp: number } }) => {
      token.payload.exp = token.payload.iat + 90;
    });
    server.service.on('beforeResponse', (response: TokenResponse) => {
      delete response.body.expires_in;
    });
    const mint = clientCredentialsMint({ tokenEndpoint: `${issuer}/token`, clientId: 'orders', clientSecret: CLIENT_SECRET, allowInsecureRequests: true });
    const minted = await mint({ signal: new AbortController().signal });
    const { exp } = decodeJwt(typeof minted.secret === 'string' ? minted.secret : minted.secret.reveal());
    expect(minted.expiresAt).toBe(exp! * 1_000);
  });

  it('its error response becomes an OAuthError with its code and words, a CredentialError, and never the client secret', async () => {
    server.service.on('beforeResponse', (response: TokenResponse) => {
      response.statusCode = 401;
      response.body = { error: 'invalid_client', error_description: 'client authentication failed' };
    });
    const mint = clientCredentialsMint({ tokenEndpoint: `${issuer}/token`, clientId: 'orders', clientSecret: CLIENT_SECRET, allowInsecureRequests: true });
    const error = await mint({ signal: new AbortController().signal }).then(
      () => null,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(OAuthError);
    expect(error).toBeInstanceOf(CredentialError);
    expect(error).toMatchObject({ code: 'OAUTH_ERROR', error: 'invalid_client', errorDescription: 'client authentication failed', status: 401, step: 'token request' });
    expect(JSON.stringify(error) + String((error as Error).message)).not.toContain(CLIENT_SECRET);
  });

  it('an outage at it opens the breaker after the threshold; the probe that finds it back closes it', async () => {
    let down = true;
    let asked = 0;
    server.service.on('beforeResponse', (response: TokenResponse) => {
      asked++;
      if (!down) return;
      response.statusCode = 503;
      response.body = { error: 'temporarily_unavailable' };
    });
    const provider = await createCredentialProvider({
      mint: clientCredentialsMint({ tokenEndpoint: `${issuer}/token`, clientId: 'orders', clientSecret: CLIENT_SECRET, allowInsecureRequests: true }),
      firstMint: 'lazy',
      breakerThreshold: 2,
      breakerCooldownMs: 300,
    });
    try {
      for (let attempt = 0; attempt < 2; attempt++) await expect(provider.currentToken()).rejects.toMatchObject({ code: 'OAUTH_ERROR', error: 'temporarily_unavailable', status: 503 });
      await expect(provider.currentToken()).rejects.toMatchObject({ code: 'BREAKER_OPEN' });
      expect(asked).toBe(2);
      down = false;
      await expect
        .poll(
          () =>
            provider.currentToken().then(
              () => true,
              () => false,
            ),
          { timeout: 5_000, interval: 100 },
        )
        .toBe(true);
      expect(asked).toBe(3); // one probe after the cooldown, and it closed the breaker
      expect(provider.toJSON().breaker).toBe('closed');
    } finally {
      await provider.stop();
    }
  });

  it('refresh-token rotation against it: each grant sends the refresh token the previous answer returned, none twice', async () => {
    const sent: string[] = [];
    const returned: string[] = [];
    server.service.on('beforeResponse', (response: TokenResponse, request: TokenRequest) => {
      if (request.body.grant_type !== 'refresh_token') return;
      sent.push(request.body.refresh_token!);
      returned.push(String(response.body.refresh_token));
    });
    const provider = await createCredentialProvider({
      mint: refreshTokenMint({ tokenEndpoint: `${issuer}/token`, clientId: 'reports-cli', refreshToken: 'refresh-token-from-sign-in', allowInsecureRequests: true }),
      invalidateMinIntervalMs: 0,
    });
    try {
      let token = await provider.currentToken();
      for (let round = 0; round < 3; round++) token = await provider.currentToken({ rejected: token });
      expect(sent).toHaveLength(4);
      expect(sent[0]).toBe('refresh-token-from-sign-in');
      for (let index = 1; index < sent.length; index++) expect(sent[index]).toBe(returned[index - 1]);
      expect(new Set(sent).size).toBe(sent.length);
    } finally {
      await provider.stop();
    }
  });
});
