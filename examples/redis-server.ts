/**
 * A real `redis-server` (Debian's 7.0) for the tests and the fleet demo: found on the machine, or installed the way
 * Debian packages install here (as root: `apt-get update`, then `apt-get install -y redis-server`),
 * or a failure naming the one command to run. Never a skipped test. Each server listens on
 * 127.0.0.1 only, on a port the OS picked, with no persistence, and is stopped by its test.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { createClient } from 'redis';

const INSTALL = 'apt-get update && apt-get install -y redis-server';

/** The path of `redis-server`, or null. */
export function findRedisServer(): string | null {
  for (const candidate of ['/usr/bin/redis-server', '/usr/sbin/redis-server', '/usr/local/bin/redis-server']) if (existsSync(candidate)) return candidate;
  try {
    return execFileSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).trim() || null;
  } catch {
    return null;
  }
}

/** `redis-server`'s path, installing Debian's package first if it is missing and we are root. */
export function ensureRedisServer(): string {
  const found = findRedisServer();
  if (found !== null) return found;
  if (process.getuid?.() !== 0) throw new Error(`redis-server is needed by the Redis tests and is not installed: run \`${INSTALL}\` as root`);
  try {
    execFileSync('sh', ['-c', `${INSTALL} >/dev/null`], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }, timeout: 300_000 });
  } catch (error) {
    throw new Error(`installing redis-server failed (${(error as Error).message.split('\n')[0]}): run \`${INSTALL}\` as root`);
  }
  const installed = findRedisServer();
  if (installed === null) throw new Error(`redis-server is still missing after installing it: run \`${INSTALL}\` as root`);
  return installed;
}

/** A port the OS picked on 127.0.0.1, free when returned (redis-server cannot take port 0 itself). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** A running redis-server on loopback. */
export interface RedisServer {
  readonly port: number;
  readonly url: string;
  /** Stops it (SIGTERM), waiting for the process to exit. */
  stop(): Promise<void>;
  /** Starts it again on the same port (after `stop`). */
  start(): Promise<void>;
  /** Freezes it (SIGSTOP) for `ms`, then lets it run again (SIGCONT): a stalled Redis, connections open. */
  pause(ms: number): Promise<void>;
}

/** Starts a redis-server on 127.0.0.1 and a port from the OS. */
export async function startRedisServer(): Promise<RedisServer> {
  const binary = ensureRedisServer();
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    let child: ChildProcess | null = null;
    const launch = () =>
      new Promise<ChildProcess>((resolve, reject) => {
        const process_ = spawn(binary, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'yes', '--loglevel', 'notice', '--daemonize', 'no'], {
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let output = '';
        const onData = (chunk: Buffer) => {
          output += chunk.toString();
          if (output.includes('Ready to accept connections')) resolve(process_);
        };
        process_.stdout!.on('data', onData);
        process_.stderr!.on('data', onData);
        process_.once('exit', (code) => reject(new Error(`redis-server exited (${code}) before it was ready: ${output.slice(-300)}`)));
      });
    try {
      child = await launch();
    } catch (error) {
      if (attempt < 3) continue; // the port was taken between picking and binding
      throw error;
    }
    const server: RedisServer = {
      port,
      url: `redis://127.0.0.1:${port}`,
      stop: async () => {
        const running = child;
        child = null;
        if (running === null || running.exitCode !== null) return;
        const exited = new Promise<void>((resolve) => running.once('exit', () => resolve()));
        running.kill('SIGTERM');
        await exited;
      },
      start: async () => {
        if (child !== null) return;
        child = await launch();
      },
      pause: async (ms) => {
        const running = child;
        if (running === null) return;
        running.kill('SIGSTOP');
        await new Promise((resolve) => setTimeout(resolve, ms));
        running.kill('SIGCONT');
      },
    };
    return server;
  }
}

/**
 * A process's two Redis connections, as the README recommends them: commands and one subscriber,
 * the offline queue off (a call to a Redis that is down fails at once), reconnecting every
 * `reconnectMs`, connection errors handled (a lost connection is the coordination's to report).
 * The subscriber is the client's `duplicate()`, as `docs/fleet.md` shows: the same options, and no
 * second command class built (a second `createClient` of node-redis 6 builds its class of several
 * hundred commands again, about 130 ms of CPU, at every start of every fleet process).
 */
export async function connectRedisPair(url: string, { connectTimeoutMs = 1_000, reconnectMs = 100 } = {}) {
  const options = { url, disableOfflineQueue: true, socket: { connectTimeout: connectTimeoutMs, reconnectStrategy: () => reconnectMs } };
  const client = createClient(options);
  const subscriber = client.duplicate();
  client.on('error', () => {});
  subscriber.on('error', () => {});
  await Promise.all([client.connect(), subscriber.connect()]);
  return { client, subscriber };
}
