/**
 * `npm run demo -- --tenants 50`: the pool end to end. One embedded OAuth 2.0 server, one protected
 * API, a pool holding a token per tenant (proactive refresh), and a load loop asking for each tenant
 * in turn. Halfway through the issuer goes down: the issuer breaker opens after `breakerThreshold`
 * failures for the whole pool, one probe per cooldown reaches the issuer, and the issuer's request
 * count during the outage is printed beside the number of tenants.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { createCredentialPool, CredentialError, type AuthToken, type CurrentTokenOptions } from 'credential-actor';
import { clientCredentialsMint, OAuthError } from 'credential-actor/oauth2';
import { fetchWithToken } from './fetch-with-token.js';
import { startProtectedApi } from './protected-api.js';
import { startTokenServer } from './token-server.js';

/** Runs the pool demo; resolves with the process exit code (0: no expired token served, nothing refused by the API). */
export async function runPoolDemo({ tenants, durationMs }: { tenants: number; durationMs: number }): Promise<number> {
  const outage = { fromMs: durationMs * 0.4, toMs: durationMs * 0.65 };
  const ttlSeconds = Math.max(2, Math.round(durationMs / 8_000));
  const seconds = (ms: number) => `${(ms / 1000).toFixed(1)}s`;
  const tokenServer = await startTokenServer({ clientId: 'demo-client', clientSecret: 'demo-client-secret', accessTokenTtlSeconds: ttlSeconds });
  const api = await startProtectedApi(tokenServer);
  const mint = clientCredentialsMint({
    tokenEndpoint: tokenServer.tokenEndpoint,
    clientId: 'demo-client',
    clientSecret: 'demo-client-secret',
    resource: tokenServer.audience,
    allowInsecureRequests: true,
  });
  const issuer = { calls: 0, callsDuringOutage: 0, down: false };
  const breakerThreshold = 3;
  const breakerCooldownMs = Math.max(1_000, durationMs / 20);
  const pool = createCredentialPool({
    // every tenant shares the demo's one client here; a real mint would use the tenant's own
    mint: (_key, { signal }) => {
      issuer.calls++;
      if (issuer.down) issuer.callsDuringOutage++;
      return mint({ signal });
    },
    refresh: 'proactive',
    refreshFloorMs: 500,
    breakerThreshold,
    breakerCooldownMs,
    mintTimeoutMs: 3_000,
    maxMintsInFlight: 8,
  });
  const issuerBreaker: string[] = [];
  pool.on('issuer.breaker.changed', ({ from, to }) => issuerBreaker.push(`${from}→${to}`));
  const perTenant = new Map<string, { ok: number; failed: number }>();
  const keys = Array.from({ length: tenants }, (_, index) => `tenant-${String(index + 1).padStart(3, '0')}`);
  for (const key of keys) perTenant.set(key, { ok: 0, failed: 0 });
  let expiredServed = 0;
  let refusedByApi = 0;
  const startedAt = Date.now();
  let lastPrinted = 0;
  for (let request = 0; Date.now() - startedAt < durationMs; request++) {
    const elapsed = Date.now() - startedAt;
    if (!issuer.down && elapsed >= outage.fromMs && elapsed < outage.toMs) {
      issuer.down = true;
      await tokenServer.stop();
    }
    if (issuer.down && elapsed >= outage.toMs) {
      issuer.down = false;
      await tokenServer.start();
    }
    const key = keys[request % keys.length]!;
    const stats = perTenant.get(key)!;
    const provider = {
      currentToken: async (options?: CurrentTokenOptions): Promise<AuthToken> => {
        const askedAt = Date.now();
        const token = await pool.currentToken(key, options);
        // expired when asked for: a token that lapses between the answer and this line was served valid
        if (token.expiresAt !== null && token.expiresAt <= askedAt) expiredServed++;
        return token;
      },
    };
    try {
      const response = await fetchWithToken(provider, api.url);
      await response.body?.cancel();
      if (response.ok) stats.ok++;
      else {
        stats.failed++;
        refusedByApi++;
      }
    } catch (error) {
      if (!(error instanceof CredentialError || error instanceof OAuthError)) throw error;
      stats.failed++;
    }
    if (Date.now() - lastPrinted >= 5_000) {
      lastPrinted = Date.now();
      const { issuer: state, keys: live, mintsInFlight, mintsQueued } = pool.toJSON();
      const ok = [...perTenant.values()].reduce((sum, tenant) => sum + tenant.ok, 0);
      console.log(
        `${seconds(elapsed).padStart(6)}  keys ${live}  issuer breaker ${state.breaker.padEnd(8)} mints in flight ${mintsInFlight} queued ${mintsQueued}  requests ok ${ok}  issuer requests ${issuer.calls}${issuer.down ? '  [ISSUER DOWN]' : ''}`,
      );
    }
    await sleep(10);
  }
  await pool.stop();
  await api.close();
  await tokenServer.stop();
  const rows = [...perTenant].map(([key, { ok, failed }]) => `${key} ${String(ok).padStart(4)} ok ${String(failed).padStart(3)} failed`);
  const columns = 4;
  console.log(`\nSummary after ${seconds(Date.now() - startedAt)}, ${tenants} tenants`);
  // a few tenants, row by row; many, as a distribution (fifty near-identical rows say less than one line)
  if (rows.length <= 12) for (let row = 0; row < rows.length; row += columns) console.log(`  ${rows.slice(row, row + columns).join('   ')}`);
  else {
    const served = [...perTenant.values()].map(({ ok }) => ok).sort((a, b) => a - b);
    const failing = [...perTenant.values()].filter(({ failed }) => failed > 0).length;
    console.log(`  per tenant          served min ${served[0]}, median ${served[Math.floor(served.length / 2)]}, max ${served.at(-1)}; ${failing} of ${tenants} tenants saw a failure`);
  }
  const total = [...perTenant.values()].reduce((sum, { ok, failed }) => ({ ok: sum.ok + ok, failed: sum.failed + failed }), { ok: 0, failed: 0 });
  console.log(`  requests            ${total.ok + total.failed}: ${total.ok} served by the API, ${total.failed} failed (${refusedByApi} refused by the API)`);
  console.log(`  expired tokens served: ${expiredServed}`);
  console.log(
    `  issuer requests     ${issuer.calls} in all (the token server issued ${tokenServer.issued}); ${issuer.callsDuringOutage} during the ${seconds(outage.toMs - outage.fromMs)} outage, for ${tenants} tenants (breakerThreshold ${breakerThreshold}, one probe per ${seconds(breakerCooldownMs)} cooldown)`,
  );
  console.log(`  issuer breaker      ${issuerBreaker.join(', ') || 'stayed closed'}`);
  return expiredServed === 0 && refusedByApi === 0 ? 0 : 1;
}
