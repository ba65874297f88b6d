import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connectRedisPair, startRedisServer, type RedisServer } from '../../examples/redis-server.js';
import { startTokenServer, type TokenServer } from '../../examples/token-server.js';
import { createCredentialProvider, CredentialError } from '../../src/index.js';
import { OAuthError, refreshTokenMint } from '../../src/oauth2/index.js';
import { credentialKey, redisCoordination } from '../../src/redis/index.js';
import { askReport, closeWorkers, flushRedis, killWorkers, sleep, startWorker, stopWorker, workerSettings } from '../fleet/harness.js';
import { startGrantForwarder } from '../fleet/grant-forwarder.js';
import { startTcpProxy, type TcpProxy } from '../redis/tcp-proxy.js';
import type { WorkerSettings } from '../fleet/worker.js';

/**
 * Rotating refresh tokens against the real oidc-provider, with rotation on and reuse detection (a
 * consumed refresh token used again revokes the whole grant: lib/actions/grants/refresh_token.js,
 * "refresh token already used"), and a fleet of real processes on a real redis-server. Real time.
 */
const CLIENT_ID = 'rotating-client';
const CLIENT_SECRET = 'rotating-client-secret-never-logged';
let redis: RedisServer;
let issuer: TokenServer;
const encryptionKeyHex = randomBytes(32).toString('hex');

beforeAll(async () => {
  redis = await startRedisServer();
  issuer = await startTokenServer({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, accessTokenTtlSeconds: 2, refreshTokens: true });
}, 60_000);
afterAll(async () => {
  closeWorkers();
  await issuer?.stop();
  await redis?.stop();
});
afterEach(() => killWorkers());

const mintOptions = (refreshToken: string, fetchImpl?: typeof fetch) => ({
  tokenEndpoint: issuer.tokenEndpoint,
  clientId: CLIENT_ID,
  clientSecret: CLIENT_SECRET,
  refreshToken,
  allowInsecureRequests: true,
  ...(fetchImpl === undefined ? {} : { fetch: fetchImpl }),
});
const signal = () => new AbortController().signal;

const fleetSettings = (refreshToken: string, overrides: Partial<WorkerSettings> = {}) =>
  workerSettings({ redisUrl: redis.url, issuer, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, encryptionKeyHex }, { refreshToken, ...overrides });

describe('refreshTokenMint() on one process', () => {
  it('rotates: each grant returns a new refresh token, used by the next', async () => {
    const mint = refreshTokenMint(mintOptions(await issuer.issueRefreshToken()));
    const before = { invalid: issuer.invalidGrants, revoked: issuer.grantsRevoked };
    const rotations: string[] = [];
    mint.on('rotated', ({ refreshToken }) => rotations.push(refreshToken.reveal()));
    for (let index = 0; index < 3; index++) await mint({ signal: signal() });
    await sleep(10);
    expect(new Set(rotations).size).toBe(3);
    expect(issuer.invalidGrants - before.invalid).toBe(0);
    expect(issuer.grantsRevoked - before.revoked).toBe(0);
  });

  it('the control: two processes alone with one refresh token trip reuse detection, and the family is revoked', async () => {
    const shared = await issuer.issueRefreshToken();
    const first = refreshTokenMint(mintOptions(shared));
    const second = refreshTokenMint(mintOptions(shared));
    const revokedBefore = issuer.grantsRevoked;
    await first({ signal: signal() });
    const error = await second({ signal: signal() }).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: 'REFRESH_TOKEN_UNUSABLE', refusal: { error: 'invalid_grant' } });
    expect((error as CredentialError).cause).toBeInstanceOf(OAuthError);
    expect(issuer.grantsRevoked - revokedBefore).toBe(1);
    // the first process's rotated token died with the family: the issuer says so, once
    expect(await first({ signal: signal() }).catch((caught: unknown) => caught)).toMatchObject({ code: 'REFRESH_TOKEN_UNUSABLE', refusal: { error: 'invalid_grant' } });
  });

  it('a grant whose outcome is unknown is never replayed with the same refresh token', async () => {
    let sent = 0;
    // the request reaches the issuer (and spends the token), the response is lost on the way back
    const losingFetch: typeof fetch = async (input, init) => {
      sent++;
      await fetch(input, init);
      throw new TypeError('fetch failed', { cause: Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }) });
    };
    const mint = refreshTokenMint(mintOptions(await issuer.issueRefreshToken(), losingFetch));
    const error = await mint({ signal: signal() }).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ name: 'OAuthError', error: 'request_failed' });
    expect(await mint({ signal: signal() }).catch((caught: unknown) => caught)).toMatchObject({ code: 'REFRESH_TOKEN_UNUSABLE' });
    expect(sent).toBe(1);
  });
});

describe('rotating refresh tokens across a fleet on Redis', () => {
  // Six seconds, about six rotations, each contended by eight processes: that the protocol works
  // across real processes, a real Redis and an issuer with reuse detection. Many windows under faults
  // are the seeded simulation's job (test/simulation/fleet.sim.test.ts: 1,000 schedules on simulated
  // time); this ran 60 s, then 12 s, before.
  it('8 processes for 6 s: zero invalid_grant, the token family never revoked', async () => {
    await flushRedis(redis.url);
    const refreshToken = await issuer.issueRefreshToken();
    const before = { invalid: issuer.invalidGrants, revoked: issuer.grantsRevoked, issued: issuer.issued };
    const fleet = Array.from({ length: 8 }, () => startWorker(fleetSettings(refreshToken)));
    await Promise.all(fleet.map(({ ready }) => ready));
    const startedAt = Date.now();
    await sleep(6_000);
    const seconds = (Date.now() - startedAt) / 1_000;
    const reports = await Promise.all(fleet.map(({ child }) => stopWorker(child)));
    const issued = issuer.issued - before.issued;
    console.log(`rotation, 8 processes, ${seconds.toFixed(1)} s: ${issued} grants, ${issuer.invalidGrants - before.invalid} invalid_grant, ${issuer.grantsRevoked - before.revoked} revoked`);
    expect(issuer.invalidGrants - before.invalid).toBe(0);
    expect(issuer.grantsRevoked - before.revoked).toBe(0);
    expect(issued).toBeGreaterThanOrEqual(Math.floor(seconds * 0.66)); // a grant per ~1 s window: the family kept rotating all along
    for (const report of reports) {
      expect(report.failures).toEqual([]);
      expect(report.expiredServed).toBe(0);
    }
  }, 60_000);

  it('the control: the same fleet without coordination trips reuse detection within seconds', async () => {
    const refreshToken = await issuer.issueRefreshToken();
    const before = { invalid: issuer.invalidGrants, revoked: issuer.grantsRevoked };
    const fleet = Array.from({ length: 8 }, () => startWorker(fleetSettings(refreshToken, { alone: true })));
    await Promise.allSettled(fleet.map(({ ready }) => ready));
    // within seconds: the test ends as soon as the issuer has revoked the family (10 s at most)
    await expect
      .poll(() => ({ invalid: issuer.invalidGrants - before.invalid > 0, revoked: issuer.grantsRevoked - before.revoked >= 1 }), { timeout: 10_000, interval: 50 })
      .toEqual({ invalid: true, revoked: true });
    await Promise.all(fleet.map(({ child }) => stopWorker(child).catch(() => null)));
  }, 60_000);

  /**
   * Three processes, each to redis-server through its own TCP proxy, and to the issuer through a
   * forwarder that holds the next grant: the test learns which process holds the lease for it, breaks
   * that process's Redis connection while the grant is at the issuer, lets the answer reach it, then
   * heals the connection.
   */
  async function holderCutOffMidGrant(cut: (proxy: TcpProxy) => Promise<void>) {
    await flushRedis(redis.url);
    const refreshToken = await issuer.issueRefreshToken();
    const before = { invalid: issuer.invalidGrants, revoked: issuer.grantsRevoked };
    const issuedBefore = issuer.issued;
    const forwarder = await startGrantForwarder(issuer.tokenEndpoint);
    const proxies = await Promise.all([0, 1, 2].map(() => startTcpProxy(redis.port)));
    try {
      const fleet = proxies.map((proxy, index) => startWorker(fleetSettings(refreshToken, { redisUrl: proxy.url, tokenEndpoint: forwarder.tokenEndpoint, name: `w${index}` })));
      await Promise.all(fleet.map(({ ready }) => ready));
      await expect.poll(() => issuer.issued - issuedBefore, { timeout: 10_000, interval: 20 }).toBeGreaterThanOrEqual(1); // rotating
      forwarder.state.holdNext = true;
      await expect.poll(() => forwarder.state.held, { timeout: 10_000, interval: 20 }).not.toBeNull();
      const held = forwarder.state.held!;
      const holder = Number(held.worker.slice(1));
      await cut(proxies[holder]!);
      await held.release(); // the grant reaches the issuer (its refresh token is spent); its answer reaches the holder
      await sleep(3_000);
      proxies[holder]!.partitioned = false;
      const issuedAtHeal = issuer.issued;
      const servedAtHeal = await Promise.all(fleet.map(({ child }) => askReport(child)));
      // the holder writes the rotated refresh token to Redis; the fleet goes on from it: two grants
      // after the heal and every process served since (10 s at most)
      await expect
        .poll(
          async () => {
            const served = await Promise.all(fleet.map(({ child }) => askReport(child)));
            return issuer.issued - issuedAtHeal >= 2 && served.every((report, index) => report.served > servedAtHeal[index]!.served);
          },
          { timeout: 10_000, interval: 100 },
        )
        .toBe(true);
      const reports = await Promise.all(fleet.map(({ child }) => stopWorker(child)));
      console.log(
        `holder cut off mid-grant: ${issuer.issued - issuedAtHeal} grants after the heal; served after the heal: ${reports.map((report, index) => report.served - servedAtHeal[index]!.served).join(', ')}; failures: ${[...new Set(reports.flatMap((report) => report.failures))].join(' | ')}`,
      );
      expect(issuer.invalidGrants - before.invalid).toBe(0);
      expect(issuer.grantsRevoked - before.revoked).toBe(0);
      expect(issuer.issued - issuedAtHeal).toBeGreaterThan(0); // the family went on rotating
      reports.forEach((report, index) => {
        expect(report.served - servedAtHeal[index]!.served).toBeGreaterThan(0);
        expect(report.expiredServed).toBe(0);
        // nobody was signed out, and no token that had expired on its way (a late publish) was handed out
        expect(report.failures.filter((failure) => /sign in again|invalid_grant|expired at .* but landed/.test(failure))).toEqual([]);
      });
    } finally {
      await Promise.all([forwarder.close(), ...proxies.map((proxy) => proxy.close())]);
    }
  }

  it('the holder partitioned from Redis for 3 s while its grant is at the issuer: nobody sends its spent refresh token; healed, the fleet goes on from the rotated one', async () => {
    await holderCutOffMidGrant(async (proxy) => {
      proxy.partitioned = true;
    });
  }, 60_000);

  it('the holder’s Redis connection reset as its grant reaches the issuer: its write is tried again until it lands; nobody sends the spent refresh token', async () => {
    await holderCutOffMidGrant(async (proxy) => {
      proxy.reset();
      proxy.partitioned = true; // and unreachable for a moment, so its first writes fail
    });
  }, 60_000);

  it('a grant with an unknown outcome marks the fleet’s refresh token spent: no process sends it again', async () => {
    await flushRedis(redis.url);
    const sharedKey = credentialKey({ issuer: issuer.tokenEndpoint, clientId: CLIENT_ID, tenant: 'user-spent' });
    const sealing = { id: 'k', key: Buffer.from(encryptionKeyHex, 'hex') };
    const policy = { breakerThreshold: 5, breakerCooldownMs: 1_000, maxRetryAfterMs: 10_000, mintTimeoutMs: 2_000, now: Date.now };
    let sent = 0;
    // the request reaches the issuer (and spends the token), the response is lost on the way back
    const losingFetch: typeof fetch = async (input, init) => {
      sent++;
      await fetch(input, init);
      throw new TypeError('fetch failed', { cause: Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }) });
    };
    const counting: typeof fetch = (input, init) => {
      sent++;
      return fetch(input, init);
    };
    const initial = await issuer.issueRefreshToken();
    const first = await connectRedisPair(redis.url);
    const second = await connectRedisPair(redis.url);
    const processA = redisCoordination({ ...first, encryptionKey: sealing, prefix: 'spent' });
    const processB = redisCoordination({ ...second, encryptionKey: sealing, prefix: 'spent' });
    try {
      const lost = await processA
        .share(
          sharedKey,
          refreshTokenMint(mintOptions(initial, losingFetch)),
          policy,
        )({ signal: signal() })
        .catch((caught: unknown) => caught);
      expect(lost).toMatchObject({ name: 'OAuthError', error: 'request_failed' });
      // another process, holding the same starting refresh token, must not send it either
      const refused = await processB
        .share(
          sharedKey,
          refreshTokenMint(mintOptions(initial, counting)),
          policy,
        )({ signal: signal() })
        .catch((caught: unknown) => caught);
      expect(refused).toMatchObject({ code: 'REFRESH_TOKEN_UNUSABLE' });
      expect(sent).toBe(1);
    } finally {
      await Promise.allSettled([processA.close(), processB.close()]);
      await Promise.allSettled([first.client.close(), first.subscriber.close(), second.client.close(), second.subscriber.close()]);
    }
  });

  it('no refresh-token grant while Redis is down, and the shared state holds no refresh-token byte', async () => {
    await flushRedis(redis.url);
    const { client, subscriber } = await connectRedisPair(redis.url, { connectTimeoutMs: 300 });
    const coordination = redisCoordination({ client, subscriber, encryptionKey: { id: 'k', key: Buffer.from(encryptionKeyHex, 'hex') }, prefix: 'rotation', commandTimeoutMs: 300 });
    const initial = await issuer.issueRefreshToken();
    let grants = 0;
    let rotatedTo = '';
    const counting: typeof fetch = (input, init) => {
      grants++;
      return fetch(input, init);
    };
    const mint = refreshTokenMint(mintOptions(initial, counting));
    mint.on('rotated', ({ refreshToken }) => (rotatedTo = refreshToken.reveal()));
    const provider = await createCredentialProvider({
      mint,
      coordination,
      sharedKey: credentialKey({ issuer: issuer.tokenEndpoint, clientId: CLIENT_ID, tenant: 'user-1' }),
      mintTimeoutMs: 2_000,
    });
    expect(grants).toBe(1);
    await sleep(10);
    const names = await client.keys('rotation:*');
    expect(names.some((name) => name.endsWith(':state'))).toBe(true);
    expect(rotatedTo).not.toBe(initial);
    for (const name of names) {
      if ((await client.type(name)) !== 'string') continue;
      const value = (await client.get(name)) ?? '';
      expect(value).not.toContain(rotatedTo.slice(0, 12));
      expect(value).not.toContain(initial.slice(0, 12));
    }
    await redis.stop();
    provider.invalidate(); // the next call would mint
    const refused = await provider.currentToken().catch((caught: unknown) => caught);
    expect(refused).toBeInstanceOf(CredentialError);
    expect(grants).toBe(1); // the grant never ran
    await provider.stop();
    await coordination.close();
    await redis.start();
    await sleep(300);
    await Promise.allSettled([client.close(), subscriber.close()]);
  }, 30_000);
});
