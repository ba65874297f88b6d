/**
 * A protected resource server on 127.0.0.1: `GET /resource` answers 200 for a valid JWT access
 * token from the token server, 401 otherwise. It counts what it accepted and refused, and can be
 * told to refuse a token as an upstream that revoked it would.
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose';

export interface ProtectedApi {
  readonly url: string;
  readonly accepted: number;
  /** Refusals, by reason (`expired`, `invalid`, `missing`, `revoked`). */
  readonly refused: Record<string, number>;
  /** Refuse this bearer token from now on, as a revoked one. */
  revoke(token: string): void;
  close(): Promise<void>;
}

export async function startProtectedApi(options: { issuer: string; audience: string; jwks: JSONWebKeySet }): Promise<ProtectedApi> {
  const keys = createLocalJWKSet(options.jwks);
  const revoked = new Set<string>();
  let accepted = 0;
  const refused: Record<string, number> = {};
  const refuse = (reason: string) => {
    refused[reason] = (refused[reason] ?? 0) + 1;
    return { status: 401, body: { error: 'invalid_token', reason } };
  };
  const answer = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const token = /^Bearer (.+)$/.exec(request.headers.authorization ?? '')?.[1];
    let outcome: { status: number; body: object };
    if (token === undefined) outcome = refuse('missing');
    else if (revoked.has(token)) outcome = refuse('revoked');
    else {
      try {
        // exp and nbf are whole seconds: a second of tolerance for the issuer's rounding
        await jwtVerify(token, keys, { issuer: options.issuer, audience: options.audience, clockTolerance: 1 });
        accepted++;
        outcome = { status: 200, body: { ok: true } };
      } catch (error) {
        outcome = refuse((error as { code?: string }).code === 'ERR_JWT_EXPIRED' ? 'expired' : 'invalid');
      }
    }
    response.writeHead(outcome.status, { 'content-type': 'application/json' }).end(JSON.stringify(outcome.body));
  };
  const server = createServer((request, response) => {
    answer(request, response).catch(() => response.headersSent || response.writeHead(500).end());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/resource`,
    get accepted() {
      return accepted;
    },
    refused,
    revoke: (token) => void revoked.add(token),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
