/**
 * The cloud SDKs' own credential sources as mints, with the real SDK packages pointed at loopback
 * endpoints of the shapes they read from the environment: AWS's Node provider chain finding ECS's
 * container credentials endpoint (`AWS_CONTAINER_CREDENTIALS_FULL_URI`), and Azure's
 * `ManagedIdentityCredential` finding App Service's identity endpoint (`IDENTITY_ENDPOINT`,
 * `IDENTITY_HEADER`). In one process: the keys and tokens minted, a failing endpoint meeting the
 * breaker while the valid token is served. Across four forked processes on a real redis-server:
 * one call to the endpoint per refresh window for the whole host. Real time, a few seconds each.
 */
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { ManagedIdentityCredential } from '@azure/identity';
import { fromNodeProviderChain } from '@aws-sdk/credential-providers';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startRedisServer, type RedisServer } from '../../examples/redis-server.js';
import { flushRedis, forkWorker, killWorkers, sleep, stopWorker as stopForkedWorker } from '../fleet/harness.js';
import { createCredentialProvider, CredentialError, type AuthToken } from '../../src/index.js';
import { awsCredentialMint, type AwsKeys } from '../../src/aws/index.js';
import { tokenCredentialMint } from '../../src/azure/index.js';
import type { IssuedKeys } from './aws-servers.js';
import { startS3Server } from './aws-servers.js';
import { AZURE_SCOPE, startAppServiceIdentityServer, startContainerCredentialsServer } from './metadata-servers.js';
import type { SdkSourceWorkerReport, SdkSourceWorkerSettings } from './sdk-source-worker.js';

const WORKER = fileURLToPath(new URL('./sdk-source-worker.ts', import.meta.url));
const AUTHORIZATION = `container-auth-${randomBytes(8).toString('hex')}`;
const IDENTITY_HEADER = `identity-header-${randomBytes(8).toString('hex')}`;
const issued: IssuedKeys = new Map();
let redis: RedisServer;
let container: Awaited<ReturnType<typeof startContainerCredentialsServer>>;
let identity: Awaited<ReturnType<typeof startAppServiceIdentityServer>>;
let s3: Awaited<ReturnType<typeof startS3Server>>;
const savedEnvironment = { ...process.env };

beforeAll(async () => {
  redis = await startRedisServer();
  container = await startContainerCredentialsServer(2_000, issued, AUTHORIZATION);
  identity = await startAppServiceIdentityServer(2, IDENTITY_HEADER);
  s3 = await startS3Server(issued);
}, 60_000);
afterAll(async () => {
  process.env = savedEnvironment;
  await Promise.all([container?.close(), identity?.close(), s3?.close(), redis?.stop()]);
});
afterEach(() => {
  killWorkers();
  container.state.calls.length = 0;
  identity.state.calls.length = 0;
  container.state.failing = false;
  identity.state.failing = false;
});

/** The environment each platform gives its workloads, pointing at the loopback endpoints (no other credential to find). */
const environment = (): NodeJS.ProcessEnv => ({
  PATH: process.env.PATH,
  HOME: process.env.HOME,
  AWS_CONTAINER_CREDENTIALS_FULL_URI: container.fullUri,
  AWS_CONTAINER_AUTHORIZATION_TOKEN: AUTHORIZATION,
  AWS_CONFIG_FILE: '/nonexistent/aws-config',
  AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/aws-credentials',
  AWS_EC2_METADATA_DISABLED: 'true',
  IDENTITY_ENDPOINT: identity.identityEndpoint,
  IDENTITY_HEADER,
});

describe('the SDKs’ credential sources as mints, in one process', () => {
  it('AWS: the Node chain finds the container endpoint; each mint asks it afresh; the keys expire when it says', async () => {
    Object.assign(process.env, environment());
    const provider = await createCredentialProvider<AwsKeys>({ mint: awsCredentialMint(fromNodeProviderChain()) });
    try {
      const first = await provider.currentToken();
      const { accessKeyId } = first.secret.reveal();
      expect(issued.has(accessKeyId)).toBe(true);
      expect(first.expiresAt).toBe(issued.get(accessKeyId)!.expiresAt);
      provider.invalidate(first);
      const second = await provider.currentToken();
      expect(second.secret.reveal().accessKeyId).not.toBe(accessKeyId); // not the SDK's memoized answer
      expect(container.state.calls).toHaveLength(2);
    } finally {
      await provider.stop();
    }
  });

  it('Azure: ManagedIdentityCredential finds the App Service endpoint; the token, its expiry and its scope come through', async () => {
    Object.assign(process.env, environment());
    const provider = await createCredentialProvider({ mint: tokenCredentialMint(new ManagedIdentityCredential(), { scopes: [AZURE_SCOPE] }) });
    try {
      const token = await provider.currentToken();
      expect(identity.state.issued.has(token.secret.reveal())).toBe(true);
      expect(identity.state.resources.at(-1)).toBe('https://vault.azure.net');
      expect(token.expiresAt).toBeGreaterThan(Date.now());
      expect(token.expiresAt).toBeLessThanOrEqual(Date.now() + 2_000);
    } finally {
      await provider.stop();
    }
  });

  it('a failing endpoint meets the breaker while the valid token is served; MINT_FAILED names the SDK’s error', async () => {
    Object.assign(process.env, environment());
    const provider = await createCredentialProvider<AwsKeys>({
      // the SDK's own retries off (they would only slow the test): the breaker is what holds the endpoint off
      mint: awsCredentialMint(fromNodeProviderChain({ maxRetries: 0 })),
      breakerThreshold: 2,
      breakerCooldownMs: 60_000,
      refreshAt: 0,
      refreshFloorMs: 0,
      refresh: 'on-demand',
    });
    try {
      const valid = await provider.currentToken();
      container.state.failing = true;
      const served: AuthToken<AwsKeys>[] = [];
      // the token is due at once (refreshAt 0): each call serves it and starts a background refresh, which fails
      const deadline = Date.now() + 10_000;
      while (provider.toJSON().breaker !== 'open' && Date.now() < deadline) {
        served.push(await provider.currentToken());
        await sleep(50);
      }
      expect(provider.toJSON().breaker).toBe('open');
      expect(served.every((token) => token.secret.equals(valid.secret))).toBe(true);
      const callsWhileOpen = container.state.calls.length;
      await provider.currentToken();
      expect(container.state.calls.length).toBe(callsWhileOpen);
      provider.invalidate(valid);
      const error = await provider.currentToken().catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(CredentialError);
      expect((error as CredentialError).code).toBe('BREAKER_OPEN');
      expect((error as Error).message).toMatch(/MINT_FAILED|AWS credential provider failed/);
    } finally {
      await provider.stop();
    }
  });
});

const startWorker = (settings: SdkSourceWorkerSettings) => forkWorker(WORKER, settings, environment());
const stopWorker = (child: ChildProcess) => stopForkedWorker<SdkSourceWorkerReport>(child);

describe('four processes on one host share the SDK source through Redis', () => {
  it.each([
    { cloud: 'aws' as const, calls: () => container.state.calls },
    { cloud: 'azure' as const, calls: () => identity.state.calls },
  ])(
    '$cloud: one call to the metadata endpoint per refresh window for the host, not one per process',
    async ({ cloud, calls }) => {
      await flushRedis(redis.url);
      const settings: SdkSourceWorkerSettings = { cloud, redisUrl: redis.url, encryptionKeyHex: randomBytes(32).toString('hex'), s3Url: s3.url };
      // the windows are counted from the first fork to the last stop: a busy machine starts the four
      // processes over seconds, and the first of them already refreshes meanwhile
      const forkedAt = Date.now();
      const fleet = Array.from({ length: 4 }, () => startWorker(settings));
      await Promise.all(fleet.map(({ ready }) => ready));
      const refusedBefore = s3.state.refused.length;
      await sleep(4_000);
      const reports = await Promise.all(fleet.map(({ child }) => stopWorker(child)));
      const seconds = (Date.now() - forkedAt) / 1_000;
      const made = calls().length;
      // 2-second credentials refreshed at half their life: one window a second, plus the host's first
      // mint (four processes alone: four a window)
      const expiredInTransit = reports.reduce((sum, report) => sum + report.expiredInTransit, 0);
      console.log(
        `${cloud} host of 4 processes, ${seconds.toFixed(1)} s: ${made} metadata calls for ~${Math.ceil(seconds)} refresh windows; ${expiredInTransit} requests refused for keys that expired on the way`,
      );
      expect(made).toBeLessThanOrEqual(Math.ceil(seconds) + 2);
      expect(made).toBeGreaterThanOrEqual(2);
      for (const report of reports) {
        expect(report.failures).toEqual([]);
        expect(report.served).toBeGreaterThan(10);
        expect(report.expiredServed).toBe(0);
      }
      // S3 judges the keys when the request arrives: every refusal is of keys that were valid when
      // the signer got them and expired on the way (as in test/aws/aws-fleet.test.ts), none of keys
      // served expired, of an unknown key or of a wrong signature
      if (cloud === 'aws') expect(s3.state.refused.slice(refusedBefore)).toEqual(Array.from({ length: expiredInTransit }, () => 'expired keys'));
      else for (const report of reports) for (const token of report.tokens) expect(identity.state.issued.has(token)).toBe(true);
    },
    60_000,
  );
});
