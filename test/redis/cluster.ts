/**
 * A local Redis Cluster of three masters for the tests: three `redis-server --cluster-enabled yes` on
 * 127.0.0.1 (client and cluster-bus ports from the OS), joined by `redis-cli --cluster create`, in a
 * temporary directory removed when it stops.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { ensureRedisServer, freePort } from '../../examples/redis-server.js';

const run = promisify(execFile);

export interface RedisCluster {
  /** The three masters' ports. */
  readonly ports: readonly number[];
  stop(): Promise<void>;
}

function launch(binary: string, dir: string, port: number, busPort: number): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      binary,
      [
        '--port',
        String(port),
        '--cluster-port',
        String(busPort),
        '--bind',
        '127.0.0.1',
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        `nodes-${port}.conf`,
        '--cluster-node-timeout',
        '2000',
        '--dir',
        dir,
        '--save',
        '',
        '--appendonly',
        'no',
        '--daemonize',
        'no',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('Ready to accept connections')) resolve(child);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`redis-server (cluster node ${port}) exited (${code}): ${output.slice(-300)}`)));
  });
}

/** Starts three masters and joins them; resolves once the cluster reports `cluster_state:ok`. */
export async function startRedisCluster(): Promise<RedisCluster> {
  const binary = ensureRedisServer();
  const cli = join(dirname(binary), 'redis-cli');
  const dir = mkdtempSync(join(tmpdir(), 'credential-actor-cluster-'));
  const ports: number[] = [];
  const children: ChildProcess[] = [];
  const stop = async () => {
    await Promise.all(
      children.map((child) =>
        child.exitCode !== null
          ? undefined
          : new Promise<void>((resolve) => {
              child.once('exit', () => resolve());
              child.kill('SIGTERM');
            }),
      ),
    );
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (let index = 0; index < 3; index++) {
      const port = await freePort();
      ports.push(port);
      children.push(await launch(binary, dir, port, await freePort()));
    }
    await run(cli, ['--cluster', 'create', ...ports.map((port) => `127.0.0.1:${port}`), '--cluster-replicas', '0', '--cluster-yes'], { timeout: 30_000 });
    const deadline = Date.now() + 20_000;
    for (;;) {
      const states = await Promise.all(ports.map(async (port) => (await run(cli, ['-p', String(port), 'cluster', 'info'])).stdout));
      if (states.every((state) => state.includes('cluster_state:ok'))) break;
      if (Date.now() > deadline) throw new Error(`the cluster did not become ready: ${states.join('\n')}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return { ports, stop };
}
