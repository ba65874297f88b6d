/**
 * `npm run demo`: the whole library end to end on this machine. An embedded OAuth 2.0 server
 * (oidc-provider) and a protected API on loopback, a proactive provider minting with the
 * client-credentials grant, and a load loop of requests. Halfway through, the token server goes down
 * for a while: watch the provider serve the still-valid token, the breaker open, the half-open probes
 * fail, then the recovery. Ends with a summary and the run's timeline as an SVG.
 *
 *   npm run demo                       about a minute
 *   npm run demo -- --duration 20      shorter
 *   npm run demo -- --inspect          stream it to the Stately inspector (http://127.0.0.1:8080, loopback only)
 *   npm run demo -- --inspect --inspect-port 9090   on another port
 *   npm run demo -- --out DIR          where the timeline goes (default demo-output/)
 *   npm run demo -- --tenants 50       the pool: a token per tenant, one issuer breaker (examples/demo-pool.ts)
 *   npm run demo -- --fleet 4          four processes sharing one token through Redis (examples/demo-fleet.ts)
 *   npm run demo -- --browser          browser tabs sharing one token: open the page it serves (examples/demo-browser.ts)
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import type { CredentialProviderOptions } from 'credential-actor';

const USAGE = `Usage: npm run demo -- [options]

  An OAuth 2.0 server, a protected API and a provider on 127.0.0.1, through an issuer outage.

  --duration SECONDS     how long to run (default 60, at least 5)
  --inspect              stream it to the Stately inspector (http://127.0.0.1:8080, loopback only)
  --inspect-port PORT    the inspector bridge's port (default 8080)
  --out DIR              where the timeline SVG goes (default demo-output/)
  --tenants N            the pool instead: a token per tenant, one issuer breaker
  --fleet N              N processes sharing one token through Redis (1 to 64)
  --browser              serve a page where browser tabs share one token (open the URL it prints)
  --help                 this text`;

/** A usage error: one line and the usage on stderr, exit code 2 (no stack: it is not a bug). */
function usageError(message: string): never {
  console.error(`demo: ${message}\n\n${USAGE}`);
  process.exit(2);
}

let parsed: ReturnType<typeof parseDemoArgs>;
function parseDemoArgs() {
  return parseArgs({
    options: {
      duration: { type: 'string', default: '60' },
      inspect: { type: 'boolean', default: false },
      'inspect-port': { type: 'string', default: '8080' },
      out: { type: 'string', default: 'demo-output' },
      tenants: { type: 'string' },
      fleet: { type: 'string' },
      browser: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
}
try {
  parsed = parseDemoArgs();
} catch (error) {
  // e.g. ERR_PARSE_ARGS_UNKNOWN_OPTION: its message names the option
  usageError((error as Error).message.split('\n')[0]!);
}
const { values } = parsed;
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const durationMs = Number(values.duration) * 1000;
if (!(durationMs >= 5_000)) usageError(`--duration must be a number of seconds >= 5, got ${JSON.stringify(values.duration)}`);
if (values.tenants !== undefined) {
  const tenants = Number(values.tenants);
  if (!Number.isInteger(tenants) || tenants < 1) usageError(`--tenants must be a whole number >= 1, got ${JSON.stringify(values.tenants)}`);
  const { runPoolDemo } = await import('./demo-pool.js');
  process.exit(await runPoolDemo({ tenants, durationMs }));
}
if (values.fleet !== undefined) {
  const processes = Number(values.fleet);
  if (!Number.isInteger(processes) || processes < 1 || processes > 64) usageError(`--fleet must be a whole number from 1 to 64, got ${JSON.stringify(values.fleet)}`);
  const { runFleetDemo } = await import('./demo-fleet.js');
  process.exit(await runFleetDemo({ processes, durationMs }));
}
if (values.browser) {
  const { runBrowserDemo } = await import('./demo-browser.js');
  process.exit(await runBrowserDemo({ durationMs }));
}
const inspectPort = Number(values['inspect-port']);
if (!Number.isInteger(inspectPort) || inspectPort < 0 || inspectPort > 65_535) usageError(`--inspect-port must be a port number (0 to 65535), got ${JSON.stringify(values['inspect-port'])}`);
// loaded once the arguments are good: --help and a usage error answer at once
const { createCredentialProvider, CredentialError } = await import('credential-actor');
const { clientCredentialsMint, OAuthError } = await import('credential-actor/oauth2');
const { recordTimeline, renderTimeline } = await import('credential-actor/timeline');
const { fetchWithToken } = await import('./fetch-with-token.js');
const { startProtectedApi } = await import('./protected-api.js');
const { startTokenServer } = await import('./token-server.js');
const outage = { fromMs: durationMs * 0.4, toMs: durationMs * 0.65 };
const TOKEN_TTL_SECONDS = Math.max(2, Math.round(durationMs / 8_000));
const tty = process.stdout.isTTY === true;
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)}s`;

const tokenServer = await startTokenServer({ clientId: 'demo-client', clientSecret: 'demo-client-secret', accessTokenTtlSeconds: TOKEN_TTL_SECONDS });
const api = await startProtectedApi(tokenServer);
let inspect: CredentialProviderOptions['inspect'];
const cleanups: Array<() => unknown> = [];
if (values.inspect) {
  const { startLoopbackInspector, InspectorPortInUse } = await import('./inspector-server.js');
  try {
    const inspector = await startLoopbackInspector(inspectPort);
    inspect = inspector.inspect;
    cleanups.push(() => inspector.close());
    console.log(`Stately inspector: open ${inspector.url} in a browser (loopback only; the page loads the Stately web app, which needs the internet)`);
  } catch (error) {
    if (!(error instanceof InspectorPortInUse)) throw error;
    console.error(error.message);
    await api.close();
    await tokenServer.stop();
    process.exit(1);
  }
}

const counts = { mints: 0, refreshFailures: 0, ok: 0, refused: 0, breakerOpen: 0, mintFailed: 0, expiredServed: 0, breaker: [] as string[] };
const provider = await createCredentialProvider({
  mint: clientCredentialsMint({
    tokenEndpoint: tokenServer.tokenEndpoint,
    clientId: 'demo-client',
    clientSecret: 'demo-client-secret',
    resource: tokenServer.audience,
    allowInsecureRequests: true,
  }),
  refresh: 'proactive',
  refreshFloorMs: 500,
  breakerThreshold: 3,
  breakerCooldownMs: Math.max(1_000, durationMs / 20),
  mintTimeoutMs: 3_000,
  ...(inspect === undefined ? {} : { inspect }),
  reporters: {
    refresh: { onRefreshSucceeded: () => counts.mints++, onRefreshFailed: () => counts.refreshFailures++ },
    breaker: { onBreakerStateChanged: ({ from, to }) => counts.breaker.push(`${from}→${to}`) },
  },
});
const recorder = recordTimeline(provider);
const startedAt = Date.now();
const status = () => {
  const { validity, breaker, expiresAt } = provider.toJSON();
  const elapsed = Date.now() - startedAt;
  const phase = elapsed < outage.fromMs ? `outage in ${seconds(outage.fromMs - elapsed)}` : elapsed < outage.toMs ? `ISSUER DOWN for ${seconds(outage.toMs - elapsed)}` : 'issuer back';
  const ttl = expiresAt === null ? '∞' : seconds(Math.max(0, expiresAt - Date.now()));
  return `${seconds(elapsed).padStart(6)}  ${validity.padEnd(10)} ${breaker.padEnd(8)} ${ttl.padStart(5)}  ${String(counts.mints).padStart(5)}  ${String(counts.refreshFailures).padStart(8)}  ${String(counts.ok).padStart(6)}  ${String(counts.breakerOpen).padStart(7)}  ${String(counts.mintFailed + counts.refused).padStart(6)}  ${phase}`;
};
/** The progress lines' header, laid out as they are: what each column counts (requests since the start). */
const columns = (cells: readonly string[]) =>
  `${cells[0]!.padStart(6)}  ${cells[1]!.padEnd(10)} ${cells[2]!.padEnd(8)} ${cells[3]!.padStart(5)}  ${cells[4]!.padStart(5)}  ${cells[5]!.padStart(8)}  ${cells[6]!.padStart(6)}  ${cells[7]!.padStart(7)}  ${cells[8]!.padStart(6)}  ${cells[9]!}`.trimEnd();
const HEADER = `${columns(['time', 'validity', 'breaker', 'ttl', 'mints', 'refresh', 'served', 'refused', 'failed', 'issuer'])}
${columns(['', '', '', '', '', 'failures', '', 'locally', '', ''])}`;
console.log(HEADER);
let lastPrinted = 0;
let outageStarted = false;
let outageEnded = false;
while (Date.now() - startedAt < durationMs) {
  const elapsed = Date.now() - startedAt;
  if (!outageStarted && elapsed >= outage.fromMs) {
    outageStarted = true;
    await tokenServer.stop();
  }
  if (!outageEnded && elapsed >= outage.toMs) {
    outageEnded = true;
    await tokenServer.start();
  }
  const at = Date.now();
  try {
    const token = await provider.currentToken();
    // expired when asked for: a token that lapses between the answer and this line was served valid
    if (token.expiresAt !== null && token.expiresAt <= at) counts.expiredServed++;
    const response = await fetchWithToken(provider, api.url);
    await response.body?.cancel();
    if (response.ok) counts.ok++;
    else counts.refused++;
    recorder.recordRequest(at, response.ok);
  } catch (error) {
    // no valid token to send: the breaker is open, or the mint this caller waited on failed
    if (error instanceof CredentialError && error.code === 'BREAKER_OPEN') counts.breakerOpen++;
    else if (error instanceof OAuthError || error instanceof CredentialError) counts.mintFailed++;
    else throw error;
    recorder.recordRequest(at, false);
  }
  if (tty) process.stdout.write(`\r${status()}\u001b[K`);
  else if (Date.now() - lastPrinted >= 5_000) {
    lastPrinted = Date.now();
    console.log(status());
  }
  await sleep(100);
}

await provider.stop();
const recording = recorder.stop();
await api.close();
await tokenServer.stop();
for (const cleanup of cleanups) await cleanup();
const timelineFile = join(values.out, 'timeline.svg');
mkdirSync(values.out, { recursive: true });
writeFileSync(timelineFile, renderTimeline(recording, { title: `npm run demo: ${TOKEN_TTL_SECONDS}-s tokens, issuer down ${seconds(outage.fromMs)}–${seconds(outage.toMs)}` }));
const requests = counts.ok + counts.refused + counts.breakerOpen + counts.mintFailed;
console.log(`${tty ? '\n' : ''}
Summary after ${seconds(Date.now() - startedAt)}
  requests            ${requests}: ${counts.ok} served by the API, ${counts.breakerOpen} refused locally (token expired, breaker open), ${counts.mintFailed} failed with the mint they waited on, ${counts.refused} refused by the API
  expired tokens served: ${counts.expiredServed}
  mints               ${counts.mints} (the token server issued ${tokenServer.issued}), refresh failures ${counts.refreshFailures}
  breaker             ${counts.breaker.join(', ') || 'stayed closed'}
  timeline            ${timelineFile}`);
process.exitCode = counts.expiredServed === 0 && counts.refused === 0 ? 0 : 1;
