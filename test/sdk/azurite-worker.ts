/**
 * A process that drives the real `@azure/storage-blob` client against Azurite (Microsoft's Azure
 * Storage emulator, OAuth over HTTPS, which refuses an expired or wrongly addressed token) with
 * `toTokenCredential` inside `@azure/identity`'s `ChainedTokenCredential`: several token lifetimes
 * of downloads, an `invalidate()`, `stop()` (the chain moves on to its next credential), both
 * stopped, then idle past the SDK's own refresh window. It must live through it and exit by itself.
 * Started by `test/azure/azurite.test.ts` with `NODE_EXTRA_CA_CERTS` naming Azurite's certificate; prints
 * `name: value` lines the test reads.
 *
 * Usage: `node --import tsx test/sdk/azurite-worker.ts <blob endpoint> <token endpoint> <seconds>`
 */
import { ChainedTokenCredential } from '@azure/identity';
import { BlobServiceClient } from '@azure/storage-blob';
import { createCredentialProvider, type CredentialProvider } from '../../src/index.js';
import { toTokenCredential } from '../../src/azure/index.js';
import { clientCredentialsMint } from '../../src/oauth2/index.js';

const [blobEndpoint = '', tokenEndpoint = '', seconds = '8'] = process.argv.slice(2);
const scopes = ['https://storage.azure.com/.default'];
const say = (name: string, value: unknown) => console.log(`${name}: ${typeof value === 'string' ? value : JSON.stringify(value)}`);

const providerFor = (clientId: string): Promise<CredentialProvider> =>
  createCredentialProvider({
    mint: clientCredentialsMint({ tokenEndpoint, clientId, clientSecret: `${clientId}-secret`, scopes, allowInsecureRequests: true }),
    refresh: 'proactive',
  });
const primary = await providerFor('blob-app');
const backup = await providerFor('backup-app');
let primaryMints = 1;
primary.on('refresh.succeeded', () => primaryMints++);

const credential = new ChainedTokenCredential(toTokenCredential(primary, { scopes }), toTokenCredential(backup, { scopes }));
const service = new BlobServiceClient(`${blobEndpoint}/devstoreaccount1`, credential, { retryOptions: { maxTries: 1 } });
const container = service.getContainerClient(`orders-${process.pid}`);
await container.create();
const blob = container.getBlockBlobClient('greeting.txt');
await blob.upload('hello', 5);

/** Downloads the blob; the outcome as a word: `200`, or the error's name and code. */
const download = async (): Promise<string> => {
  try {
    const response = await blob.download();
    return String(response._response.status);
  } catch (error) {
    const { name, code, statusCode } = error as { name?: string; code?: string; statusCode?: number };
    return [name, code ?? statusCode].filter((part) => part !== undefined).join(' ');
  }
};

// several token lifetimes of requests, each of which Azurite checks (an expired token is refused)
const outcomes = new Map<string, number>();
const until = Date.now() + Number(seconds) * 1_000;
while (Date.now() < until) {
  const outcome = await download();
  outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
  await new Promise((resolve) => setTimeout(resolve, 50));
}
say('steady', Object.fromEntries(outcomes));
say('primary mints', primaryMints);

const before = primaryMints;
primary.invalidate(await primary.currentToken());
say('after invalidate', await download());
say('mints for the invalidation', primaryMints - before);

await primary.stop();
say('after primary stopped', await download());
await backup.stop();
say('after both stopped', await download());

// idle past the SDK's own refresh window: a background refresh of its own would reject unhandled here
const idleFrom = Date.now();
await new Promise((resolve) => setTimeout(resolve, 6_000));
say('alive after', String(Date.now() - idleFrom));
