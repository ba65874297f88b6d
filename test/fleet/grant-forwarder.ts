/**
 * An HTTP forwarder in front of the issuer's token endpoint, for the fleet tests: it passes every
 * request on, except a refresh-token grant it was told to hold, which it keeps (with the name of the
 * process that sent it, its `x-worker` header) until the test releases it to the issuer.
 */
import { createServer, type IncomingMessage } from 'node:http';
import { listen } from '../sdk/local-servers.js';

export interface HeldGrant {
  readonly worker: string;
  /** Sends it on to the issuer (which spends its refresh token) and hands its answer back. */
  release(): Promise<void>;
}

export async function startGrantForwarder(tokenEndpoint: string) {
  const state = { holdNext: false, held: null as HeldGrant | null };
  const server = createServer((request: IncomingMessage, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const forward = async () => {
        const headers: Record<string, string> = {};
        for (const name of ['authorization', 'content-type', 'accept']) {
          const value = request.headers[name];
          if (typeof value === 'string') headers[name] = value;
        }
        try {
          const answer = await fetch(tokenEndpoint, { method: request.method ?? 'POST', headers, body: request.method === 'POST' ? body : undefined });
          response.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'application/json' }).end(await answer.text());
        } catch {
          response.writeHead(502).end();
        }
      };
      if (state.holdNext && new URLSearchParams(body).has('refresh_token')) {
        state.holdNext = false;
        state.held = { worker: String(request.headers['x-worker'] ?? ''), release: forward };
        return;
      }
      void forward();
    });
  });
  const listening = await listen(server);
  return { tokenEndpoint: `${listening.origin}/token`, state, close: () => listening.close() };
}
