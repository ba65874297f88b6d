import { randomBytes } from 'node:crypto';
import { Redis as IoRedis } from 'ioredis';
import { createClient } from 'redis';
import { describe, expect, it } from 'vitest';
import { createCredentialPool, createCredentialProvider, CredentialError, type MintedToken, type SecretValue } from '../../src/index.js';
import { credentialKey, FleetBreakerOpenError, redisCoordination, type RedisCoordination } from '../../src/redis/index.js';
import { OAuthError } from '../../src/oauth2/index.js';
import { countingIssuer, sleep, useRedisServer } from '../redis/harness.js';

/**
 * The Redis protocol against a real redis-server on loopback. Each "process" is a provider with its
 * own pair of connections and its own coordination, as a separate process would have; the issuer
 * is a counter. Real time, short tokens: bounded to a few seconds each.
 */
const sharedKey = credentialKey({ issuer: 'https://issuer.test/token', clientId: 'orders', scopes: ['b', 'a'] });
const redis = useRedisServer({ prefix: 'test', sharedKey });
const { key, cleanups, connections, flushRedis } = redis;
const issuer = countingIssuer;

/** A process with proactive refresh, as the fleet tests below run them. */
function process_<T extends SecretValue<T> = string>(mint: () => Promise<MintedToken<T>>, options: Partial<Parameters<typeof redisCoordination>[0]> = {}, providerOptions: object = {}) {
  return redis.fleetProcess<T>(mint, options, { refresh: 'proactive', ...providerOptions });
}

/** A bare coordination on its own connections (a process), for driving `share()` directly. */
async function bareCoordination(): Promise<RedisCoordination> {
  const { client, subscriber } = await connections();
  const coordination = redisCoordination({ client, subscriber, encryptionKey: key, prefix: 'test', pollMs: 100 });
  cleanups.push(() => coordination.close());
  return coordination;
}

describe('a fleet shares one token through Redis', () => {
  it('five processes: one mint for their start and one per refresh window, never five', async () => {
    await flushRedis();
    const { state, mint } = issuer(1_000);
    const fleet: Awaited<ReturnType<typeof process_>>[] = [];
    const setupStartedAt = Date.now();
    for (let index = 0; index < 5; index++) fleet.push(await process_(mint));
    // the first process minted and the other four adopted its token; a setup slower than a refresh
    // window (0.8 s of a 1 s token) on a busy machine may have seen that window's one refresh too
    expect(state.issued).toBeLessThanOrEqual(1 + Math.floor((Date.now() - setupStartedAt) / 800));
    expect(state.issued).toBeLessThan(5);
    // all five serve the one token: asked together, unless a refresh window's new token reaches some
    // of them before the others while they are asked (the old one is still valid then); on a busy
    // machine that happened, so they are asked again, a few times (five processes that each mint
    // their own never agree)
    const serving = () => Promise.all(fleet.map(({ provider }) => provider.currentToken().then((token) => token.secret.reveal())));
    let distinct = new Set(await serving()).size;
    for (let again = 0; again < 5 && distinct > 1; again++) {
      await sleep(100);
      distinct = new Set(await serving()).size;
    }
    expect(distinct).toBe(1);
    const startedAt = Date.now();
    let expiredServed = 0;
    while (Date.now() - startedAt < 3_200) {
      for (const { provider } of fleet) {
        const askedAt = Date.now();
        const token = await provider.currentToken();
        if (token.expiresAt !== null && token.expiresAt <= askedAt) expiredServed++;
      }
      await sleep(25);
    }
    // 1 s tokens refreshed at half their life for 3.2 s: about 6 windows, not 30
    console.log(`five processes, 3.2 s of 1 s tokens: ${state.issued} tokens issued`);
    expect(state.issued).toBeGreaterThanOrEqual(4);
    expect(state.issued).toBeLessThanOrEqual(9);
    expect(expiredServed).toBe(0);
  }, 20_000);

  it('the control: without coordination the same five processes mint five times', async () => {
    const { state, mint } = issuer(60_000);
    for (let index = 0; index < 5; index++) {
      const provider = await createCredentialProvider({ mint });
      cleanups.push(() => provider.stop());
    }
    expect(state.issued).toBe(5);
  });

  it('stores no secret byte in Redis, and a tampered value is rejected as no shared token, never served', async () => {
    await flushRedis();
    const { state, mint } = issuer(60_000);
    const first = await process_(mint);
    const secret = (await first.provider.currentToken()).secret.reveal();
    const { client } = await connections();
    const names = await client.keys('test:*');
    expect(names.length).toBeGreaterThan(0);
    for (const name of names) {
      if ((await client.type(name)) !== 'string') continue;
      const raw = (await client.get(name))!;
      expect(raw).not.toContain(secret);
      expect(raw).not.toContain(Buffer.from(secret).toString('base64').slice(0, 16));
    }
    const tokenName = names.find((name) => name.endsWith(':token'))!;
    const raw = (await client.get(tokenName))!;
    const parts = raw.split(':');
    const flipped = parts[3]!.startsWith('A') ? `B${parts[3]!.slice(1)}` : `A${parts[3]!.slice(1)}`;
    await client.set(tokenName, [parts[0], parts[1], parts[2], flipped].join(':'), { PX: 60_000 });
    const second = await process_(mint);
    expect(second.events).toContain('coordination.value-rejected');
    expect(state.issued).toBe(2); // it minted its own instead
    expect((await second.provider.currentToken()).secret.reveal()).not.toBe(secret);
  });

  it('a secret of several parts is shared whole and sealed, with the facts that travel with it', async () => {
    await flushRedis();
    let issued = 0;
    const triple = () => ({ accessKeyId: `ASIA-PARTONE-${issued}`, secretAccessKey: `SAK-PARTTWO-${randomBytes(6).toString('hex')}`, sessionToken: `ST-PARTTHREE-${issued}` });
    const mint = async () => {
      issued++;
      return { secret: triple(), expiresAt: Date.now() + 60_000, tokenType: 'Bearer', scope: 's3:GetObject', refreshAfter: Date.now() + 20_000 };
    };
    const first = await process_(mint);
    const second = await process_(mint);
    const [held, adopted] = await Promise.all([first.provider.currentToken(), second.provider.currentToken()]);
    expect(issued).toBe(1);
    expect(adopted.secret.reveal()).toEqual(held.secret.reveal());
    expect(adopted).toMatchObject({ tokenType: 'Bearer', scope: 's3:GetObject', refreshAfter: held.refreshAfter });
    const { client } = await connections();
    for (const name of await client.keys('test:*')) {
      if ((await client.type(name)) !== 'string') continue;
      const raw = (await client.get(name))!;
      for (const part of Object.values(held.secret.reveal())) expect(raw).not.toContain(part);
      expect(raw).not.toContain('s3:GetObject');
    }
  });

  it('a process holding another encryption key cannot open the shared token: it mints, and says so', async () => {
    await flushRedis();
    const { state, mint } = issuer(60_000);
    await process_(mint);
    const stranger = await process_(mint, { encryptionKey: { id: 'other', key: randomBytes(32) } });
    expect(stranger.events).toEqual(['coordination.value-rejected']);
    expect(state.issued).toBe(2);
  });

  it('an issuer outage across four processes costs about breakerThreshold attempts, then one probe per cooldown', async () => {
    await flushRedis();
    // 1.5 s tokens: short enough that the outage needs mints (due at 1.2 s), long enough that a busy
    // machine's scheduling delays do not expire one on its way from the issuer
    const { state, mint } = issuer(1_500);
    const policy = { breakerThreshold: 2, breakerCooldownMs: 500, mintTimeoutMs: 300 };
    const fleet = [];
    for (let index = 0; index < 4; index++) fleet.push(await process_(mint, { leaseMs: 600 }, policy));
    state.failing = true;
    state.attempts = 0;
    const startedAt = Date.now();
    while (Date.now() - startedAt < 2_600) {
      await Promise.all(fleet.map(({ provider }) => provider.currentToken().catch(() => null)));
      await sleep(20);
    }
    // 2 failures open the fleet's breaker; then one probe per 500 ms cooldown: about 2 + 5, not 4 x that
    console.log(`four processes, 2.6 s of outage: ${state.attempts} issuer attempts`);
    expect(state.attempts).toBeGreaterThanOrEqual(2);
    expect(state.attempts).toBeLessThanOrEqual(2 + Math.ceil(2_600 / 500) + 1);
    state.failing = false;
  }, 20_000);

  it('Redis stopped mid-run: every process keeps serving, mints alone, says so, and shares again when Redis is back', async () => {
    await flushRedis();
    const { state, mint } = issuer(600);
    const fleet: Awaited<ReturnType<typeof process_>>[] = [];
    for (let index = 0; index < 3; index++) fleet.push(await process_(mint, {}, { mintTimeoutMs: 500 }));
    await redis.server.stop();
    let failed = 0;
    const serveFor = async (ms: number) => {
      const until = Date.now() + ms;
      while (Date.now() < until) {
        for (const { provider } of fleet) await provider.currentToken().catch(() => failed++);
        await sleep(20);
      }
    };
    await serveFor(1_200);
    expect(failed).toBe(0);
    for (const { events } of fleet) expect(events).toContain('coordination.degraded');
    await redis.server.start();
    await sleep(400); // the clients reconnect
    await serveFor(1_500);
    expect(failed).toBe(0);
    for (const { events } of fleet) expect(events.at(-1)).toBe('coordination.restored');
    // sharing again: one mint per window for the three of them
    const before = state.issued;
    await serveFor(1_300);
    expect(state.issued - before).toBeLessThanOrEqual(4);
  }, 20_000);

  it('a lease holder that dies mid-mint (its connection gone, its lease never released) is replaced once the lease lapses', async () => {
    await flushRedis();
    const { state, mint } = issuer(60_000);
    let hang = true;
    const hanging = async (): Promise<MintedToken> => {
      if (hang) return new Promise<MintedToken>(() => {}); // never settles, ignores its signal
      return mint();
    };
    const leaseMs = 800;
    const holderConnections = await connections();
    const holder = redisCoordination({ ...holderConnections, encryptionKey: key, prefix: 'test', pollMs: 100, leaseMs, attemptTimeoutMs: 5_000 });
    const holderMint = holder.share(sharedKey, hanging, { breakerThreshold: 3, breakerCooldownMs: 1_000, maxRetryAfterMs: 10_000, mintTimeoutMs: 500, now: Date.now });
    const abandoned = new AbortController();
    void holderMint({ signal: abandoned.signal }).catch(() => {});
    await sleep(100);
    holderConnections.client.destroy(); // dead: it will never release
    holderConnections.subscriber.destroy();
    hang = false;
    const startedAt = Date.now();
    // the follower's own deadline (1.5 s) is longer than what is left of the dead holder's lease
    const follower = await process_(mint, { leaseMs: 2_000 }, { mintTimeoutMs: 1_500 });
    const tookOverAfter = Date.now() - startedAt;
    expect(state.issued).toBe(1);
    expect(tookOverAfter).toBeLessThanOrEqual(leaseMs + 100 + 300);
    expect(follower.provider.toJSON().validity).toBe('fresh');
    abandoned.abort();
    await holder.close();
  });

  it('a Retry-After from the issuer cools the whole fleet: the next process does not call the issuer until then', async () => {
    await flushRedis();
    let calls = 0;
    const limited = async (): Promise<MintedToken> => {
      calls++;
      throw new OAuthError('rate_limited', { status: 429, retryAfterMs: 2_000 });
    };
    const policy = { breakerThreshold: 5, breakerCooldownMs: 500, maxRetryAfterMs: 10_000, mintTimeoutMs: 1_000, now: Date.now };
    const first = (await bareCoordination()).share(sharedKey, limited, policy);
    const firstAskedAt = Date.now();
    await expect(first({ signal: new AbortController().signal })).rejects.toBeInstanceOf(OAuthError);
    const failedAt = Date.now();
    const second = (await bareCoordination()).share(sharedKey, limited, policy);
    const secondAskedAt = Date.now();
    const refused = await second({ signal: new AbortController().signal }).catch((caught: unknown) => caught);
    const refusedAt = Date.now();
    expect(refused).toBeInstanceOf(FleetBreakerOpenError);
    // open for the issuer's 2 s from the failure (not the 500 ms cooldown): what is left of them when
    // the second process asked, bounded by what the test observed (on a busy machine, asking takes a while)
    const { retryAfterMs } = refused as FleetBreakerOpenError;
    expect(retryAfterMs).toBeGreaterThanOrEqual(firstAskedAt + 2_000 - refusedAt - 1);
    expect(retryAfterMs).toBeLessThanOrEqual(failedAt + 2_000 - secondAskedAt + 1);
    expect(calls).toBe(1);
  });

  it('a Redis that lost its data (its fence counter restarted) is still shared from: tokens are told apart by their sealed IV, not by fence', async () => {
    await flushRedis();
    const { state, mint } = issuer(60_000);
    const first = await process_(mint);
    const second = await process_(mint);
    expect(state.issued).toBe(1);
    await flushRedis(); // Redis restarted without persistence: token, lease and fence counter gone
    first.provider.invalidate();
    await first.provider.currentToken(); // mints under fence 1 again
    second.provider.invalidate();
    const adopted = await second.provider.currentToken();
    expect(adopted.secret.reveal()).toBe((await first.provider.currentToken()).secret.reveal());
    expect(state.issued).toBe(2);
  });

  it('rotates encryption keys: a process sealing with a new key still opens values sealed with the old one', async () => {
    await flushRedis();
    const { state, mint } = issuer(60_000);
    const old = { id: 'k-old', key: randomBytes(32) };
    const fresh = { id: 'k-new', key: randomBytes(32) };
    await process_(mint, { encryptionKey: old });
    const rotated = await process_(mint, { encryptionKey: [fresh, old] });
    expect(rotated.events).toEqual([]);
    expect(state.issued).toBe(1);
  });

  it('an ioredis process and a node-redis process share one token', async () => {
    await flushRedis();
    const { state, mint } = issuer(60_000);
    const first = await process_(mint);
    const client = new IoRedis(redis.server.port, '127.0.0.1', { enableOfflineQueue: false, lazyConnect: true });
    const subscriber = client.duplicate();
    await client.connect();
    await subscriber.connect();
    cleanups.push(() => Promise.allSettled([client.quit(), subscriber.quit()]));
    const coordination = redisCoordination({ client, subscriber, encryptionKey: key, prefix: 'test' });
    cleanups.push(() => coordination.close());
    const second = await createCredentialProvider({ mint, coordination, sharedKey });
    cleanups.push(() => second.stop());
    expect(state.issued).toBe(1);
    expect((await second.currentToken()).secret.reveal()).toBe((await first.provider.currentToken()).secret.reveal());
  });

  it('two pools share every key: one mint per key, not per pool', async () => {
    await flushRedis();
    const { state, mint } = issuer(60_000);
    const pools = [];
    for (let index = 0; index < 2; index++) {
      const { client, subscriber } = await connections();
      const coordination = redisCoordination({ client, subscriber, encryptionKey: key, prefix: 'test', pollMs: 100 });
      const pool = createCredentialPool({ mint: () => mint(), coordination });
      cleanups.push(
        () => pool.stop(),
        () => coordination.close(),
      );
      pools.push(pool);
    }
    const tenants = ['t1', 't2', 't3'].map((tenant) => credentialKey({ issuer: 'https://issuer.test/token', clientId: 'orders', tenant }));
    for (const pool of pools) await Promise.all(tenants.map((tenant) => pool.currentToken(tenant)));
    expect(state.issued).toBe(3);
  });
});

describe('providers of one process on one coordination (issue 26: three made three mints at once)', () => {
  it('share the lease as processes do: one mint for their start, and they adopt each other’s token', async () => {
    await flushRedis();
    const { state, mint } = issuer(60_000);
    const { client, subscriber } = await connections();
    const coordination = redisCoordination({ client, subscriber, encryptionKey: key, prefix: 'test', pollMs: 100 });
    cleanups.push(() => coordination.close());
    const providers = await Promise.all(
      Array.from({ length: 3 }, async () => {
        const provider = await createCredentialProvider({ mint: () => mint(), coordination, sharedKey });
        cleanups.push(() => provider.stop());
        return provider;
      }),
    );
    expect(state.issued).toBe(1);
    const tokens = await Promise.all(providers.map((provider) => provider.currentToken()));
    expect(new Set(tokens.map((token) => token.secret.reveal())).size).toBe(1);
    // one of them replaces its token (refused upstream): it mints under the lease, the others keep theirs until they refresh, then adopt it
    expect(providers[0]!.invalidate(tokens[0]!)).toBe(true);
    const replaced = await providers[0]!.currentToken();
    expect(state.issued).toBe(2);
    expect(providers[1]!.invalidate(tokens[1]!)).toBe(true);
    expect((await providers[1]!.currentToken()).secret.reveal()).toBe(replaced.secret.reveal());
    expect(state.issued).toBe(2);
  });
});

describe('bad coordination config fails at construction', () => {
  it('a lease that does not outlive mintTimeoutMs, a missing sharedKey, and a client that is not a Redis client', async () => {
    const { client, subscriber } = await connections();
    const coordination: RedisCoordination = redisCoordination({ client, subscriber, encryptionKey: key, leaseMs: 1_000 });
    const mint = async () => ({ secret: 's', expiresAt: Date.now() + 60_000 });
    await expect(createCredentialProvider({ mint, coordination, sharedKey, mintTimeoutMs: 1_000 })).rejects.toMatchObject({ code: 'INVALID_CONFIG', message: expect.stringContaining('leaseMs') });
    await expect(createCredentialProvider({ mint, coordination })).rejects.toMatchObject({ code: 'INVALID_CONFIG', message: expect.stringContaining('sharedKey') });
    expect(() => createCredentialPool({ mint, coordination, mintTimeoutMs: 1_000 })).toThrow(/leaseMs/);
    expect(() => redisCoordination({ client: {} as never, subscriber, encryptionKey: key })).toThrow(CredentialError);
    // issue 26: the same connection twice, and a client never connected, were accepted (the fleet ran degraded, silently)
    expect(() => redisCoordination({ client, subscriber: client, encryptionKey: key })).toThrow(/not the client itself/);
    const unconnected = createClient({ url: redis.server.url, disableOfflineQueue: true });
    expect(() => redisCoordination({ client: unconnected, subscriber, encryptionKey: key })).toThrow(/client is not connected: connect it first/);
    const lazy = new IoRedis(redis.server.url, { lazyConnect: true, enableOfflineQueue: false });
    expect(() => redisCoordination({ client: lazy, subscriber: lazy.duplicate(), encryptionKey: key })).toThrow(/client is not connected/);
    lazy.disconnect();
    const queueing = createClient({ url: redis.server.url }); // never connected: only its options are read
    expect(() => redisCoordination({ client: queueing, subscriber, encryptionKey: key })).toThrow(/disableOfflineQueue: true/);
    expect(() => redisCoordination({ client, subscriber, encryptionKey: { id: 'short', key: randomBytes(16) } })).toThrow(/32 random bytes/);
    // issue 26: a TypeError before
    expect(() => redisCoordination({ client, subscriber, encryptionKey: [undefined] as never })).toThrow(
      expect.objectContaining({ code: 'INVALID_CONFIG', message: expect.stringContaining('must be { id, key }') }),
    );
    await coordination.close();
  });
});
