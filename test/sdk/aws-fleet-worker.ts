/**
 * One process of an AWS fleet, forked by `test/aws/aws-fleet.test.ts`: a provider of AWS keys minted by
 * `assumeRoleMint` (against the test's STS-shaped server) and shared through Redis, served to a real
 * `@aws-sdk/client-s3` client that reads an object in a loop from the test's S3-shaped server, which
 * verifies every signature. It runs one session at a time (`test/fleet/sessions.ts`), each with its
 * own settings, and reports over IPC.
 */
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { STSClient } from '@aws-sdk/client-sts';
import { connectRedisPair } from '../../examples/redis-server.js';
import { createCredentialProvider, type CredentialProvider } from '../../src/index.js';
import { assumeRoleMint, type AwsKeys } from '../../src/aws/index.js';
import { redisCoordination } from '../../src/redis/index.js';
import { runSessions, serveUntilStopped, type Session } from '../fleet/sessions.js';
import { keysInTransit, type KeysInTransit } from './keys-in-transit.js';

export interface AwsWorkerSettings {
  readonly redisUrl: string;
  readonly stsUrl: string;
  readonly s3Url: string;
  readonly roleArn: string;
  readonly encryptionKeyHex: string;
  /** Without coordination: each process alone with STS (the control). */
  readonly alone?: boolean;
}

export interface AwsWorkerReport {
  readonly type: 'report';
  readonly requests: number;
  readonly failures: string[];
  /** Keys the provider handed to the SDK's signer already expired: what the library must never do. */
  readonly expiredServed: number;
  /**
   * Requests S3 refused as signed with expired keys although the keys were valid when handed to the
   * signer: they expired on the way (a machine this busy delays a request longer than the keys had left).
   */
  readonly expiredInTransit: number;
  /** The longest a request took, from its keys handed to the signer to S3's answer, in ms. */
  readonly longestRequestMs: number;
}

async function startSession(settings: AwsWorkerSettings): Promise<Session<AwsWorkerReport>> {
  const { client, subscriber } = await connectRedisPair(settings.redisUrl);
  const coordination = redisCoordination({ client, subscriber, encryptionKey: { id: 'fleet', key: Buffer.from(settings.encryptionKeyHex, 'hex') }, prefix: 'aws-fleet', pollMs: 100 });
  const sts = new STSClient({ endpoint: settings.stsUrl, region: 'us-east-1', credentials: { accessKeyId: 'AKIABASEKEYFORSTS000', secretAccessKey: 'base-secret' }, maxAttempts: 1 });

  let requests = 0;
  const failures: string[] = [];
  let longestRequestMs = 0;
  let keys: KeysInTransit | null = null;
  let provider: CredentialProvider<AwsKeys> | null = null;
  let s3: S3Client | null = null;
  const report = (): AwsWorkerReport => ({
    type: 'report',
    requests,
    failures: failures.slice(0, 5),
    expiredServed: keys?.expiredServed() ?? 0,
    expiredInTransit: keys?.expiredInTransit() ?? 0,
    longestRequestMs,
  });

  try {
    provider = await createCredentialProvider({
      mint: assumeRoleMint({ roleArn: settings.roleArn, roleSessionName: 'fleet', client: sts }),
      ...(settings.alone === true ? {} : { coordination, sharedKey: `aws:${settings.roleArn}` }),
      refresh: 'proactive',
      refreshAt: 0.5,
      refreshFloorMs: 200,
      mintTimeoutMs: 3_000,
    });
    keys = keysInTransit(provider);
    s3 = new S3Client({ endpoint: settings.s3Url, region: 'us-east-1', forcePathStyle: true, credentials: keys.credentials, maxAttempts: 1 });
  } catch (error) {
    failures.push(`construction: ${(error as Error).message}`);
  }
  process.send?.({ type: 'ready' });
  const loop =
    s3 === null
      ? null
      : serveUntilStopped(async () => {
          try {
            const response = await s3!.send(new GetObjectCommand({ Bucket: 'orders', Key: 'today.json' }));
            await response.Body?.transformToString();
            requests++;
          } catch (error) {
            if (!keys!.refusedOnTheWay(error) && loop?.running() !== false && failures.length < 5) failures.push(`${(error as Error).name}: ${(error as Error).message}`);
          }
          longestRequestMs = Math.max(longestRequestMs, Date.now() - keys!.handedOutAt());
        }, 20);
  return {
    report,
    async stop() {
      await loop?.stop();
      await provider?.stop();
      await coordination.close();
      s3?.destroy();
      sts.destroy();
      await Promise.allSettled([client.close(), subscriber.close()]);
      return report();
    },
  };
}

runSessions(startSession);
