/**
 * Forks and drives the fleet's worker processes (`worker.ts`) for the fleet tests: start, ask for a
 * report, stop; every worker still running at the end of a test is killed.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createClient } from 'redis';
import { compiledScript } from '../compiled-script.js';
import type { WorkerReport, WorkerSettings } from './worker.js';

const WORKER = fileURLToPath(new URL('./worker.ts', import.meta.url));
const running: ChildProcess[] = [];

/** Forks a worker; `ready` resolves once its provider is up (or failed to start). */
export function startWorker(settings: WorkerSettings): { child: ChildProcess; ready: Promise<void> } {
  return forkWorker(WORKER, settings);
}

/**
 * Forks any of the tests' worker scripts (TypeScript, compiled once: `compiledScript`) with its settings as JSON in
 * argv[2], and the environment given (the parent's by default); `ready` resolves at its `ready`
 * message. `killWorkers()` kills it if it is still running.
 */
export function forkWorker(script: string, settings: object, env?: NodeJS.ProcessEnv): { child: ChildProcess; ready: Promise<void> } {
  const child = fork(compiledScript(script), [JSON.stringify(settings)], { execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'], ...(env === undefined ? {} : { env }) });
  running.push(child);
  const ready = new Promise<void>((resolve, reject) => {
    child.on('message', (message: { type: string }) => {
      if (message.type === 'ready') resolve();
    });
    child.once('exit', (code) => reject(new Error(`worker exited (${code}) before it was ready`)));
  });
  ready.catch(() => {}); // a worker killed on purpose before it is ready is not an error of the suite
  return { child, ready };
}

/** Its report so far. */
export function askReport(child: ChildProcess): Promise<WorkerReport> {
  return new Promise((resolve) => {
    const onMessage = (message: WorkerReport) => {
      if (message.type !== 'report') return;
      child.off('message', onMessage);
      resolve(message);
    };
    child.on('message', onMessage);
    child.send({ type: 'report' });
  });
}

/** Stops a worker and returns its last report (any worker script's: each answers `stop` with its `report`). */
export function stopWorker<Report extends { readonly type: string } = WorkerReport>(child: ChildProcess): Promise<Report> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('worker did not stop')), 10_000);
    child.on('message', (message: Report) => {
      if (message.type === 'report') {
        clearTimeout(timer);
        resolve(message);
      }
    });
    child.send({ type: 'stop' });
  });
}

/** Kills every worker still running (a test's teardown). */
export function killWorkers(): void {
  for (const child of running.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

/** Empties the Redis at `url`. */
export async function flushRedis(url: string): Promise<void> {
  const client = createClient({ url });
  await client.connect();
  await client.flushAll();
  await client.close();
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A worker's settings for a fleet on `redisUrl` minting from `issuer` as one client: 3 s mint timeout, 4 s lease, unless overridden. */
export function workerSettings(
  fleet: { redisUrl: string; issuer: { tokenEndpoint: string; audience: string }; clientId: string; clientSecret: string; encryptionKeyHex: string },
  overrides: Partial<WorkerSettings> = {},
): WorkerSettings {
  return {
    redisUrl: fleet.redisUrl,
    tokenEndpoint: fleet.issuer.tokenEndpoint,
    clientId: fleet.clientId,
    clientSecret: fleet.clientSecret,
    audience: fleet.issuer.audience,
    encryptionKeyHex: fleet.encryptionKeyHex,
    mintTimeoutMs: 3_000,
    leaseMs: 4_000,
    ...overrides,
  };
}
