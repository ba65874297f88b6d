/**
 * One tab of a single-page app, as `test/browser/browser-tabs.test.ts` opens several: a provider minting
 * with the rotating refresh-token grant (a public client), shared among the tabs by
 * `browserCoordination` unless `coordinated=0`, calling a protected API every 100 ms. What it saw is
 * in `window.tabStats` (token fingerprints, never a token). Settings come in the URL's hash.
 */
import { createCredentialProvider, type CredentialProvider } from '../../src/index.js';
import { browserCoordination } from '../../src/browser/index.js';
import { refreshTokenMint } from '../../src/oauth2/index.js';

export interface TabStats {
  sent: number;
  /** Requests sent with a token at or past its expiry, by the tab's own clock. */
  expiredSent: number;
  /** Tokens `currentToken()` answered that had expired when it was asked (a token that lapses after the answer was served valid). */
  expiredServed: number;
  /** Failures of `currentToken()` by code (or name). */
  failures: string[];
  /** SHA-256 fingerprints of the tokens this tab sent, in order, each once. */
  tokens: string[];
  /** The sharing region's states, in order, each change once (what the inspector would show). */
  sharing: string[];
  fallback: string | null;
}

declare global {
  interface Window {
    tabStats?: TabStats;
    tabReady?: boolean;
    tabFailure?: string;
    stopTab?: () => Promise<void>;
    /** The user signed in again in this tab: hands the provider the new refresh token. */
    signInTab?: (refreshToken: string) => Promise<string>;
  }
}

const settings = new URLSearchParams(location.hash.slice(1));
const tab = settings.get('tab') ?? 'tab';
const stats: TabStats = { sent: 0, expiredSent: 0, expiredServed: 0, failures: [], tokens: [], sharing: [], fallback: null };
window.tabStats = stats;

async function fingerprint(token: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(token)));
  return Array.from(digest.slice(0, 8), (byte) => byte.toString(16).padStart(2, '0')).join('');
}

async function main(): Promise<void> {
  const mint = refreshTokenMint({
    tokenEndpoint: `${location.origin}/oauth/token`,
    clientId: 'spa',
    refreshToken: settings.get('rt')!,
    allowInsecureRequests: true,
    grantTimeoutMs: Number(settings.get('grantTimeoutMs') ?? 60_000),
    fetch: (input, init) => {
      const headers = new Headers(init?.headers);
      headers.set('x-tab', tab);
      // when the request left, as the mint counts a token's life from it: the test reads the tab's window from it
      headers.set('x-sent-at', String(Date.now()));
      return fetch(input, { ...init, headers });
    },
  });
  const coordination = settings.get('coordinated') === '0' ? undefined : browserCoordination({ persist: settings.get('persist') === '1', adoptWaitMs: 300 });
  coordination?.on('coordination.fallback', ({ reason }) => (stats.fallback = reason));
  const provider: CredentialProvider = await createCredentialProvider({
    mint,
    firstMint: 'lazy',
    refresh: 'proactive',
    refreshAt: 0.4,
    mintTimeoutMs: 5_000,
    breakerThreshold: 3,
    breakerCooldownMs: 1_000,
    ...(coordination === undefined ? {} : { coordination, sharedKey: 'orders-api' }),
  });
  provider.actor.subscribe((snapshot) => {
    const sharing = String((snapshot.value as { sharing?: unknown }).sharing);
    if (stats.sharing.at(-1) !== sharing) stats.sharing.push(sharing);
  });
  let running = true;
  window.stopTab = async () => {
    running = false;
    await provider.stop();
    coordination?.close();
  };
  window.signInTab = async (refreshToken) => {
    try {
      await provider.signIn(refreshToken);
      return 'ok';
    } catch (error) {
      return String((error as { code?: unknown }).code ?? error);
    }
  };
  window.tabReady = true;
  while (running) {
    try {
      const askedAt = Date.now();
      const token = await provider.currentToken();
      const secret = token.secret.reveal();
      if (token.expiresAt !== null && token.expiresAt <= askedAt) stats.expiredServed++;
      if (token.expiresAt !== null && token.expiresAt <= Date.now()) stats.expiredSent++;
      const print = await fingerprint(secret);
      if (stats.tokens.at(-1) !== print) stats.tokens.push(print);
      await fetch('/api', { headers: { authorization: `Bearer ${secret}`, 'x-tab': tab } });
      stats.sent++;
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      stats.failures.push(typeof code === 'string' ? code : `${(error as Error).name}${typeof (error as { error?: unknown }).error === 'string' ? `:${(error as { error: string }).error}` : ''}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

main().catch((error: unknown) => {
  window.tabFailure = String(error);
});
