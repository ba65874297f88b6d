import { randomBytes } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { generate } from 'selfsigned';

/** A server on 127.0.0.1 with a port from the OS; `close()` ends it and its connections. */
export interface LocalServer {
  readonly url: string;
  close(): Promise<void>;
}

type Handler = (request: IncomingMessage, body: string, response: ServerResponse) => void | Promise<void>;

/** Listens on 127.0.0.1 with a port from the OS; `close()` ends the server and its connections. */
export async function listen(server: Server, scheme: 'http' | 'https' = 'http'): Promise<LocalServer & { origin: string }> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `${scheme}://127.0.0.1:${port}`,
    origin: `${scheme}://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function withBody(handler: Handler) {
  return (request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      Promise.resolve(handler(request, Buffer.concat(chunks).toString('utf8'), response)).catch((error: unknown) => {
        response.writeHead(500).end(String(error));
      });
    });
  };
}

/** A plain HTTP server on loopback. */
export function startHttpServer(handler: Handler): Promise<LocalServer> {
  return listen(createHttpServer(withBody(handler)), 'http');
}

/** An HTTPS server on loopback with a fresh self-signed certificate for 127.0.0.1; `ca` is that certificate, for the client to trust. */
export async function startHttpsServer(handler: Handler): Promise<LocalServer & { ca: string }> {
  const pems = await generate([{ name: 'commonName', value: '127.0.0.1' }], {
    keyType: 'ec',
    algorithm: 'sha256',
    extensions: [{ name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] }],
  });
  const server = createHttpsServer({ key: pems.private, cert: pems.cert }, withBody(handler));
  return { ...(await listen(server as unknown as Server, 'https')), ca: pems.cert };
}

/**
 * An OAuth token endpoint (client credentials, any client): counts what it is asked, records each
 * request's `claims`, issues random tokens of `lifetimeSeconds`, and answers 503 while `failing`.
 */
export async function startTokenEndpoint(lifetimeSeconds: number) {
  const state = { requests: 0, failing: false, claims: [] as (string | null)[], issued: new Map<string, { claims: string | null }>() };
  const server = await startHttpServer((_request, body, response) => {
    state.requests++;
    if (state.failing) {
      response.writeHead(503, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'temporarily_unavailable' }));
      return;
    }
    const claims = new URLSearchParams(body).get('claims');
    state.claims.push(claims);
    const token = `at-${randomBytes(12).toString('hex')}`;
    state.issued.set(token, { claims });
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ access_token: token, token_type: 'Bearer', expires_in: lifetimeSeconds }));
  });
  return { ...server, state, tokenEndpoint: `${server.url}/token` };
}
