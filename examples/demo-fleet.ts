/**
 * `npm run demo -- --fleet 4`: a fleet of processes sharing one token through Redis. One embedded
 * OAuth 2.0 server, one protected API, a redis-server on loopback (started here; installed from
 * Debian's packages first if missing, as root), and N forked processes each calling the API in a
 * loop. Halfway through the issuer goes down for a while. The summary counts the issuer's requests
 * per refresh window: one per window for the whole fleet, not one per process.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { compiledScript, removeCompiledScripts } from './compiled-script.js';
import type { FleetWorkerMessage, FleetWorkerSettings } from './fleet-worker.js';
import { startProtectedApi } from './protected-api.js';
import { startRedisServer } from './redis-server.js';
import { startTokenServer } from './token-server.js';

/** Runs the fleet demo; resolves with the exit code (0: no expired token served, nothing refused by the API). */
export async function runFleetDemo({ processes, durationMs }: { processes: number; durationMs: number }): Promise<number> {
  const ttlSeconds = Math.max(2, Math.round(durationMs / 8_000));
  const windowMs = (ttlSeconds * 1_000) / 2; // proactive refresh at half the life
  const outage = { fromMs: durationMs * 0.4, toMs: durationMs * 0.65 };
  const breakerThreshold = 2;
  const breakerCooldownMs = Math.max(1_000, durationMs / 20);
  const seconds = (ms: number) => `${(ms / 1000).toFixed(1)}s`;
  const redis = await startRedisServer();
  const tokenServer = await startTokenServer({ clientId: 'demo-client', clientSecret: 'demo-client-secret', accessTokenTtlSeconds: ttlSeconds });
  const api = await startProtectedApi(tokenServer);
  const settings: FleetWorkerSettings = {
    redisUrl: redis.url,
    tokenEndpoint: tokenServer.tokenEndpoint,
    audience: tokenServer.audience,
    apiUrl: api.url,
    encryptionKeyHex: randomBytes(32).toString('hex'),
    breakerThreshold,
    breakerCooldownMs,
  };
  // compiled once with the packages it imports, and started on plain Node: through tsx each process
  // spent about a second of CPU resolving and transforming its imports before its first line
  const worker = compiledScript('examples/fleet-worker.ts');
  const issuerCalls: number[] = [];
  const events: string[] = [];
  const summaries: Extract<FleetWorkerMessage, { type: 'summary' }>[] = [];
  let startedAt = Date.now();
  const children: ChildProcess[] = [];
  const ready: Promise<void>[] = [];
  for (let index = 0; index < processes; index++) {
    const child = fork(worker, [JSON.stringify(settings)], { execArgv: [] });
    children.push(child);
    ready.push(
      new Promise((resolve, reject) => {
        child.on('message', (message: FleetWorkerMessage) => {
          if (message.type === 'ready') resolve();
          if (message.type === 'issuer-call') issuerCalls.push(message.at);
          if (message.type === 'event') events.push(`${seconds(message.at - startedAt)} process ${index + 1}: ${message.event}`);
          if (message.type === 'summary') summaries.push(message);
        });
        child.once('exit', (code) => reject(new Error(`process ${index + 1} exited (${code}) before it was ready`)));
      }),
    );
  }
  try {
    await Promise.all(ready);
    startedAt = Date.now();
    // issuer requests and tokens issued are both counted from the fleet's start (its cold start included)
    const coldStartCalls = issuerCalls.length;
    console.log(
      `${processes} processes share one token through redis-server on ${redis.url}; ${ttlSeconds}s tokens, refreshed every ${seconds(windowMs)}; the issuer goes down from ${seconds(outage.fromMs)} to ${seconds(outage.toMs)}`,
    );
    let printed = 0;
    while (Date.now() - startedAt < durationMs) {
      const elapsed = Date.now() - startedAt;
      if (tokenServer.running && elapsed >= outage.fromMs && elapsed < outage.toMs) await tokenServer.stop();
      if (!tokenServer.running && elapsed >= outage.toMs) await tokenServer.start();
      if (elapsed - printed >= 5_000) {
        printed = elapsed;
        console.log(
          `${seconds(elapsed).padStart(6)}  issuer requests ${issuerCalls.length}  tokens issued ${tokenServer.issued}  (both since the fleet started)${tokenServer.running ? '' : '  [ISSUER DOWN]'}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    if (!tokenServer.running) await tokenServer.start();
    const exited = children.map((child) => new Promise<void>((resolve) => child.once('exit', () => resolve())));
    for (const child of children) child.send({ type: 'stop' });
    await Promise.all(exited);
    const windows = Math.ceil(durationMs / windowMs);
    const perWindow = Array.from({ length: windows }, () => 0);
    for (const at of issuerCalls) {
      const window = Math.floor((at - startedAt) / windowMs);
      if (window >= 0 && window < windows) perWindow[window]!++;
    }
    const duringOutage = issuerCalls.filter((at) => at - startedAt >= outage.fromMs && at - startedAt < outage.toMs).length;
    const total = summaries.reduce(
      (sum, summary) => ({
        ok: sum.ok + summary.ok,
        failed: sum.failed + summary.failed,
        refusedLocally: sum.refusedLocally + summary.refusedLocally,
        refused: sum.refused + summary.refusedByApi,
        expired: sum.expired + summary.expiredServed,
      }),
      { ok: 0, failed: 0, refusedLocally: 0, refused: 0, expired: 0 },
    );
    console.log(`\nSummary after ${seconds(durationMs)}, ${processes} processes, one Redis`);
    console.log(`  issuer requests per ${seconds(windowMs)} refresh window (the whole fleet):`);
    for (let row = 0; row < windows; row += 10)
      console.log(
        `    ${perWindow
          .slice(row, row + 10)
          .map((count, offset) => `w${String(row + offset + 1).padStart(2)} ${count}`)
          .join('  ')}`,
      );
    console.log(
      `  issuer requests     ${issuerCalls.length} since the fleet started (${tokenServer.issued} tokens issued): ${coldStartCalls} at its cold start, then ${windows} windows for ${processes} processes; ${duringOutage} during the ${seconds(outage.toMs - outage.fromMs)} outage (breakerThreshold ${breakerThreshold}, one probe per ${seconds(breakerCooldownMs)} cooldown, for the fleet)`,
    );
    console.log(
      `  requests            ${total.ok + total.failed}: ${total.ok} served by the API, ${total.refusedLocally} refused locally (token expired, breaker open), ${total.failed - total.refusedLocally - total.refused} failed otherwise (${total.refused} refused by the API)`,
    );
    console.log(`  expired tokens served: ${total.expired}`);
    const SHOWN = 12;
    console.log(`  events              ${events.length} in all${events.length > SHOWN ? `, the first ${SHOWN}:` : ':'}`);
    for (const event of events.slice(0, SHOWN)) console.log(`    ${event}`);
    if (events.length > SHOWN) console.log(`    … and ${events.length - SHOWN} more (breaker changes and coordination events of every process)`);
    return total.expired === 0 && total.refused === 0 && summaries.length === processes ? 0 : 1;
  } finally {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    await api.close();
    await tokenServer.stop();
    await redis.stop();
    removeCompiledScripts();
  }
}
