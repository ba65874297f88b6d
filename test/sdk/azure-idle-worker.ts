/**
 * A process that drives an Azure SDK pipeline (`bearerTokenAuthenticationPolicy`, its token cycler)
 * through `toTokenCredential`, then idles past the SDK's own refresh window: after `invalidate()`
 * during an issuer outage (`invalidate`), or after `stop()` (`stop`). It must live through the idle
 * time (the SDK's background refresh, if it had one, rejects unhandled and kills it) and exit by
 * itself. Prints `alive after <ms>` and what each request came to; the test reads them.
 */
import { bearerTokenAuthenticationPolicy, createDefaultHttpClient, createPipelineFromOptions, createPipelineRequest } from '@azure/core-rest-pipeline';
import { createCredentialProvider } from '../../src/index.js';
import { toTokenCredential } from '../../src/azure/index.js';
import { clientCredentialsMint } from '../../src/oauth2/index.js';
import { startHttpsServer, startTokenEndpoint } from './local-servers.js';

const [mode = 'invalidate', lifetimeSeconds = '3'] = process.argv.slice(2);
const SCOPE = 'https://resource.example/.default';
const tokenEndpoint = await startTokenEndpoint(Number(lifetimeSeconds));
const sent: string[] = [];
const resource = await startHttpsServer((request, _body, response) => {
  const token = /^Bearer (.+)$/.exec(request.headers.authorization ?? '')?.[1] ?? '';
  sent.push(token);
  response.writeHead(tokenEndpoint.state.issued.has(token) ? 200 : 401).end();
});
const provider = await createCredentialProvider({
  mint: clientCredentialsMint({ tokenEndpoint: tokenEndpoint.tokenEndpoint, clientId: 'app', clientSecret: 'app-secret', allowInsecureRequests: true }),
  breakerThreshold: 1,
  breakerCooldownMs: 60_000,
  refreshFloorMs: 500,
});
const pipeline = createPipelineFromOptions({ tlsOptions: { ca: resource.ca }, retryOptions: { maxRetries: 0 } });
pipeline.addPolicy(bearerTokenAuthenticationPolicy({ credential: toTokenCredential(provider, { scopes: [SCOPE] }), scopes: SCOPE }), { phase: 'Sign' });
const httpClient = createDefaultHttpClient();
const send = async (label: string) => {
  try {
    const response = await pipeline.sendRequest(httpClient, createPipelineRequest({ url: `${resource.url}/data`, method: 'GET' }));
    console.log(`${label}: ${response.status}`);
  } catch (error) {
    console.log(`${label}: ${(error as Error).name} ${(error as { code?: string }).code ?? ''}`);
  }
};

await send('first');
const held = sent.at(-1)!;
if (mode === 'invalidate') {
  tokenEndpoint.state.failing = true;
  const token = await provider.currentToken();
  console.log(`invalidated: ${provider.invalidate(token)}`);
} else {
  await provider.stop();
}
await send('after');
await send('again');
console.log(`invalidated token sent again: ${sent.slice(1).filter((token) => token === held).length}`);
const started = Date.now();
// idle past the held token's expiry and the SDK's 3 s retry interval: its last background attempt would reject here
await new Promise((resolve) => setTimeout(resolve, Number(lifetimeSeconds) * 1000 + 4_000));
console.log(`alive after ${Date.now() - started}`);
await provider.stop();
await Promise.all([tokenEndpoint.close(), resource.close()]);
// nothing is left to keep the process alive: it exits by itself
