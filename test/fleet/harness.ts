/**
 * Forks and drives the tests' worker processes: start, ask for a report, stop; every worker still
 * in a session at the end of a test is killed. A worker that runs sessions (`sessions.ts`: the
 * fleet's `worker.ts`, the AWS fleet's) and was stopped cleanly waits for its next session: the next
 * `startSessionWorker` of that script hands it one instead of forking a process, and
 * `closeWorkers()` ends the waiting ones with the test file.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createClient } from 'redis';
import { compiledScript } from '../../examples/compiled-script.js';
import type { WorkerReport, WorkerSettings } from './worker.js';

const WORKER = fileURLToPath(new URL('./worker.ts', import.meta.url));
/** Every worker in a session (killed by `killWorkers()`). */
const running: ChildProcess[] = [];
/** The script of each worker that runs sessions. */
const sessionScripts = new WeakMap<ChildProcess, string>();
/** Workers between sessions, by script, waiting for the next `startSessionWorker`. */
const waiting = new Map<string, ChildProcess[]>();

/** A fleet worker (`worker.ts`) running a session with these settings (`startSessionWorker`). */
export function startWorker(settings: WorkerSettings): { child: ChildProcess; ready: Promise<void> } {
  return startSessionWorker(WORKER, settings);
}

/**
 * A worker of `script` (one that runs sessions: `sessions.ts`) running a session with `settings`:
 * one waiting between sessions, or a new process. `ready` resolves once its provider is up (or
 * failed to start).
 */
export function startSessionWorker(script: string, settings: object): { child: ChildProcess; ready: Promise<void> } {
  const child = waiting.get(script)?.pop();
  if (child === undefined) {
    const forked = forkWorker(script, settings);
    sessionScripts.set(forked.child, script);
    return forked;
  }
  running.push(child);
  const ready = readyOf(child);
  child.send({ type: 'start', settings });
  return { child, ready };
}

/**
 * Forks any of the tests' worker scripts (TypeScript, compiled once: `compiledScript`) with its settings as JSON in
 * argv[2], and the environment given (the parent's by default); `ready` resolves at its `ready`
 * message. `killWorkers()` kills it if it is still running.
 */
export function forkWorker(script: string, settings: object, env?: NodeJS.ProcessEnv): { child: ChildProcess; ready: Promise<void> } {
  const child = fork(compiledScript(script), [JSON.stringify(settings)], { execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'], ...(env === undefined ? {} : { env }) });
  running.push(child);
  return { child, ready: readyOf(child) };
}

/** Resolves at the worker's next `ready` message; rejects if it exits first. Its listeners go once it settles. */
function readyOf(child: ChildProcess): Promise<void> {
  const ready = new Promise<void>((resolve, reject) => {
    const onMessage = (message: { type: string }) => {
      if (message.type !== 'ready') return;
      settle();
      resolve();
    };
    const onExit = (code: number | null) => {
      settle();
      reject(new Error(`worker exited (${code}) before it was ready`));
    };
    const settle = () => {
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
  ready.catch(() => {}); // a worker killed on purpose before it is ready is not an error of the suite
  return ready;
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

/**
 * Stops a worker and returns its last report (any worker script's: each answers `stop` with its
 * `report`). A worker that runs sessions then waits for its next one; any other script's process exits.
 */
export function stopWorker<Report extends { readonly type: string } = WorkerReport>(child: ChildProcess): Promise<Report> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.off('message', onMessage);
      reject(new Error('worker did not stop'));
    }, 10_000);
    const onMessage = (message: Report) => {
      if (message.type !== 'report') return;
      clearTimeout(timer);
      child.off('message', onMessage);
      const script = sessionScripts.get(child);
      const index = running.indexOf(child);
      if (script !== undefined && index !== -1 && child.exitCode === null && child.signalCode === null) {
        running.splice(index, 1);
        waiting.set(script, [...(waiting.get(script) ?? []), child]);
      }
      resolve(message);
    };
    child.on('message', onMessage);
    child.send({ type: 'stop' });
  });
}

/** Kills every worker still in a session (a test's teardown): what it was doing is not handed on. */
export function killWorkers(): void {
  for (const child of running.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

/** Ends the workers waiting between sessions, and kills those in one (a test file's teardown). */
export function closeWorkers(): void {
  killWorkers();
  for (const children of waiting.values()) for (const child of children) child.disconnect();
  waiting.clear();
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
