/**
 * An app as docs/observability.md shows it: a provider streaming to a WebSocket relay through
 * `createWebSocketInspector`. Stopped as the docs say (`provider.stop()`, then `inspector.stop()`),
 * it must exit by itself; with `keep-inspector` it leaves the inspector running (the control).
 */
import { createWebSocketInspector } from '@statelyai/inspect';
import { createCredentialProvider } from '../../src/index.js';

const [url, mode = 'stop-inspector'] = process.argv.slice(2);
const inspector = createWebSocketInspector({ url: url! });
const provider = await createCredentialProvider({ mint: async () => ({ secret: 's', expiresAt: Date.now() + 60_000 }), inspect: inspector.inspect });
await provider.currentToken();
await new Promise((resolve) => setTimeout(resolve, 300)); // the inspector's socket is open by now
await provider.stop();
if (mode === 'stop-inspector') inspector.stop();
console.log('stopped');
