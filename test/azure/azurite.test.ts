/**
 * `credential-actor/azure` against peers nobody on the project wrote: Azurite, Microsoft's Azure
 * Storage emulator, with OAuth over HTTPS (it refuses a token that is expired, not yet valid, or for
 * another audience or issuer), driven by the real `@azure/storage-blob` client inside
 * `@azure/identity`'s `ChainedTokenCredential`, the tokens minted by `clientCredentialsMint` from
 * oauth2-mock-server. The SDK runs in a child process (`test/sdk/azurite-worker.ts`), so that a
 * crash of the SDK's own (an unhandled rejection after `stop()`) shows as its exit code.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { OAuth2Server } from 'oauth2-mock-server';
import { generate } from 'selfsigned';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compiledScript } from '../../examples/compiled-script.js';

const LIFETIME_SECONDS = 4;
const STEADY_SECONDS = 9;
let issuer: OAuth2Server;
let azurite: ChildProcess | undefined;
let blobEndpoint = '';
let certificates = '';
/** Token requests by client id. */
const asked = new Map<string, number>();

beforeAll(async () => {
  certificates = mkdtempSync(join(tmpdir(), 'azurite-'));
  const pems = await generate([{ name: 'commonName', value: '127.0.0.1' }], {
    keyType: 'ec',
    algorithm: 'sha256',
    extensions: [{ name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] }],
  });
  writeFileSync(join(certificates, 'cert.pem'), pems.cert);
  writeFileSync(join(certificates, 'key.pem'), pems.private);

  issuer = new OAuth2Server();
  await issuer.issuer.keys.generate('RS256');
  await issuer.start(0, '127.0.0.1');
  issuer.issuer.url = `http://127.0.0.1:${(issuer.address() as AddressInfo).port}`;
  // Entra ID's shape, as Azurite checks it: its issuer prefix, Storage's audience, a short life
  issuer.service.on('beforeTokenSigning', (token: { payload: Record<string, unknown> & { iat: number } }, request: { body: Record<string, string> }) => {
    Object.assign(token.payload, {
      iss: 'https://sts.windows.net/72f988bf-86f1-41af-91ab-2d7cd011db47/',
      aud: 'https://storage.azure.com',
      exp: token.payload.iat + LIFETIME_SECONDS,
      appid: request.body.client_id,
    });
  });
  issuer.service.on('beforeResponse', (response: { body: Record<string, unknown> }, request: { body: Record<string, string>; headers: Record<string, string | undefined> }) => {
    response.body.expires_in = LIFETIME_SECONDS;
    const basic = /^Basic (.+)$/.exec(request.headers.authorization ?? '')?.[1];
    const clientId = basic === undefined ? String(request.body.client_id) : decodeURIComponent(Buffer.from(basic, 'base64').toString('utf8').split(':')[0]!);
    asked.set(clientId, (asked.get(clientId) ?? 0) + 1);
  });

  const args = ['--blobHost', '127.0.0.1', '--blobPort', '0', '--oauth', 'basic', '--cert', join(certificates, 'cert.pem'), '--key', join(certificates, 'key.pem')];
  azurite = spawn(
    process.execPath,
    [resolve('node_modules/azurite/dist/src/blob/main.js'), ...args, '--inMemoryPersistence', '--disableTelemetry', '--skipApiVersionCheck', '--disableProductStyleUrl'],
    {
      cwd: certificates,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  blobEndpoint = await new Promise<string>((found, failed) => {
    let output = '';
    azurite!.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const listening = /listens on (https:\/\/127\.0\.0\.1:\d+)/.exec(output);
      if (listening !== null) found(listening[1]!);
    });
    azurite!.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    azurite!.on('exit', (code) => failed(new Error(`Azurite exited (${code}) before listening: ${output}`)));
  });
}, 60_000);

afterAll(async () => {
  azurite?.kill();
  await issuer?.stop();
  if (certificates !== '') rmSync(certificates, { recursive: true, force: true });
});

/** Runs the worker to its end: its `name: value` lines, its exit code and stderr. */
function runWorker(): Promise<{ code: number | null; said: Map<string, string>; stderr: string }> {
  return new Promise((done) => {
    const worker = spawn(process.execPath, [compiledScript('test/sdk/azurite-worker.ts'), blobEndpoint, `${issuer.issuer.url}/token`, String(STEADY_SECONDS)], {
      env: { ...process.env, NODE_EXTRA_CA_CERTS: join(certificates, 'cert.pem') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    worker.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    worker.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    worker.on('exit', (code) => done({ code, stderr, said: new Map([...stdout.matchAll(/^([^:\n]+): (.*)$/gm)].map((match) => [match[1]!, match[2]!])) }));
  });
}

describe('Azure Storage through toTokenCredential, against Azurite (OAuth over HTTPS) and the real storage-blob client', () => {
  it('several token lifetimes of downloads, all accepted by Azurite, one mint per refresh window; invalidate, stop and idle: the chain moves on, the process lives and exits by itself', async () => {
    const { code, said, stderr } = await runWorker();
    console.log(`azurite: ${JSON.stringify(Object.fromEntries(said))}; token requests ${JSON.stringify(Object.fromEntries(asked))}`);
    const steady = JSON.parse(said.get('steady') ?? '{}') as Record<string, number>;
    // Azurite refuses an expired token: every download accepted means none was sent
    expect(Object.keys(steady)).toEqual(['200']);
    expect(steady['200']).toBeGreaterThan(20);
    // a token lives 3 to 4 s (its exp is from a whole-second iat) and is refreshed at 80% of it:
    // through the steady phase, about one mint per window, not one per request
    const mints = Number(said.get('primary mints'));
    expect(mints).toBeGreaterThanOrEqual(Math.floor(STEADY_SECONDS / LIFETIME_SECONDS) + 1);
    expect(mints).toBeLessThanOrEqual(Math.ceil(STEADY_SECONDS / (0.8 * (LIFETIME_SECONDS - 1))) + 2);
    expect(asked.get('blob-app')).toBeGreaterThanOrEqual(mints);
    expect(said.get('after invalidate')).toBe('200');
    expect(said.get('mints for the invalidation')).toBe('1');
    // stopped: ours says unavailable, so the chain asks its next credential
    expect(said.get('after primary stopped')).toBe('200');
    expect(asked.get('backup-app')).toBeGreaterThanOrEqual(1);
    expect(said.get('after both stopped')).toMatch(/^AggregateAuthenticationError|CredentialUnavailableError/);
    expect(said.get('alive after')).toMatch(/^\d+$/);
    expect(stderr).not.toMatch(/unhandled|AuthenticationError/i);
    expect(code).toBe(0);
  }, 90_000);
});
