/**
 * One tab of the browser demo (`npm run demo -- --browser`): a single-page app whose provider mints
 * with the rotating refresh-token grant and shares its token with the other tabs of the origin. It
 * shows what it holds (a fingerprint, never the token), where its `sharing` region is, and what it
 * did, live. Its refresh token comes in the URL's hash, as a sign-in would leave one.
 */
import { createCredentialProvider } from 'credential-actor';
import { browserCoordination } from 'credential-actor/browser';
import { refreshTokenMint } from 'credential-actor/oauth2';

const settings = new URLSearchParams(location.hash.slice(1));
const name = settings.get('tab') ?? 'tab';
const show = (id: string, text: string) => {
  const element = document.getElementById(id);
  if (element !== null) element.textContent = text;
};
const log = (line: string) => {
  const list = document.getElementById('log')!;
  const item = document.createElement('li');
  item.textContent = `${new Date().toLocaleTimeString()} ${line}`;
  list.prepend(item);
  while (list.childElementCount > 12) list.lastElementChild!.remove();
};

async function fingerprint(secret: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(secret)));
  return Array.from(digest.slice(0, 4), (byte) => byte.toString(16).padStart(2, '0')).join('');
}

// ?inspect on the demo page: each tab streams its statechart to the Stately inspector (stately.ai,
// in a window of its own), where the sharing region shows which tab holds the lock
const inspect = settings.get('inspect') === '1' ? (await import('@statelyai/inspect')).createBrowserInspector().inspect : undefined;
const coordination = browserCoordination();
coordination.on('coordination.fallback', ({ reason }) => log(`fallback: ${reason}`));
const provider = await createCredentialProvider({
  mint: refreshTokenMint({ tokenEndpoint: `${location.origin}/oauth/token`, clientId: 'spa', refreshToken: settings.get('rt') ?? '', allowInsecureRequests: true }),
  coordination,
  sharedKey: 'demo-api',
  firstMint: 'lazy',
  refresh: 'proactive',
  refreshAt: 0.5,
  ...(inspect === undefined ? {} : { inspect }),
});
show('name', name);
let sharing = '';
provider.actor.subscribe((snapshot) => {
  const value = snapshot.value as { validity: string; breaker: string; sharing: string };
  show('validity', value.validity);
  show('breaker', value.breaker);
  if (value.sharing !== sharing) {
    sharing = value.sharing;
    show('sharing', sharing === 'holdingLease' ? 'holding the lock, minting' : sharing);
    if (sharing === 'holdingLease') log('holds the lock: minting');
    if (sharing === 'adopting') log('adopts the token another tab minted');
  }
});
provider.on('refresh.failed', ({ error }) => log(`refresh failed: ${(error as { code?: string }).code ?? (error as Error).message}`));
let shown = '';
for (;;) {
  try {
    const token = await provider.currentToken();
    const print = await fingerprint(token.secret.reveal());
    if (print !== shown) {
      shown = print;
      show('token', `${print}… expires ${new Date(token.expiresAt ?? 0).toLocaleTimeString()}`);
    }
  } catch (error) {
    show('token', `none: ${(error as { code?: string }).code ?? (error as Error).message}`);
  }
  await new Promise((resolve) => setTimeout(resolve, 250));
}
