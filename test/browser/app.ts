/** A page that embeds the provider and streams it to a Stately browser inspector in an iframe. */
import { createBrowserInspector } from '@statelyai/inspect';
import { createCredentialProvider } from '../../src/index.js';
import { ManualClock } from '../../src/testing/index.js';
import { runScenario, scenarioMint } from '../inspector/scenario.js';

declare global {
  interface Window {
    lived?: string[];
    done?: boolean;
    failure?: string;
  }
}

async function main(): Promise<void> {
  const iframe = document.getElementById('receiver') as HTMLIFrameElement;
  const connected = new Promise<void>((resolve) => {
    window.addEventListener('message', (event) => {
      if ((event.data as { type?: string } | null)?.type === '@statelyai.connected') resolve();
    });
  });
  const inspector = createBrowserInspector({ iframe, url: new URL('/receiver.html', location.href).href });
  await connected;
  const clock = new ManualClock(0);
  const mint = scenarioMint();
  const pending = createCredentialProvider({ mint: mint.mint, clock, breakerThreshold: 2, inspect: inspector.inspect });
  mint.succeed(3_600_000);
  const provider = await pending;
  const lived = [JSON.stringify(provider.actor.getSnapshot().value)];
  provider.actor.subscribe((snapshot) => lived.push(JSON.stringify(snapshot.value)));
  await runScenario(provider, clock, mint);
  await provider.stop();
  window.lived = lived;
  window.done = true;
}

main().catch((error: unknown) => {
  window.failure = String(error);
});
