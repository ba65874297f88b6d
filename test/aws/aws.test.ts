/**
 * `credential-actor/aws` under a real AWS SDK v3 client: `@aws-sdk/client-s3` signs each request
 * with the keys this library serves, against a local S3-shaped server that verifies every SigV4
 * signature with `@smithy/signature-v4`; the keys come from `assumeRoleMint` on
 * `@aws-sdk/client-sts`, against a local STS-shaped server.
 */
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { STSClient } from '@aws-sdk/client-sts';
import type { AwsCredentialIdentityProvider } from '@smithy/types';
import { inspect } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import { BreakerOpenError, createCredentialPool, createCredentialProvider, type CredentialProvider } from '../../src/index.js';
import { assumeRoleMint, StsError, toAwsCredentialProvider, type AwsKeys } from '../../src/aws/index.js';
import { startS3Server, startStsServer } from '../sdk/aws-servers.js';
import { runScript } from '../sdk/run-script.js';

const ROLE = 'arn:aws:iam::123456789012:role/orders';
const BASE_KEYS = { accessKeyId: 'AKIABASEKEYFORSTS000', secretAccessKey: 'base-secret-for-sts-calls' };

let sts: Awaited<ReturnType<typeof startStsServer>>;
let s3: Awaited<ReturnType<typeof startS3Server>>;
beforeAll(async () => {
  sts = await startStsServer(3_600_000);
  s3 = await startS3Server(sts.state.issued);
});
afterAll(async () => {
  await Promise.all([sts?.close(), s3?.close()]);
});

const stops: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const stop of stops.splice(0)) await stop();
  sts.state.calls.length = 0;
  sts.state.failWith = null;
  sts.state.lifetimeMs = 3_600_000;
  s3.state.keyIds.length = 0;
  s3.state.refused.length = 0;
});

function stsClient(): STSClient {
  const client = new STSClient({ endpoint: sts.url, region: 'us-east-1', credentials: BASE_KEYS, maxAttempts: 1 });
  stops.push(() => client.destroy());
  return client;
}

async function startKeys(options: { breakerThreshold?: number } = {}): Promise<CredentialProvider<AwsKeys>> {
  const provider = await createCredentialProvider({
    mint: assumeRoleMint({ roleArn: ROLE, roleSessionName: 'orders-api', client: stsClient() }),
    firstMint: 'lazy',
    breakerThreshold: options.breakerThreshold ?? 1,
    breakerCooldownMs: 60_000,
  });
  stops.push(() => provider.stop());
  return provider;
}

function s3Client(credentials: AwsCredentialIdentityProvider): S3Client {
  const client = new S3Client({ endpoint: s3.url, region: 'us-east-1', forcePathStyle: true, credentials, maxAttempts: 1 });
  stops.push(() => client.destroy());
  return client;
}

async function getObject(client: S3Client): Promise<string> {
  const response = await client.send(new GetObjectCommand({ Bucket: 'orders', Key: 'today.json' }));
  return (await response.Body?.transformToString()) ?? '';
}

describe('toAwsCredentialProvider under @aws-sdk/client-s3, SigV4 verified by the server', () => {
  it('is an AwsCredentialIdentityProvider', async () => {
    expectTypeOf(toAwsCredentialProvider(await startKeys())).toMatchTypeOf<AwsCredentialIdentityProvider>();
  });

  it('a burst of requests from ten clients causes one AssumeRole, and every signature verifies', async () => {
    const credentials = toAwsCredentialProvider(await startKeys());
    const clients = Array.from({ length: 10 }, () => s3Client(credentials));
    const bodies = await Promise.all(clients.flatMap((client) => Array.from({ length: 30 }, () => getObject(client))));
    expect(bodies.filter((body) => body === 'hello')).toHaveLength(300);
    expect(s3.state.refused).toEqual([]);
    expect(sts.state.calls).toEqual([{ action: 'AssumeRole', roleArn: ROLE, webIdentityToken: null, externalId: null }]);
    expect(new Set(s3.state.keyIds).size).toBe(1);
  }, 30_000);

  it('the control: the SDK’s own cache, per client, makes one AssumeRole per client', async () => {
    const mint = assumeRoleMint({ roleArn: ROLE, roleSessionName: 'orders-api', client: stsClient() });
    const perClient: AwsCredentialIdentityProvider = async () => {
      const { secret, expiresAt } = await mint({ signal: new AbortController().signal });
      return { ...(secret as AwsKeys), expiration: expiresAt as Date };
    };
    const clients = Array.from({ length: 10 }, () => s3Client(perClient));
    await Promise.all(clients.flatMap((client) => Array.from({ length: 30 }, () => getObject(client))));
    expect(sts.state.calls).toHaveLength(10);
  }, 30_000);

  it('a rotated key is used from the next request on: the SDK keeps no key of its own', async () => {
    const provider = await startKeys();
    const client = s3Client(toAwsCredentialProvider(provider));
    await getObject(client);
    await getObject(client);
    const [first] = s3.state.keyIds;
    expect(provider.invalidate(await provider.currentToken())).toBe(true);
    const rotated = (await provider.currentToken()).secret.reveal().accessKeyId;
    expect(rotated).not.toBe(first);
    await getObject(client);
    expect(s3.state.keyIds).toEqual([first, first, rotated]);
    expect(sts.state.calls).toHaveLength(2);
  });

  it('keys refreshed by the policy before the SDK’s five-minute window are used at once', async () => {
    sts.state.lifetimeMs = 4_000;
    const provider = await createCredentialProvider({
      mint: assumeRoleMint({ roleArn: ROLE, roleSessionName: 'orders-api', client: stsClient() }),
      refreshAt: 0.1,
      refreshFloorMs: 0,
    });
    stops.push(() => provider.stop());
    const client = s3Client(toAwsCredentialProvider(provider));
    await getObject(client);
    const issuedAt = Date.now();
    const refreshed = new Promise((resolve) => provider.on('refresh.succeeded', resolve));
    // past refreshAt: the next request starts the refresh and is served the old keys, the one after it the new
    await new Promise((resolve) => setTimeout(resolve, 500));
    await getObject(client);
    await refreshed;
    await getObject(client);
    expect(Date.now() - issuedAt).toBeLessThan(4_000); // the first keys had not expired: the switch was the policy's
    const [first, second, third] = s3.state.keyIds;
    expect(second).toBe(first);
    expect(third).not.toBe(first);
    expect(third).toBe((await provider.currentToken()).secret.reveal().accessKeyId);
    expect(s3.state.refused).toEqual([]);
  });

  it('never hides the breaker: with the keys expired and STS down, each request fails with BREAKER_OPEN and none reaches STS', async () => {
    sts.state.lifetimeMs = 1_500;
    const provider = await startKeys();
    const client = s3Client(toAwsCredentialProvider(provider));
    await getObject(client);
    sts.state.failWith = { status: 503, code: 'ServiceUnavailable' };
    await new Promise((resolve) => setTimeout(resolve, 1_550)); // the keys expire
    await expect(getObject(client)).rejects.toBeInstanceOf(StsError); // the attempt that opens the breaker
    const stsCalls = sts.state.calls.length;
    const results = await Promise.allSettled(Array.from({ length: 20 }, () => getObject(client)));
    for (const result of results) expect((result as PromiseRejectedResult).reason).toBeInstanceOf(BreakerOpenError);
    expect(sts.state.calls).toHaveLength(stsCalls);
    expect(s3.state.keyIds).toHaveLength(1); // nothing was sent with the expired keys
  });

  it('forceRefresh (the SDK asks after its keys were refused) invalidates and waits for new keys, once per invalidateMinIntervalMs', async () => {
    const provider = await startKeys();
    const credentials = toAwsCredentialProvider(provider);
    const first = await credentials();
    const forced = await credentials({ forceRefresh: true });
    expect(forced.accessKeyId).not.toBe(first.accessKeyId);
    expect((await credentials({ forceRefresh: true })).accessKeyId).toBe(forced.accessKeyId);
    expect(sts.state.calls).toHaveLength(2);
    expect(credentials.memoized).toBe(true);
  });

  it('a pool serves each role its own keys', async () => {
    const pool = createCredentialPool({
      mint: (roleArn, context) => assumeRoleMint({ roleArn, roleSessionName: 'orders-api', client: stsClient() })(context),
    });
    stops.push(() => pool.stop());
    const other = 'arn:aws:iam::123456789012:role/billing';
    const [a, b] = [toAwsCredentialProvider(pool, { key: ROLE }), toAwsCredentialProvider(pool, { key: other })];
    const [keysA, keysB] = await Promise.all([a(), b(), a()]);
    expect(keysA!.accessKeyId).not.toBe(keysB!.accessKeyId);
    expect(sts.state.calls.map(({ roleArn }) => roleArn).sort()).toEqual([other, ROLE]);
    expect(() => toAwsCredentialProvider(pool, {} as never)).toThrow(/with a pool, key must be a non-empty string/);
  });
});

describe('assumeRoleMint', () => {
  it('keeps the key triple whole and secret, with STS’s expiration', async () => {
    const provider = await startKeys();
    const token = await provider.currentToken();
    const keys = token.secret.reveal();
    expect(sts.state.issued.get(keys.accessKeyId)).toMatchObject({ secretAccessKey: keys.secretAccessKey, sessionToken: keys.sessionToken });
    expect(token.expiresAt).toBe(sts.state.issued.get(keys.accessKeyId)!.expiresAt);
    for (const shown of [JSON.stringify(token), inspect(token, { depth: 5 }), inspect(provider)]) {
      for (const part of Object.values(keys)) expect(shown).not.toContain(part);
    }
  });

  it('AssumeRoleWithWebIdentity with the current web identity token, read on every mint', async () => {
    let rotation = 0;
    const mint = assumeRoleMint({ roleArn: ROLE, roleSessionName: 'eks-pod', client: stsClient(), webIdentityToken: async () => `oidc-${++rotation}` });
    await mint({ signal: new AbortController().signal });
    await mint({ signal: new AbortController().signal });
    expect(sts.state.calls.map(({ action, webIdentityToken }) => [action, webIdentityToken])).toEqual([
      ['AssumeRoleWithWebIdentity', 'oidc-1'],
      ['AssumeRoleWithWebIdentity', 'oidc-2'],
    ]);
  });

  it.each([
    ['AccessDenied', 403, 403, 'key'],
    ['Throttling', 400, 429, 'issuer'],
    ['ServiceUnavailable', 503, 503, 'issuer'],
  ])('maps STS’s %s (HTTP %i) to an StsError with status %i', async (code, status, reported) => {
    sts.state.failWith = { status, code };
    const mint = assumeRoleMint({ roleArn: ROLE, roleSessionName: 'orders-api', client: stsClient(), externalId: 'ext-1' });
    const error = await mint({ signal: new AbortController().signal }).then(
      () => null,
      (failure: unknown) => failure as StsError,
    );
    expect(error).toBeInstanceOf(StsError);
    expect(error).toMatchObject({ code: 'STS_ERROR', stsCode: code, status: reported, requestId: expect.stringMatching(/^[0-9a-f]{16}$/) });
    expect(error!.message).not.toContain(BASE_KEYS.secretAccessKey);
    expect(sts.state.calls[0]!.externalId).toBe('ext-1');
  });

  it('rejects with the signal’s reason when aborted, and refuses bad options at construction', async () => {
    const mint = assumeRoleMint({ roleArn: ROLE, roleSessionName: 'orders-api', client: stsClient() });
    const controller = new AbortController();
    controller.abort(new Error('gave up'));
    await expect(mint({ signal: controller.signal })).rejects.toThrow('gave up');
    expect(() => assumeRoleMint({ roleArn: 'orders', roleSessionName: 'x1' })).toThrow(/roleArn must be a role ARN/);
    expect(() => assumeRoleMint({ roleArn: ROLE, roleSessionName: 'a b' })).toThrow(/roleSessionName must be 2 to 64/);
    expect(() => assumeRoleMint({ roleArn: ROLE, roleSessionName: 'ok', durationSeconds: 60 })).toThrow(/durationSeconds must be an integer from 900 to 43200/);
    expect(() => assumeRoleMint({ roleArn: ROLE, roleSessionName: 'ok', rolearn: ROLE } as never)).toThrow(/did you mean roleArn/);
  });
});

describe.concurrent('an AWS SDK client in a process of its own, idle past the keys’ expiry after invalidate() in an outage or stop()', () => {
  const run = (mode: 'invalidate' | 'stop') => runScript('test/sdk/aws-idle-worker.ts', [mode, '3']);

  it.each(['invalidate', 'stop'] as const)(
    'after %s(): the requests fail at once, the dropped keys are not sent again, the process lives and exits by itself',
    async (mode) => {
      const { code, stdout, stderr } = await run(mode);
      expect(stdout).toMatch(/^first: 200$/m);
      // invalidated during the outage: the one probe fails, then the breaker refuses; stopped: STOPPED
      expect(stdout).toMatch(mode === 'invalidate' ? /^after: StsError STS_ERROR$/m : /^after: CredentialError STOPPED$/m);
      expect(stdout).toMatch(mode === 'invalidate' ? /^again: BreakerOpenError BREAKER_OPEN$/m : /^again: CredentialError STOPPED$/m);
      expect(stdout).toMatch(/^invalidated keys sent again: 0$/m);
      expect(stdout).toMatch(/^alive after: \d+$/m);
      expect(stderr).not.toMatch(/unhandled/i);
      expect(code).toBe(0);
    },
    60_000,
  );
});
