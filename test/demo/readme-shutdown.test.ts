/**
 * The README's quick start, run as it stands in its own process with its HTTP server: on SIGTERM it
 * must exit by itself (issue 26: `process.once('SIGTERM', () => void provider.stop())` made a service
 * with a server ignore SIGTERM: it was still running a second later).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';

const teardown: (() => unknown)[] = [];
afterEach(async () => {
  for (const step of teardown.splice(0).reverse()) await step();
});

/** The README's quick start: the `ts` block with the SIGTERM handler. */
function quickStart(): string {
  const blocks = [...readFileSync('README.md', 'utf8').matchAll(/```ts\n([\s\S]*?)```/g)].map((match) => match[1]!);
  const snippet = blocks.find((block) => block.includes("process.once('SIGTERM'") && block.includes('clientCredentialsMint'));
  if (snippet === undefined) throw new Error('README.md has no quick start with a SIGTERM handler');
  return snippet;
}

/** The issuer the snippet names, on loopback: its metadata and its token endpoint. */
async function issuer(): Promise<string> {
  const server: Server = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(
        request.url?.startsWith('/.well-known/') === true
          ? JSON.stringify({ issuer: 'https://login.example.com', token_endpoint: 'https://login.example.com/token' })
          : JSON.stringify({ access_token: 'readme-token', token_type: 'Bearer', expires_in: 3600 }),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  teardown.push(() => new Promise((resolve) => server.close(resolve)));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('the README’s quick start', () => {
  it('exits by itself on SIGTERM, its server closed and its provider stopped', async () => {
    const origin = await issuer();
    mkdirSync('test/.generated', { recursive: true });
    const file = 'test/.generated/readme-quick-start.ts';
    writeFileSync(file, quickStart());
    const child = spawn(process.execPath, ['--import', 'tsx', '--import', './test/readme/fetch-redirect.ts', '--import', './test/readme/loopback-listen.ts', file], {
      env: { ...process.env, TOKEN_ENDPOINT: 'https://login.example.com/token', ALSO_REDIRECT: 'https://api.example.com', REDIRECT_TO: origin, CLIENT_SECRET: 'readme-secret' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    teardown.push(() => child.exitCode === null && child.kill('SIGKILL'));
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const deadline = Date.now() + 20_000;
    while (!/^listening \d+$/m.test(output)) {
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`the quick start did not start:\n${output}`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    // a request through the server (its API call goes to the same loopback server), leaving a keep-alive connection open
    const port = Number(/^listening (\d+)$/m.exec(output)![1]);
    const keptAlive = await fetch(`http://127.0.0.1:${port}/`, { headers: { connection: 'keep-alive' } });
    expect(keptAlive.status).toBe(200);
    await keptAlive.body?.cancel();
    const signalledAt = Date.now();
    child.kill('SIGTERM');
    // it exits by itself, with a keep-alive connection open; a service that ignores SIGTERM would run on until the test's timeout
    expect(await exited).toBe(0);
    console.log(`quick start: exited ${Date.now() - signalledAt} ms after SIGTERM`);
    expect(output).not.toMatch(/Error/);
  }, 30_000);
});
