/**
 * `npm run demo -- --browser`: the tabs of one origin share one token. Serves, on 127.0.0.1, a page
 * with two tabs side by side (two same-origin frames, each its own app: examples/browser/tab.ts),
 * a token endpoint on the page's own origin that forwards to the embedded oidc-provider (refresh
 * tokens rotate, reuse revokes the family), and the grant count, live. Open the URL it prints; open
 * it in more tabs too. Prints the grant count as it goes and exits after the duration.
 */
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { bundleForBrowser } from './bundle-for-browser.js';
import { startTokenServer } from './token-server.js';

const TAB_PAGE = `<!doctype html><html><head><meta charset="utf-8"><title>credential-actor tab</title>
<style>body{font:14px system-ui;margin:12px}dt{color:#666}dd{margin:0 0 6px;font-weight:600}ol{padding-left:16px;font-size:12px;color:#333}</style></head>
<body><h2 id="name"></h2><dl><dt>token</dt><dd id="token">none yet</dd><dt>validity / breaker</dt><dd><span id="validity"></span> / <span id="breaker"></span></dd>
<dt>sharing</dt><dd id="sharing">idle</dd></dl><ol id="log"></ol><script type="module" src="/tab.js"></script></body></html>`;

const INDEX_PAGE = (refreshToken: string) => `<!doctype html><html><head><meta charset="utf-8"><title>credential-actor: browser tabs</title>
<style>body{font:14px system-ui;margin:16px}iframe{width:48%;height:380px;border:1px solid #ccc}#grants{font-size:20px;font-weight:700}</style></head>
<body><h1>Two tabs, one token</h1>
<p>Each frame is a tab of its own: its own provider, sharing through Web Locks and BroadcastChannel. Grants of a refresh token at the issuer: <span id="grants">0</span>
(<span id="refused">0</span> refused, <span id="revoked">0</span> token families revoked). Open this page in more tabs: still one grant per refresh.</p>
<iframe id="left"></iframe><iframe id="right"></iframe>
<script>for (const tab of ['left', 'right']) document.getElementById(tab).src = '/tab.html#tab=' + tab + '&rt=${encodeURIComponent(refreshToken)}' + (location.search.includes('inspect') ? '&inspect=1' : '');</script>
<script>setInterval(async () => { const s = await (await fetch('/stats')).json(); for (const k of ['grants','refused','revoked']) document.getElementById(k).textContent = s[k]; }, 500);</script>
</body></html>`;

/** Runs the browser demo; resolves with the exit code (0: no grant refused, no family revoked). */
export async function runBrowserDemo({ durationMs }: { durationMs: number }): Promise<number> {
  const issuer = await startTokenServer({ clientId: 'demo-client', clientSecret: 'demo-client-secret', accessTokenTtlSeconds: 5, refreshTokens: true, publicClientId: 'spa' });
  const refreshToken = await issuer.issueRefreshToken('spa'); // as if a user had just signed in
  const tabScript = await bundleForBrowser(new URL('./browser/tab.ts', import.meta.url));
  let grants = 0;
  const before = { refused: issuer.invalidGrants, revoked: issuer.grantsRevoked };
  const stats = () => ({ grants, refused: issuer.invalidGrants - before.refused, revoked: issuer.grantsRevoked - before.revoked });
  const server = createServer((request, response) => {
    const path = new URL(request.url ?? '/', 'http://127.0.0.1').pathname;
    if (path === '/oauth/token' && request.method === 'POST') {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        grants++;
        fetch(issuer.tokenEndpoint, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: Buffer.concat(chunks) })
          .then(async (answer) => response.writeHead(answer.status, { 'content-type': 'application/json' }).end(await answer.text()))
          .catch(() => response.writeHead(502).end());
      });
      return;
    }
    const files: Record<string, [string, string]> = {
      '/': ['text/html', INDEX_PAGE(refreshToken)],
      '/tab.html': ['text/html', TAB_PAGE],
      '/tab.js': ['text/javascript', tabScript],
      '/stats': ['application/json', JSON.stringify(stats())],
    };
    const file = files[path];
    if (file === undefined) response.writeHead(404).end();
    else response.writeHead(200, { 'content-type': file[0], 'cache-control': 'no-store' }).end(file[1]);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  console.log(`Two tabs, one token: open ${url} (and open it in more tabs; ${url}?inspect streams each tab to the Stately inspector).`);
  console.log(`Access tokens live 5 s and are refreshed at half their life; refresh tokens rotate, and a reused one revokes the family.`);
  console.log(`Running for ${Math.round(durationMs / 1000)} s (--duration to change).\n`);
  const startedAt = Date.now();
  while (Date.now() - startedAt < durationMs) {
    await sleep(Math.min(5_000, durationMs - (Date.now() - startedAt)));
    const { grants: now, refused, revoked } = stats();
    console.log(`${((Date.now() - startedAt) / 1000).toFixed(0).padStart(4)}s  grants ${now}  refused ${refused}  families revoked ${revoked}`);
  }
  server.closeAllConnections();
  server.close();
  await issuer.stop();
  const { refused, revoked } = stats();
  console.log(`\n${grants} grants, ${refused} refused, ${revoked} token families revoked.`);
  return refused === 0 && revoked === 0 ? 0 : 1;
}
