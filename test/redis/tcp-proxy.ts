/**
 * A TCP proxy on 127.0.0.1 between one process and redis-server, for the fleet tests: it passes
 * bytes both ways, or holds them (`partitioned`: the connections stay open and silent, as a network
 * partition looks to both ends; what was sent meanwhile arrives when it heals, as TCP retransmits
 * it), or resets every connection it carries (`reset()`: the client's next write fails, and it
 * reconnects).
 */
import { createConnection, createServer, type Socket } from 'node:net';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';

export interface TcpProxy {
  /** The proxy's URL for a Redis client (`redis://127.0.0.1:<port>`). */
  readonly url: string;
  /** Holds every byte both ways until set back to `false`. */
  partitioned: boolean;
  /** Resets every connection it carries now. */
  reset(): void;
  close(): Promise<void>;
}

interface Pair {
  readonly client: Socket;
  readonly upstream: Socket;
  readonly held: { to: Socket; chunk: Buffer }[];
}

export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  const pairs = new Set<Pair>();
  let partitioned = false;
  const proxy: TcpProxy = {
    url: '',
    get partitioned() {
      return partitioned;
    },
    set partitioned(value: boolean) {
      partitioned = value;
      if (!value) for (const pair of pairs) for (const { to, chunk } of pair.held.splice(0)) to.write(chunk);
    },
    reset() {
      for (const { client, upstream } of pairs) {
        client.resetAndDestroy();
        upstream.destroy();
      }
      pairs.clear();
    },
    async close() {
      proxy.reset();
      server.close();
      await once(server, 'close');
    },
  };
  const server = createServer((client) => {
    const upstream = createConnection({ host: '127.0.0.1', port: targetPort });
    const pair: Pair = { client, upstream, held: [] };
    pairs.add(pair);
    const relay = (to: Socket) => (chunk: Buffer) => (partitioned ? pair.held.push({ to, chunk }) : to.write(chunk));
    client.on('data', relay(upstream));
    upstream.on('data', relay(client));
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    for (const socket of [client, upstream]) {
      socket.on('close', end);
      socket.on('error', end);
    }
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  Object.assign(proxy, { url: `redis://127.0.0.1:${(server.address() as AddressInfo).port}` });
  return proxy;
}
