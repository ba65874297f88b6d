/**
 * The README's Redis set-up, run as it stands in its own process, with Redis stopped and started
 * under it: the process must keep serving tokens (before: its clients had no 'error' listener, and
 * the first Redis restart crashed the app with "Unhandled 'error' event").
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { credentialKey } from '../../src/redis/index.js';
import { sleep, useRedisServer } from '../redis/harness.js';

const redis = useRedisServer({ prefix: 'readme', sharedKey: credentialKey({ issuer: 'https://issuer.test/token', clientId: 'readme' }) });
const teardown: (() => unknown)[] = [];
afterEach(async () => {
  for (const step of teardown.splice(0).reverse()) await step();
});

/** The README's `ts` block that sets up `redisCoordination`. */
function readmeRedisSnippet(): string {
  const blocks = [...readFileSync('docs/fleet.md', 'utf8').matchAll(/```ts\n([\s\S]*?)```/g)].map((match) => match[1]!);
  const snippet = blocks.find((block) => block.includes("from 'redis'") && block.includes('redisCoordination({'));
  if (snippet === undefined) throw new Error('docs/fleet.md has no Redis set-up snippet');
  return snippet;
}

/** A client-credentials token endpoint on loopback: two-second tokens. */
async function tokenServer(): Promise<{ origin: string; issued: () => number }> {
  let issued = 0;
  const server: Server = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      issued++;
      response.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      response.end(JSON.stringify({ access_token: `readme-${issued}-${randomBytes(6).toString('hex')}`, token_type: 'Bearer', expires_in: 2 }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  teardown.push(() => new Promise((resolve) => server.close(resolve)));
  return { origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, issued: () => issued };
}

describe('the README’s Redis set-up', () => {
  it('survives Redis stopping and starting: the app keeps serving tokens and does not crash', async () => {
    const issuer = await tokenServer();
    mkdirSync('test/.generated', { recursive: true });
    const file = 'test/.generated/readme-redis.ts';
    // the snippet as it stands, then an app's request loop that reports what it got
    writeFileSync(
      file,
      `${readmeRedisSnippet()}
let served = 0;
let failed = 0;
setInterval(() => void provider.currentToken().then(() => served++, () => failed++), 25);
setInterval(() => console.log(JSON.stringify({ served, failed })), 100);
`,
    );
    const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', '--import', './test/readme/fetch-redirect.ts', file], {
      env: {
        ...process.env,
        REDIS_URL: redis.server.url,
        TOKEN_SEALING_KEY: randomBytes(32).toString('base64'),
        TOKEN_ENDPOINT: 'https://issuer.test/oauth2/token',
        REDIRECT_TO: issuer.origin,
        CLIENT_ID: 'readme',
        CLIENT_SECRET: 'readme-secret',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    teardown.push(() => child.exitCode === null && child.kill('SIGKILL'));
    let last = { served: 0, failed: 0 };
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const lines = output.trim().split('\n');
      try {
        last = JSON.parse(lines.at(-1)!) as typeof last;
      } catch {
        // a partial line: the next chunk completes it
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const until = async (what: string, ok: () => boolean, ms: number) => {
      const deadline = Date.now() + ms;
      while (!ok()) {
        if (child.exitCode !== null) throw new Error(`the snippet's process exited (${child.exitCode}) while waiting for ${what}:\n${output.slice(-2_000)}`);
        if (Date.now() > deadline) throw new Error(`no ${what} within ${ms} ms:\n${output.slice(-2_000)}`);
        await sleep(50);
      }
    };

    await until('first served token', () => last.served > 0, 20_000);
    await redis.server.stop();
    const servedAtStop = last.served;
    await until('token served with Redis down', () => last.served > servedAtStop + 20, 10_000);
    await redis.server.start();
    const servedAtStart = last.served;
    await until('token served after Redis came back', () => last.served > servedAtStart + 20, 10_000);
    expect(child.exitCode).toBeNull();
    expect(output).not.toMatch(/Unhandled 'error' event|ERR_UNHANDLED_ERROR/);
    expect(issuer.issued()).toBeGreaterThan(0);
    child.kill('SIGTERM');
    await exited;
  }, 60_000);
});
