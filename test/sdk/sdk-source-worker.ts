/**
 * One process of a fleet on one host, forked by `test/sdk/sdk-source-fleet.test.ts`: a provider whose
 * mint is the cloud SDK's own credential source, shared through Redis. AWS: `fromNodeProviderChain()`
 * finds the container credentials endpoint the environment names, and a real S3 client signs with
 * the keys against an S3-shaped server that verifies every signature. Azure: a real
 * `ManagedIdentityCredential` finds App Service's identity endpoint the environment names, and the
 * tokens are read through `currentToken()`. Settings come as JSON in argv[2]; it reports over IPC.
 */
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { fromNodeProviderChain } from '@aws-sdk/credential-providers';
import { ManagedIdentityCredential } from '@azure/identity';
import { connectRedisPair } from '../../examples/redis-server.js';
import { createCredentialProvider, type CredentialProvider, type SecretValue } from '../../src/index.js';
import { awsCredentialMint, type AwsKeys } from '../../src/aws/index.js';
import { tokenCredentialMint } from '../../src/azure/index.js';
import { redisCoordination } from '../../src/redis/index.js';
import { keysInTransit, type KeysInTransit } from './keys-in-transit.js';
import { AZURE_SCOPE } from './metadata-servers.js';

export interface SdkSourceWorkerSettings {
  readonly cloud: 'aws' | 'azure';
  readonly redisUrl: string;
  readonly encryptionKeyHex: string;
  /** AWS: the S3-shaped server the keys are used against. */
  readonly s3Url?: string;
}

export interface SdkSourceWorkerReport {
  readonly type: 'report';
  readonly served: number;
  /** Azure: the distinct tokens this process was served. */
  readonly tokens: string[];
  readonly failures: string[];
  /** AWS: keys the provider handed to the SDK's signer already expired: what the library must never do. */
  readonly expiredServed: number;
  /**
   * AWS: requests S3 refused as signed with expired keys although the keys were valid when handed to
   * the signer: they expired on the way (a machine this busy delays a request longer than 2-second
   * keys had left), as `test/sdk/aws-fleet-worker.ts` counts them.
   */
  readonly expiredInTransit: number;
}

const settings = JSON.parse(process.argv[2]!) as SdkSourceWorkerSettings;
const { client, subscriber } = await connectRedisPair(settings.redisUrl);
const coordination = redisCoordination({ client, subscriber, encryptionKey: { id: 'fleet', key: Buffer.from(settings.encryptionKeyHex, 'hex') }, prefix: `sdk-${settings.cloud}`, pollMs: 100 });

let served = 0;
let keys: KeysInTransit | null = null;
const tokens = new Set<string>();
const failures: string[] = [];
let running = true;
let provider: CredentialProvider<AwsKeys> | CredentialProvider<string> | null = null;
let s3: S3Client | null = null;

const shared = (sharedKey: string) => ({ coordination, sharedKey });
const policy = { refresh: 'proactive' as const, refreshAt: 0.5, refreshFloorMs: 200, mintTimeoutMs: 3_000 };

const onMessage = async (message: { type: string }): Promise<void> => {
  if (message.type !== 'stop') return;
  running = false;
  await provider?.stop();
  await coordination.close();
  s3?.destroy();
  await Promise.allSettled([client.close(), subscriber.close()]);
  const report: SdkSourceWorkerReport = {
    type: 'report',
    served,
    tokens: [...tokens],
    failures: failures.slice(0, 5),
    expiredServed: keys?.expiredServed() ?? 0,
    expiredInTransit: keys?.expiredInTransit() ?? 0,
  };
  process.send?.(report, () => process.exit(0));
};
process.on('message', (message: { type: string }) => {
  onMessage(message).catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
});

const fail = (error: unknown) => {
  if (running && failures.length < 5) failures.push(`${(error as Error).name}: ${(error as Error).message}`);
};

try {
  if (settings.cloud === 'aws') {
    const aws = await createCredentialProvider<AwsKeys>({ mint: awsCredentialMint(fromNodeProviderChain()), ...shared('aws:task-role'), ...policy });
    provider = aws;
    keys = keysInTransit(aws);
    s3 = new S3Client({ endpoint: settings.s3Url!, region: 'us-east-1', forcePathStyle: true, credentials: keys.credentials, maxAttempts: 1 });
  } else {
    provider = await createCredentialProvider({ mint: tokenCredentialMint(new ManagedIdentityCredential(), { scopes: [AZURE_SCOPE] }), ...shared('azure:vault'), ...policy });
  }
} catch (error) {
  failures.push(`construction: ${(error as Error).message}`);
}
process.send?.({ type: 'ready' });
while (running && provider !== null) {
  try {
    if (s3 !== null) {
      const response = await s3.send(new GetObjectCommand({ Bucket: 'orders', Key: 'today.json' }));
      await response.Body?.transformToString();
    } else {
      const token = await (provider as CredentialProvider<SecretValue>).currentToken();
      tokens.add(token.secret.reveal() as string);
    }
    served++;
  } catch (error) {
    if (keys?.refusedOnTheWay(error) !== true) fail(error);
  }
  await new Promise((resolve) => setTimeout(resolve, 20));
}
