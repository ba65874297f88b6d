import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { createCredentialProvider, type MintedToken, type SecretValue } from '../../src/index.js';
import { redisCoordination, type CoordinationEvent, type RedisCoordinationOptions } from '../../src/redis/index.js';
import { connectRedisPair, startRedisServer, type RedisServer } from '../../examples/redis-server.js';

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A real redis-server on loopback for one test file (started before its tests, stopped after), and
 * what those tests build on it: each "process" is a provider with its own pair of connections and
 * its own coordination, as a separate process would have. Everything made is cleaned up after each test.
 *
 * @example
 * ```ts
 * const redis = useRedisServer({ prefix: 'test', sharedKey });
 * const { provider } = await redis.fleetProcess(issuer(60_000).mint);
 * ```
 */
export function useRedisServer(defaults: { prefix: string; sharedKey: string }) {
  let server: RedisServer | undefined;
  const cleanups: (() => Promise<unknown> | unknown)[] = [];
  const key = { id: 'k1', key: randomBytes(32) };
  beforeAll(async () => {
    server = await startRedisServer();
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
  });
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  /** A process's two connections (commands, subscriber), offline queue off, errors handled. */
  async function connections() {
    const pair = await connectRedisPair(harness.server.url, { connectTimeoutMs: 500 });
    cleanups.push(() => Promise.allSettled([pair.client.close(), pair.subscriber.close()]));
    return pair;
  }

  const harness = {
    get server(): RedisServer {
      if (server === undefined) throw new Error('the redis-server has not started');
      return server;
    },
    /** The encryption key every process of the file shares. */
    key,
    cleanups,
    connections,
    /** Empties Redis (a Redis that lost its data); returns a connected client. */
    async flushRedis() {
      const { client } = await connections();
      await client.flushAll();
      return client;
    },
    /** A "process": a provider sharing `defaults.sharedKey` through its own coordination, and what the coordination reported. */
    async fleetProcess<T extends SecretValue<T> = string>(mint: () => Promise<MintedToken<T>>, options: Partial<RedisCoordinationOptions> = {}, providerOptions: object = {}) {
      const { client, subscriber } = await connections();
      const coordination = redisCoordination({ client, subscriber, encryptionKey: key, prefix: defaults.prefix, pollMs: 100, commandTimeoutMs: 300, ...options });
      const events: CoordinationEvent['type'][] = [];
      for (const type of ['coordination.degraded', 'coordination.restored', 'coordination.value-rejected'] as const) coordination.on(type, (event) => events.push(event.type));
      cleanups.push(() => coordination.close());
      const provider = await createCredentialProvider<T>({ mint, coordination, sharedKey: defaults.sharedKey, mintTimeoutMs: 2_000, ...providerOptions });
      cleanups.push(() => provider.stop());
      return { provider, coordination, client, events };
    },
  };
  return harness;
}

/** An issuer that counts what it issues (and its attempts); `state.failing` makes it answer 503. */
export function countingIssuer(lifetimeMs: number) {
  const state = { issued: 0, failing: false, attempts: 0 };
  const mint = async (): Promise<MintedToken> => {
    state.attempts++;
    await sleep(20);
    if (state.failing) throw Object.assign(new Error('issuer down'), { status: 503 });
    state.issued++;
    return { secret: `secret-${state.issued}-${randomBytes(8).toString('hex')}`, expiresAt: Date.now() + lifetimeMs };
  };
  return { state, mint };
}
