/**
 * One process of `npm run demo -- --fleet N` (forked by examples/demo-fleet.ts): a provider sharing
 * its token through Redis, calling the protected API in a loop, telling the parent over IPC each time
 * it calls the issuer and, at the end, what it served.
 */
import { createCredentialProvider, CredentialError, type AuthToken, type CurrentTokenOptions } from 'credential-actor';
import { clientCredentialsMint, OAuthError } from 'credential-actor/oauth2';
import { credentialKey, redisCoordination } from 'credential-actor/redis';
import { fetchWithToken } from './fetch-with-token.js';
import { connectRedisPair } from './redis-server.js';

export interface FleetWorkerSettings {
  readonly redisUrl: string;
  readonly tokenEndpoint: string;
  readonly audience: string;
  readonly apiUrl: string;
  readonly encryptionKeyHex: string;
  readonly breakerThreshold: number;
  readonly breakerCooldownMs: number;
}

export type FleetWorkerMessage =
  | { readonly type: 'ready' }
  | { readonly type: 'issuer-call'; readonly at: number }
  | { readonly type: 'event'; readonly event: string; readonly at: number }
  | { readonly type: 'summary'; readonly ok: number; readonly failed: number; readonly refusedLocally: number; readonly refusedByApi: number; readonly expiredServed: number };

const settings = JSON.parse(process.argv[2]!) as FleetWorkerSettings;
const send = (message: FleetWorkerMessage) => process.send?.(message);
const { client, subscriber } = await connectRedisPair(settings.redisUrl, { reconnectMs: 200 });
const coordination = redisCoordination({ client, subscriber, encryptionKey: { id: 'demo', key: Buffer.from(settings.encryptionKeyHex, 'hex') }, prefix: 'demo', leaseMs: 5_000, pollMs: 250 });
coordination.on('coordination.degraded', () => send({ type: 'event', event: 'coordination degraded', at: Date.now() }));
coordination.on('coordination.restored', () => send({ type: 'event', event: 'coordination restored', at: Date.now() }));
const issuerMint = clientCredentialsMint({
  tokenEndpoint: settings.tokenEndpoint,
  clientId: 'demo-client',
  clientSecret: 'demo-client-secret',
  resource: settings.audience,
  allowInsecureRequests: true,
});
const provider = await createCredentialProvider({
  mint: (context) => {
    send({ type: 'issuer-call', at: Date.now() });
    return issuerMint(context);
  },
  coordination,
  sharedKey: credentialKey({ issuer: settings.tokenEndpoint, clientId: 'demo-client', audience: settings.audience }),
  refresh: 'proactive',
  refreshAt: 0.5,
  refreshFloorMs: 500,
  breakerThreshold: settings.breakerThreshold,
  breakerCooldownMs: settings.breakerCooldownMs,
  mintTimeoutMs: 3_000,
});
provider.on('breaker.changed', ({ from, to }) => send({ type: 'event', event: `breaker ${from}→${to}`, at: Date.now() }));

let running = true;
/** `failed` counts every request not served; `refusedLocally` those of them refused for an open breaker, before anything was sent. */
const counts = { ok: 0, failed: 0, refusedLocally: 0, refusedByApi: 0, expiredServed: 0 };
process.on('message', (message: { type: string }) => {
  if (message.type === 'stop') running = false;
});
send({ type: 'ready' });
const checked = {
  currentToken: async (options?: CurrentTokenOptions): Promise<AuthToken> => {
    const askedAt = Date.now();
    const token = await provider.currentToken(options);
    // expired when asked for: a token that lapses between the answer and this line was served valid
    if (token.expiresAt !== null && token.expiresAt <= askedAt) counts.expiredServed++;
    return token;
  },
};
while (running) {
  try {
    const response = await fetchWithToken(checked, settings.apiUrl);
    await response.body?.cancel();
    if (response.ok) counts.ok++;
    else {
      counts.failed++;
      counts.refusedByApi++;
    }
  } catch (error) {
    if (!(error instanceof CredentialError || error instanceof OAuthError || error instanceof TypeError)) throw error;
    counts.failed++;
    if (error instanceof CredentialError && error.code === 'BREAKER_OPEN') counts.refusedLocally++;
  }
  await new Promise((resolve) => setTimeout(resolve, 20));
}
await provider.stop();
await coordination.close();
await Promise.allSettled([client.close(), subscriber.close()]);
send({ type: 'summary', ...counts });
process.disconnect?.();
