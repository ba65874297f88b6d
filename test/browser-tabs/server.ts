/**
 * What the browser-tabs tests serve on 127.0.0.1: the tab page (bundled from `tab.ts`), a token
 * endpoint on the page's own origin that forwards to oidc-provider (and can hold a grant, as a
 * network would while its tab is closed), a protected API that verifies each token, and a page for
 * another origin (`otherOrigin`, another port) that looks for the tabs' traffic.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createLocalJWKSet, jwtVerify } from 'jose';
import type { TokenServer } from '../../examples/token-server.js';
import { listen } from '../sdk/local-servers.js';
import { bundleForBrowser } from '../../examples/bundle-for-browser.js';

/** Each page script, bundled once per process: every case's server serves the same two. */
const bundles = new Map<string, Promise<string>>();
const bundle = (entry: string): Promise<string> => {
  let bundled = bundles.get(entry);
  if (bundled === undefined) {
    bundled = bundleForBrowser(new URL(entry, import.meta.url));
    bundles.set(entry, bundled);
  }
  return bundled;
};

const page = (script: string) => `<!doctype html><html><head><meta charset="utf-8"><title>tab</title></head><body><script type="module" src="/${script}"></script></body></html>`;

/** A refresh token's fingerprint: the tests compare these, never print a token. */
export const fingerprintOf = (token: string): string => createHash('sha256').update(token).digest('hex').slice(0, 16);

export interface HeldGrant {
  readonly tab: string;
  /** Lets the held grant reach the issuer (which spends its refresh token; its answer goes to a tab that is gone) or refuses it. */
  release(how: 'forward' | 'drop'): Promise<void>;
}

export async function startTabsServer(issuer: TokenServer) {
  const files: Record<string, { type: string; body: string }> = {
    '/tab.html': { type: 'text/html', body: page('tab.js') },
    '/tab.js': { type: 'text/javascript', body: await bundle('./tab.ts') },
    '/other.html': { type: 'text/html', body: page('other.js') },
    '/other.js': { type: 'text/javascript', body: await bundle('./other-origin.ts') },
  };
  const jwks = createLocalJWKSet(issuer.jwks);
  const state = {
    /**
     * Each refresh-token grant the tabs asked for: which tab, with which refresh token
     * (fingerprint), when it arrived, when it was answered, and the life its access token had from
     * then (to its JWT `exp`; `null` until answered or if refused).
     */
    grants: [] as { tab: string; refreshToken: string; at: number; answeredAt: number | null; lifetimeMs: number | null }[],
    apiAccepted: 0,
    /** API calls by tab (its x-tab header). */
    apiCallsByTab: new Map<string, number>(),
    apiRejected: [] as string[],
    holdNextGrant: false,
    held: null as HeldGrant | null,
    /** The token endpoint refuses connections (its sockets are closed at once): nothing reaches the issuer. */
    refusing: false,
    /** The token endpoint answers 503 with Retry-After: 1 (an outage); nothing reaches the issuer. */
    unavailable: false,
    /** Requests the token endpoint refused or grants it answered 503 while it was down. */
    refusedWhileDown: 0,
    /** The last refresh token a tab sent (kept in this process only: an attacker's replay of it is one test). */
    lastRefreshToken: null as string | null,
  };

  async function forward(body: string): Promise<Response> {
    return fetch(issuer.tokenEndpoint, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
  }

  async function token(request: IncomingMessage, body: string, response: ServerResponse): Promise<void> {
    const tab = String(request.headers['x-tab'] ?? '');
    if (state.unavailable) {
      if (request.method === 'POST') state.refusedWhileDown++;
      response.writeHead(503, { 'content-type': 'application/json', 'retry-after': '1', 'access-control-allow-origin': '*' }).end('{"error":"temporarily_unavailable"}');
      return;
    }
    if (request.method === 'HEAD') {
      response.writeHead(405).end();
      return;
    }
    const refreshToken = new URLSearchParams(body).get('refresh_token');
    const grant = refreshToken === null ? null : { tab, refreshToken: fingerprintOf(refreshToken), at: Date.now(), answeredAt: null as number | null, lifetimeMs: null as number | null };
    if (refreshToken !== null) {
      state.grants.push(grant!);
      state.lastRefreshToken = refreshToken;
    }
    if (state.holdNextGrant && refreshToken !== null) {
      state.holdNextGrant = false;
      await new Promise<void>((resolve) => {
        state.held = {
          tab,
          release: async (how) => {
            // Answered, not dropped: a connection closed with no answer on a reused socket makes
            // Chromium send the request again (a browser's own retry, with the same refresh token)
            if (how === 'forward') {
              const answer = await forward(body);
              response.writeHead(answer.status, { 'content-type': 'application/json' }).end(await answer.text());
            } else {
              response.writeHead(503).end();
            }
            resolve();
          },
        };
      });
      return;
    }
    const answer = await forward(body);
    const text = await answer.text();
    if (grant !== null && answer.ok) {
      grant.answeredAt = Date.now();
      grant.lifetimeMs = lifetimeOf(text, Number(request.headers['x-sent-at'] ?? grant.at), grant.answeredAt);
    }
    response.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'application/json' }).end(text);
  }

  /**
   * The access token's life from `answeredAt` to its expiry as the tab's mint reads it: the earlier
   * of the JWT's `exp` and `expires_in` counted from when the request left the tab (`sentAt`).
   */
  function lifetimeOf(text: string, sentAt: number, answeredAt: number): number | null {
    try {
      const { access_token: accessToken, expires_in: expiresIn } = JSON.parse(text) as { access_token?: string; expires_in?: number };
      const { exp } = JSON.parse(Buffer.from(accessToken!.split('.')[1]!, 'base64url').toString('utf8')) as { exp: number };
      return Math.min(exp * 1_000, sentAt + (expiresIn ?? Infinity) * 1_000) - answeredAt;
    } catch {
      return null;
    }
  }

  async function api(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const bearer = /^Bearer (.+)$/.exec(request.headers.authorization ?? '')?.[1] ?? '';
    const tab = String(request.headers['x-tab'] ?? '');
    state.apiCallsByTab.set(tab, (state.apiCallsByTab.get(tab) ?? 0) + 1);
    try {
      // one second of tolerance: the issuer writes exp in whole seconds, so a token can read as
      // expired up to a second before the expiry its response announced (expires_in)
      await jwtVerify(bearer, jwks, { audience: issuer.audience, clockTolerance: 1 });
      state.apiAccepted++;
      response.writeHead(200).end('ok');
    } catch (error) {
      state.apiRejected.push((error as { code?: string }).code ?? 'invalid');
      response.writeHead(401).end();
    }
  }

  const handler = (request: IncomingMessage, response: ServerResponse) => {
    if (state.refusing && new URL(request.url ?? '/', 'http://127.0.0.1').pathname === '/oauth/token') {
      // a connection refused, as a browser meets it: torn down before any answer (nothing reaches the issuer)
      state.refusedWhileDown++;
      request.socket.destroy();
      return;
    }
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const path = new URL(request.url ?? '/', 'http://127.0.0.1').pathname;
      const body = Buffer.concat(chunks).toString('utf8');
      const done = path === '/oauth/token' ? token(request, body, response) : path === '/api' ? api(request, response) : Promise.resolve(serveFile(path, response));
      done.catch(() => {
        if (!response.headersSent) response.writeHead(500).end();
      });
    });
  };
  const serveFile = (path: string, response: ServerResponse) => {
    const file = files[path];
    if (file === undefined) response.writeHead(404).end();
    else response.writeHead(200, { 'content-type': file.type }).end(file.body);
  };

  const [main, other] = await Promise.all([listen(createServer(handler)), listen(createServer(handler))]);
  return {
    /** Presents `refreshToken` to the issuer directly, as a thief replaying a stolen one: reuse detection revokes its family. */
    replay: (refreshToken: string) => forward(new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: 'spa' }).toString()),
    origin: main.origin,
    /** The same pages on another port: another origin. */
    otherOrigin: other.origin,
    state,
    async close() {
      await state.held?.release('drop').catch(() => {});
      await Promise.all([main.close(), other.close()]);
    },
  };
}
