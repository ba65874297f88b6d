import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchWithToken } from '../../examples/fetch-with-token.js';
import { startProtectedApi, type ProtectedApi } from '../../examples/protected-api.js';
import { startTokenServer, type TokenServer } from '../../examples/token-server.js';
import { createCredentialProvider, CredentialError, type CredentialProvider } from '../../src/index.js';
import { clientCredentialsMint } from '../../src/oauth2/index.js';
import { OAuthError } from '../../src/oauth2/oauth-error.js';
import { Secret } from '../../machines/secret.js';

/**
 * Against a real authorization server (oidc-provider) and a real protected API, on loopback, with
 * the real clock and two-second tokens: bounded to about ten seconds, with generous margins so a
 * loaded machine does not make it flaky.
 */
const CLIENT_ID = 'billing-service';
const CLIENT_SECRET = 'client-secret-6a1f0e-never-in-an-error';
let tokenServer: TokenServer;
let api: ProtectedApi;

beforeAll(async () => {
  tokenServer = await startTokenServer({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, accessTokenTtlSeconds: 2 });
  api = await startProtectedApi(tokenServer);
});
afterAll(async () => {
  await api?.close();
  await tokenServer?.stop();
});

const mintOptions = () => ({
  tokenEndpoint: tokenServer.tokenEndpoint,
  clientId: CLIENT_ID,
  clientSecret: new Secret(CLIENT_SECRET),
  resource: tokenServer.audience,
  allowInsecureRequests: true,
});

describe('clientCredentialsMint()', () => {
  it('mints a JWT access token the API accepts, expiring at the earlier of expires_in after the request was sent and the JWT’s exp', async () => {
    const sentAfter = Date.now();
    const minted = await clientCredentialsMint(mintOptions())({ signal: new AbortController().signal });
    const receivedBy = Date.now();
    const secret = minted.secret as Secret;
    const exp = (JSON.parse(Buffer.from(secret.reveal().split('.')[1]!, 'base64url').toString('utf8')) as { exp: number }).exp * 1000;
    // oidc-provider rounds iat down, so exp can be up to a second before sent + expires_in (issue 26)
    expect(minted.expiresAt).toBeLessThanOrEqual(exp);
    expect(minted.expiresAt).toBeGreaterThanOrEqual(sentAfter + 2_000 - 1_000);
    expect(minted.expiresAt).toBeLessThanOrEqual(receivedBy + 2_000);
    expect(String(secret)).toBe('<REDACTED>');
    const response = await fetch(api.url, { headers: { authorization: `Bearer ${secret.reveal()}` } });
    expect(response.status).toBe(200);
  });

  it('discovers the token endpoint from the issuer', async () => {
    const mint = clientCredentialsMint({ ...mintOptions(), tokenEndpoint: undefined, issuer: tokenServer.issuer });
    const minted = await mint({ signal: new AbortController().signal });
    expect(typeof (minted.secret as Secret).reveal()).toBe('string');
  });

  it('turns an OAuth error response into an OAuthError without the client secret', async () => {
    const mint = clientCredentialsMint({ ...mintOptions(), clientSecret: `${CLIENT_SECRET}-wrong` });
    const error = await mint({ signal: new AbortController().signal }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(OAuthError);
    expect((error as OAuthError).error).toBe('invalid_client');
    expect((error as OAuthError).status).toBe(401);
    for (const text of [(error as Error).message, JSON.stringify(error), String((error as Error).stack)]) {
      expect(text).not.toContain(CLIENT_SECRET);
    }
  });

  it('aborts the request with the caller’s signal', async () => {
    const controller = new AbortController();
    const pending = clientCredentialsMint(mintOptions())({ signal: controller.signal });
    controller.abort(new Error('gave up'));
    await expect(pending).rejects.toThrow('gave up');
  });

  it('rejects bad options at once', () => {
    expect(() => clientCredentialsMint({ ...mintOptions(), clientId: '' })).toThrow(CredentialError);
    expect(() => clientCredentialsMint({ ...mintOptions(), tokenEndpoint: undefined })).toThrow(/tokenEndpoint or issuer/);
    expect(() => clientCredentialsMint({ ...mintOptions(), clientSecret: '' })).toThrow(/clientSecret/);
  });
});

describe('a proactive provider serving a protected API through token lifetimes and an issuer outage', () => {
  it('never serves an expired token, opens the breaker, probes, recovers', { timeout: 40_000 }, async () => {
    const breaker: string[] = [];
    const breakerLog: [number, string][] = [];
    let mints = 0;
    const provider: CredentialProvider = await createCredentialProvider({
      mint: clientCredentialsMint(mintOptions()),
      refresh: 'proactive',
      refreshAt: 0.5,
      refreshFloorMs: 500,
      breakerThreshold: 2,
      breakerCooldownMs: 1_000,
      mintTimeoutMs: 2_000,
      reporters: {
        refresh: { onRefreshSucceeded: () => mints++ },
        breaker: {
          onBreakerStateChanged: ({ from, to }) => {
            breaker.push(`${from}->${to}`);
            breakerLog.push([Date.now(), `${from}->${to}`]);
          },
        },
      },
    });
    const outcomes: { at: number; status: number | 'BREAKER_OPEN' | 'MINT_FAILED' }[] = [];
    let expiredServed = 0;
    const request = async () => {
      const at = Date.now();
      try {
        const token = await provider.currentToken();
        if (token.expiresAt !== null && token.expiresAt <= Date.now()) expiredServed++;
        const response = await fetchWithToken(provider, api.url);
        outcomes.push({ at, status: response.status });
      } catch (error) {
        // no valid token: refused with the breaker open, or failed with the mint the caller waited on
        if (error instanceof CredentialError && error.code === 'BREAKER_OPEN') outcomes.push({ at, status: 'BREAKER_OPEN' });
        else if (error instanceof OAuthError && error.error === 'request_failed') outcomes.push({ at, status: 'MINT_FAILED' });
        else throw error;
      }
    };
    const runUntil = async (done: () => boolean, limitMs: number) => {
      const deadline = Date.now() + limitMs;
      while (!done() && Date.now() < deadline) {
        await request();
        await sleep(100);
      }
    };
    try {
      // healthy: several two-second lifetimes, refreshed at half-life
      const healthyFrom = Date.now();
      await runUntil(() => Date.now() - healthyFrom >= 4_500, 4_500);
      const healthyMs = Date.now() - healthyFrom;
      expect(outcomes.length).toBeGreaterThan(10);
      expect(
        outcomes.filter(({ status }) => status !== 200),
        'healthy phase: every request accepted',
      ).toEqual([]);
      // one refresh per second of healthy running (the construction mint is not reported)
      expect(mints).toBeGreaterThanOrEqual(Math.floor(healthyMs / 1_000) - 1);
      expect(mints).toBeLessThanOrEqual(Math.ceil(healthyMs / 1_000) + 1);

      // outage: served while the token lasts, then the breaker opens and a probe fails
      await tokenServer.stop();
      const outageFrom = Date.now();
      // Requests past the refresh instant each try a refresh, so the breaker opens and a probe fails
      // well before the token expires; keep going until callers meet the expired token too.
      const refusedLocally = () => outcomes.some(({ at, status }) => at >= outageFrom && status === 'BREAKER_OPEN');
      await runUntil(() => breaker.includes('halfOpen->open') && refusedLocally(), 10_000);
      expect(breaker.slice(0, 3)).toEqual(['closed->open', 'open->halfOpen', 'halfOpen->open']);
      const duringOutage = outcomes.filter(({ at }) => at >= outageFrom);
      expect(duringOutage[0]?.status).toBe(200); // serve-stale while the token is valid
      expect(
        duringOutage.some(({ status }) => status === 'BREAKER_OPEN'),
        JSON.stringify({ duringOutage: duringOutage.map(({ at, status }) => [at - outageFrom, status]), breakerLog }),
      ).toBe(true);

      // recovery: the next probe succeeds and requests are served again
      await tokenServer.start();
      await runUntil(() => breaker.at(-1) === 'halfOpen->closed' && outcomes.at(-1)?.status === 200, 10_000);
      expect(breaker.at(-1)).toBe('halfOpen->closed');
      expect(outcomes.at(-1)?.status).toBe(200);

      expect(expiredServed).toBe(0);
      expect(outcomes.some(({ status }) => status === 401)).toBe(false);
      expect(api.refused).toEqual({});
    } finally {
      await provider.stop();
      await tokenServer.start();
    }
  });

  it('invalidates a token the API refuses and retries once with a new one', { timeout: 15_000 }, async () => {
    const provider = await createCredentialProvider({ mint: clientCredentialsMint(mintOptions()), refresh: 'proactive', refreshAt: 0.5, refreshFloorMs: 500 });
    try {
      const refused = await provider.currentToken();
      api.revoke(refused.secret.reveal());
      const response = await fetchWithToken(provider, api.url);
      expect(response.status).toBe(200);
      expect(api.refused.revoked).toBe(1);
      expect((await provider.currentToken()).secret.equals(refused.secret)).toBe(false);
    } finally {
      await provider.stop();
    }
  });
});
