/**
 * Redis Cluster, with both clients: node-redis's `createCluster` and ioredis's `Cluster`, on a local
 * cluster of three masters. Each credential's keys share one hash tag, so every script runs on the
 * node that holds them; the publication reaches subscribers on any node.
 */
import { randomBytes } from 'node:crypto';
import { Cluster } from 'ioredis';
import { createCluster } from 'redis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createCredentialPool, createCredentialProvider, CredentialError } from '../../src/index.js';
import { credentialKey, redisCoordination } from '../../src/redis/index.js';
import { startRedisCluster, type RedisCluster } from '../redis/cluster.js';
import { countingIssuer } from '../redis/harness.js';

let cluster: RedisCluster;
const cleanups: (() => unknown)[] = [];
const key = { id: 'k1', key: randomBytes(32) };
beforeAll(async () => {
  cluster = await startRedisCluster();
}, 90_000);
afterAll(async () => {
  await cluster?.stop();
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A process's two cluster connections, as the README recommends them for Cluster. */
async function clusterPair(kind: 'node-redis' | 'ioredis') {
  if (kind === 'node-redis') {
    const client = createCluster({ rootNodes: cluster.ports.map((port) => ({ url: `redis://127.0.0.1:${port}` })), defaults: { disableOfflineQueue: true } });
    const subscriber = client.duplicate();
    client.on('error', () => {});
    subscriber.on('error', () => {});
    await Promise.all([client.connect(), subscriber.connect()]);
    cleanups.push(() => Promise.allSettled([client.close(), subscriber.close()]));
    return { client, subscriber };
  }
  const nodes = cluster.ports.map((port) => ({ host: '127.0.0.1', port }));
  const client = new Cluster(nodes, { enableOfflineQueue: false, lazyConnect: true });
  const subscriber = new Cluster(nodes, { enableOfflineQueue: false, lazyConnect: true });
  client.on('error', () => {});
  subscriber.on('error', () => {});
  await Promise.all([client.connect(), subscriber.connect()]);
  cleanups.push(() => Promise.allSettled([client.quit(), subscriber.quit()]));
  return { client, subscriber };
}

describe.each(['node-redis', 'ioredis'] as const)('Redis Cluster through %s', (kind) => {
  it('three processes share one token: one mint, and a refresh window later still one per window', async () => {
    const sharedKey = credentialKey({ issuer: 'https://issuer.test/token', clientId: `cluster-${kind}`, scopes: [randomBytes(4).toString('hex')] });
    const { state, mint } = countingIssuer(1_500);
    const startedAt = Date.now();
    const fleet = [];
    for (let index = 0; index < 3; index++) {
      const { client, subscriber } = await clusterPair(kind);
      const coordination = redisCoordination({ client, subscriber, encryptionKey: key, prefix: 'cluster', pollMs: 100, commandTimeoutMs: 500 });
      const degraded: string[] = [];
      coordination.on('coordination.degraded', ({ error }) => degraded.push(error.message));
      cleanups.push(() => coordination.close());
      const provider = await createCredentialProvider({ mint, coordination, sharedKey, refreshAt: 0.5, refreshFloorMs: 0 });
      cleanups.push(() => provider.stop());
      fleet.push({ provider, degraded });
    }
    // one mint for the three, plus one per refresh window (750 ms) a slow set-up may have spanned
    const windowsSoFar = () => Math.floor((Date.now() - startedAt) / 750);
    expect(state.issued).toBeLessThanOrEqual(1 + windowsSoFar());
    const secrets = await Promise.all(fleet.map(({ provider }) => provider.currentToken().then((token) => token.secret.reveal())));
    expect(new Set(secrets).size).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 1_000)); // past the refresh instant (half of 1.5 s)
    await Promise.all(fleet.map(({ provider }) => provider.currentToken()));
    for (const deadline = Date.now() + 3_000; state.issued < 2 && Date.now() < deadline; ) await new Promise((resolve) => setTimeout(resolve, 20));
    // at least one refresh, and one per window for the fleet, not one per process
    expect(state.issued).toBeGreaterThanOrEqual(2);
    expect(state.issued).toBeLessThanOrEqual(1 + windowsSoFar());
    expect(fleet.flatMap(({ degraded }) => degraded)).toEqual([]);
  });

  it('two pools share keys that live on different nodes: one mint per key', async () => {
    const { state, mint } = countingIssuer(60_000);
    const tenants = Array.from({ length: 6 }, (_, index) => credentialKey({ issuer: 'https://issuer.test/token', clientId: `pool-${kind}`, tenant: `t${index}-${randomBytes(3).toString('hex')}` }));
    const pools = [];
    for (let index = 0; index < 2; index++) {
      const { client, subscriber } = await clusterPair(kind);
      const coordination = redisCoordination({ client, subscriber, encryptionKey: key, prefix: 'cluster', pollMs: 100, commandTimeoutMs: 500 });
      const pool = createCredentialPool({ mint: () => mint(), coordination });
      cleanups.push(
        () => pool.stop(),
        () => coordination.close(),
      );
      pools.push(pool);
    }
    for (const pool of pools) await Promise.all(tenants.map((tenant) => pool.currentToken(tenant)));
    expect(state.issued).toBe(6);
  });
});

it('a cluster client that queues commands while disconnected is refused, naming the option', async () => {
  const nodeRedis = createCluster({ rootNodes: [{ url: 'redis://127.0.0.1:1' }] }); // never connected: only its options are read
  expect(() => redisCoordination({ client: nodeRedis, subscriber: nodeRedis.duplicate(), encryptionKey: key })).toThrow(
    expect.objectContaining({ code: 'INVALID_CONFIG', message: expect.stringContaining('defaults: { disableOfflineQueue: true }') }),
  );
  const ioRedis = new Cluster([{ host: '127.0.0.1', port: 1 }], { lazyConnect: true });
  const ioSubscriber = ioRedis.duplicate();
  expect(() => redisCoordination({ client: ioRedis, subscriber: ioSubscriber, encryptionKey: key })).toThrow(CredentialError);
  expect(() => redisCoordination({ client: ioRedis, subscriber: ioSubscriber, encryptionKey: key })).toThrow(/new Cluster\(nodes/);
  ioSubscriber.disconnect();
});
