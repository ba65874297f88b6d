import { CredentialError } from '../../machines/credential-error.js';
import { describeShape } from '../describe-shape.js';

/**
 * The few Redis operations the protocol uses, over the app's own connections (two: commands, and
 * one subscriber for the namespace's channel). Built from a `redis` (node-redis v5/v6) or `ioredis`
 * client by `redisConnectionOf`; nothing here opens a connection.
 */
export interface RedisConnection {
  /** Runs a Lua script with its keys and arguments. */
  evaluate(script: string, keys: readonly string[], args: readonly string[]): Promise<unknown>;
  /** Subscribes the subscriber connection to `channel`; `onMessage` gets each message. */
  subscribe(channel: string, onMessage: (message: string) => void): Promise<void>;
  /** Ends that subscription. */
  unsubscribe(channel: string): Promise<void>;
}

/**
 * What `redisCoordination` takes as `client` and `subscriber`: a `redis` (node-redis v5/v6) client
 * or cluster (`createClient`, `createCluster`), or an `ioredis` client or cluster, connected.
 * Declared by shape, so the entry point needs neither package to type-check.
 */
export type RedisClient = { readonly sendCommand: (...args: never[]) => unknown } | { readonly eval: (...args: never[]) => unknown };

interface NodeRedisClient {
  sendCommand(args: string[]): Promise<unknown>;
  isOpen: boolean;
  options?: { disableOfflineQueue?: boolean };
}
interface NodeRedisSubscriber {
  subscribe(channel: string, listener: (message: string, channel: string) => void): Promise<unknown>;
  unsubscribe(channel: string): Promise<unknown>;
}
/** node-redis's cluster client (`createCluster`): commands are routed by their first key. */
interface NodeRedisCluster {
  sendCommand(firstKey: string | undefined, isReadonly: boolean | undefined, args: string[]): Promise<unknown>;
  isOpen: boolean;
  _options: { rootNodes: unknown[]; defaults?: { disableOfflineQueue?: boolean } };
}
interface IoRedisClient {
  eval(script: string, numberOfKeys: number, ...args: string[]): Promise<unknown>;
  status: string;
  options?: { enableOfflineQueue?: boolean };
}
interface IoRedisSubscriber {
  subscribe(channel: string): Promise<unknown>;
  unsubscribe(channel: string): Promise<unknown>;
  on(event: 'message', listener: (channel: string, message: string) => void): unknown;
  off(event: 'message', listener: (channel: string, message: string) => void): unknown;
}

function isNodeRedis(client: unknown): client is NodeRedisClient {
  return typeof client === 'object' && client !== null && typeof (client as NodeRedisClient).sendCommand === 'function' && 'isOpen' in client;
}

function isNodeRedisCluster(client: unknown): client is NodeRedisCluster {
  const options = typeof client === 'object' && client !== null ? (client as { _options?: { rootNodes?: unknown } })._options : undefined;
  return isNodeRedis(client) && typeof options === 'object' && options !== null && Array.isArray(options.rootNodes);
}

/** A client never connected (node-redis: not open; ioredis: `wait`, lazyConnect and no connect(), or `end`); connecting or reconnecting is fine. */
function neverConnected(client: unknown): boolean {
  if (isNodeRedis(client)) return client.isOpen !== true;
  if (isIoRedis(client)) return client.status === 'wait' || client.status === 'end';
  return false;
}

function isIoRedis(client: unknown): client is IoRedisClient {
  return typeof client === 'object' && client !== null && typeof (client as IoRedisClient).eval === 'function' && typeof (client as IoRedisClient).status === 'string';
}

/**
 * The protocol's view of the app's clients: `client` runs the scripts, `subscriber` (a second
 * connection, e.g. `client.duplicate()`, already connected) listens to the namespace's channel.
 * Throws `INVALID_CONFIG` for anything that is neither a node-redis nor an ioredis client.
 *
 * @example
 * ```ts
 * const connection = redisConnectionOf(client, subscriber);
 * ```
 */
export function redisConnectionOf(client: unknown, subscriber: unknown): RedisConnection {
  if (client === subscriber && typeof client === 'object' && client !== null) {
    throw new CredentialError('INVALID_CONFIG', 'subscriber must be a second connection (client.duplicate()), not the client itself: a connection that subscribes runs no other command');
  }
  const connection = connectionOf(client, subscriber);
  for (const [name, candidate] of [
    ['client', client],
    ['subscriber', subscriber],
  ] as const) {
    if (neverConnected(candidate)) {
      throw new CredentialError(
        'INVALID_CONFIG',
        `${name} is not connected: connect it first (node-redis: await ${name}.connect(); ioredis: without lazyConnect, or await ${name}.connect()), or every process would mint alone`,
      );
    }
  }
  return connection;
}

function connectionOf(client: unknown, subscriber: unknown): RedisConnection {
  if (isNodeRedisCluster(client)) {
    // Every script's keys share one hash tag: the first key routes the script to the node that holds them all.
    if (!isNodeRedis(subscriber)) throw new CredentialError('INVALID_CONFIG', `subscriber must be a second node-redis cluster client (cluster.duplicate()), got ${describeShape(subscriber)}`);
    if (client._options.defaults?.disableOfflineQueue !== true) throw offlineQueue('createCluster({ rootNodes, defaults: { disableOfflineQueue: true } })');
    return {
      evaluate: (script, keys, args) => client.sendCommand(keys[0], false, ['EVAL', script, String(keys.length), ...keys, ...args]),
      ...nodeRedisSubscription(subscriber as unknown as NodeRedisSubscriber),
    };
  }
  if (isNodeRedis(client)) {
    if (!isNodeRedis(subscriber)) throw new CredentialError('INVALID_CONFIG', `subscriber must be a second node-redis client (client.duplicate()), got ${describeShape(subscriber)}`);
    if (client.options?.disableOfflineQueue !== true) throw offlineQueue('createClient({ ..., disableOfflineQueue: true })');
    return {
      evaluate: (script, keys, args) => client.sendCommand(['EVAL', script, String(keys.length), ...keys, ...args]),
      ...nodeRedisSubscription(subscriber as unknown as NodeRedisSubscriber),
    };
  }
  if (isIoRedis(client)) {
    if (!isIoRedis(subscriber)) throw new CredentialError('INVALID_CONFIG', `subscriber must be a second ioredis client (client.duplicate()), got ${describeShape(subscriber)}`);
    const cluster = (client as { isCluster?: unknown }).isCluster === true;
    if (client.options?.enableOfflineQueue !== false) throw offlineQueue(cluster ? 'new Cluster(nodes, { ..., enableOfflineQueue: false })' : 'new Redis({ ..., enableOfflineQueue: false })');
    const sub = subscriber as unknown as IoRedisSubscriber;
    const handlers = new Map<string, (channel: string, message: string) => void>();
    return {
      evaluate: (script, keys, args) => client.eval(script, keys.length, ...keys, ...args),
      subscribe: async (channel, onMessage) => {
        const handler = (from: string, message: string) => {
          if (from === channel) onMessage(message);
        };
        handlers.set(channel, handler);
        sub.on('message', handler);
        await sub.subscribe(channel);
      },
      unsubscribe: async (channel) => {
        const handler = handlers.get(channel);
        if (handler !== undefined) sub.off('message', handler);
        handlers.delete(channel);
        await sub.unsubscribe(channel);
      },
    };
  }
  throw new CredentialError('INVALID_CONFIG', `client must be a node-redis (redis) or ioredis client, got ${describeShape(client)}`);
}

/** Subscribing through a node-redis subscriber, standalone or cluster (a cluster's classic pub/sub reaches every node). */
function nodeRedisSubscription(sub: NodeRedisSubscriber): Pick<RedisConnection, 'subscribe' | 'unsubscribe'> {
  return {
    subscribe: async (channel, onMessage) => {
      await sub.subscribe(channel, (message) => onMessage(message));
    },
    unsubscribe: async (channel) => {
      await sub.unsubscribe(channel);
    },
  };
}

/**
 * A client that queues commands while disconnected would run a lease request after its caller gave
 * up on it (the process would hold a lease nobody uses until it lapses): refused at construction.
 */
function offlineQueue(howToFix: string): CredentialError {
  return new CredentialError('INVALID_CONFIG', `client must not queue commands while disconnected: create it with ${howToFix}`);
}
