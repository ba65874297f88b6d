/**
 * The demo's bridge to the Stately inspector, on loopback only. An HTTP page on 127.0.0.1 embeds
 * the Stately inspector web app (https://stately.ai/inspect: that page needs the internet) and
 * feeds it the provider's inspection events over a WebSocket on the same port.
 *
 * Unlike `@statelyai/inspect/server` (which listens on every interface and rebroadcasts whatever
 * any client sends), this one binds 127.0.0.1, and its traffic is one way: events go from the
 * inspected app (in this process) to the browser; anything a client sends is ignored.
 */
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createInspector } from '@statelyai/inspect';
import { WebSocket, WebSocketServer } from 'ws';

/** What the demo needs: the observer to pass as `inspect`, the page's address, and how to stop. */
export interface LoopbackInspector {
  readonly inspect: ReturnType<typeof createInspector>['inspect'];
  readonly url: string;
  /** The address the server is bound to: always 127.0.0.1. */
  readonly host: string;
  close(): Promise<void>;
}

/** Thrown when the port is taken, with what to do about it. */
export class InspectorPortInUse extends Error {
  override name = 'InspectorPortInUse';
}

const STATELY_INSPECTOR_URL = 'https://stately.ai/inspect';
/** Events kept for a browser that connects late, as the Stately bridge does. */
const REPLAY_LIMIT = 500;

/**
 * Starts the bridge on `127.0.0.1:port` (0: a port from the OS). Rejects with
 * {@link InspectorPortInUse} when the port is taken.
 *
 * @example
 * ```ts
 * const inspector = await startLoopbackInspector(8080);
 * const provider = await createCredentialProvider({ mint, inspect: inspector.inspect });
 * console.log(`open ${inspector.url}`);
 * ```
 */
export async function startLoopbackInspector(port: number): Promise<LoopbackInspector> {
  const http: Server = createServer((_request, response) => {
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    response.end(bridgePage());
  });
  try {
    // `once` rejects with the server's 'error' (EADDRINUSE) instead of resolving on 'listening'
    http.listen(port, '127.0.0.1');
    await once(http, 'listening');
  } catch (error) {
    http.close();
    if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      throw new InspectorPortInUse(`port ${port} on 127.0.0.1 is in use: pick another with --inspect-port (for example --inspect-port ${port + 1})`);
    }
    throw error;
  }
  const sockets = new WebSocketServer({ server: http });
  const replay: string[] = [];
  sockets.on('connection', (socket) => {
    for (const message of replay) socket.send(message);
    // One way: a client's messages are never relayed (nor read).
    socket.on('message', () => {});
  });
  const inspector = createInspector({
    send(event) {
      const message = JSON.stringify(event);
      replay.push(message);
      if (replay.length > REPLAY_LIMIT) replay.shift();
      for (const client of sockets.clients) if (client.readyState === WebSocket.OPEN) client.send(message);
    },
  });
  const { port: bound, address } = http.address() as AddressInfo;
  return {
    inspect: inspector.inspect,
    url: `http://127.0.0.1:${bound}`,
    host: address,
    async close() {
      inspector.stop();
      for (const client of sockets.clients) client.terminate();
      sockets.close();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}

/** The page: the Stately inspector in an iframe, fed from this server's WebSocket once it says it is ready. */
function bridgePage(): string {
  return `<!DOCTYPE html>
<html>
<head><title>credential-actor: Stately inspector</title>
<style>* { margin: 0; padding: 0; } html, body { height: 100%; } iframe { width: 100%; height: 100%; border: none; }</style>
</head>
<body>
<iframe id="inspector" src="${STATELY_INSPECTOR_URL}"></iframe>
<script>
  const iframe = document.getElementById('inspector');
  const pending = [];
  let connected = false;
  window.addEventListener('message', (event) => {
    if (event.data && event.data.type === '@statelyai.connected') {
      connected = true;
      for (const data of pending.splice(0)) iframe.contentWindow.postMessage(data, '*');
    }
  });
  const socket = new WebSocket('ws://' + location.host);
  socket.onmessage = (event) => {
    const data = JSON.parse(event.data);
    if (connected) iframe.contentWindow.postMessage(data, '*');
    else pending.push(data);
  };
</script>
</body>
</html>`;
}
