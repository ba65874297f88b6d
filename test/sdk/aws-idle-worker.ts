/**
 * A process that drives the real `@aws-sdk/client-s3` client through `toAwsCredentialProvider`
 * (keys from `assumeRoleMint` on the real `@aws-sdk/client-sts`), then idles past the keys' expiry:
 * after `invalidate()` during an STS outage (`invalidate`), or after `stop()` (`stop`). It must live
 * through the idle time (a background refresh of the SDK's own, if it had one, would reject
 * unhandled and kill it) and exit by itself. Prints `name: value` lines; `test/aws/aws.test.ts` reads them.
 *
 * Usage: `node --import tsx test/sdk/aws-idle-worker.ts <invalidate|stop> <key lifetime in seconds>`
 */
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { STSClient } from '@aws-sdk/client-sts';
import { createCredentialProvider } from '../../src/index.js';
import { assumeRoleMint, toAwsCredentialProvider } from '../../src/aws/index.js';
import { startS3Server, startStsServer } from './aws-servers.js';

const [mode = 'invalidate', lifetimeSeconds = '3'] = process.argv.slice(2);
const sts = await startStsServer(Number(lifetimeSeconds) * 1_000);
const s3Server = await startS3Server(sts.state.issued);
const stsClient = new STSClient({ endpoint: sts.url, region: 'us-east-1', credentials: { accessKeyId: 'AKIABASEKEYFORSTS000', secretAccessKey: 'base-secret' }, maxAttempts: 1 });
const provider = await createCredentialProvider({
  mint: assumeRoleMint({ roleArn: 'arn:aws:iam::123456789012:role/orders', roleSessionName: 'idle', client: stsClient }),
  breakerThreshold: 1,
  breakerCooldownMs: 60_000,
  refreshFloorMs: 500,
});
const s3 = new S3Client({ endpoint: s3Server.url, region: 'us-east-1', forcePathStyle: true, credentials: toAwsCredentialProvider(provider), maxAttempts: 1 });
const send = async (label: string) => {
  try {
    const response = await s3.send(new GetObjectCommand({ Bucket: 'orders', Key: 'today.json' }));
    await response.Body?.transformToString();
    console.log(`${label}: 200`);
  } catch (error) {
    console.log(`${label}: ${(error as Error).name} ${(error as { code?: string }).code ?? ''}`.trimEnd());
  }
};

await send('first');
const held = s3Server.state.keyIds.at(-1)!;
if (mode === 'invalidate') {
  sts.state.failWith = { status: 503, code: 'ServiceUnavailable' };
  console.log(`invalidated: ${provider.invalidate(await provider.currentToken())}`);
} else {
  await provider.stop();
}
await send('after');
await send('again');
console.log(`invalidated keys sent again: ${s3Server.state.keyIds.slice(1).filter((keyId) => keyId === held).length}`);
const started = Date.now();
// idle past the keys' expiry: a refresh of the SDK's own would fail here, with nobody awaiting it
await new Promise((resolve) => setTimeout(resolve, Number(lifetimeSeconds) * 1_000 + 3_000));
console.log(`alive after: ${Date.now() - started}`);
await provider.stop();
s3.destroy();
stsClient.destroy();
await Promise.all([sts.close(), s3Server.close()]);
// nothing is left to keep the process alive: it exits by itself
