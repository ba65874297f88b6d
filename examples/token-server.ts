/**
 * An embedded OAuth 2.0 authorization server for the demo and the integration tests: the certified
 * `oidc-provider`, on 127.0.0.1 with a port from the OS, issuing short-lived JWT access tokens with
 * the client-credentials grant. It can be stopped and started again on the same port (an outage).
 */
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, type JSONWebKeySet } from 'jose';
import Provider from 'oidc-provider';

export interface TokenServerOptions {
  clientId: string;
  clientSecret: string;
  /** Access-token lifetime, whole seconds. */
  accessTokenTtlSeconds: number;
  /** The API the tokens are for (`aud`). */
  audience?: string;
}

export interface TokenServer {
  readonly issuer: string;
  readonly tokenEndpoint: string;
  readonly audience: string;
  /** The public keys an API verifies the tokens with. */
  readonly jwks: JSONWebKeySet;
  /** How many tokens it has issued. */
  readonly issued: number;
  readonly running: boolean;
  /** Stops answering (connections are refused) until {@link TokenServer.start}. */
  stop(): Promise<void>;
  /** Answers again, on the same port. */
  start(): Promise<void>;
}

export async function startTokenServer(options: TokenServerOptions): Promise<TokenServer> {
  const audience = options.audience ?? 'urn:credential-actor:demo-api';
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const jwks: JSONWebKeySet = { keys: [{ ...(await exportJWK(publicKey)), kid: 'demo', alg: 'ES256', use: 'sig' }] };
  const signingKey = { ...(await exportJWK(privateKey)), kid: 'demo', alg: 'ES256', use: 'sig' };

  const server: Server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const issuer = `http://127.0.0.1:${port}`;
  let issued = 0;
  let running = true;

  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: options.clientId,
        client_secret: options.clientSecret,
        grant_types: ['client_credentials'],
        redirect_uris: [],
        response_types: [],
        id_token_signed_response_alg: 'ES256',
      },
    ],
    jwks: { keys: [signingKey] },
    cookies: { keys: ['credential-actor-demo-cookie-key'] },
    ttl: { ClientCredentials: options.accessTokenTtlSeconds },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => audience,
        useGrantedResource: () => true,
        getResourceServerInfo: () => ({
          scope: 'api:read',
          audience,
          accessTokenTTL: options.accessTokenTtlSeconds,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'ES256' } },
        }),
      },
    },
  });
  provider.on('grant.success', () => issued++);
  server.on('request', provider.callback());

  return {
    issuer,
    tokenEndpoint: `${issuer}/token`,
    audience,
    jwks,
    get issued() {
      return issued;
    },
    get running() {
      return running;
    },
    async stop() {
      if (!running) return;
      running = false;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
    async start() {
      if (running) return;
      server.listen(port, '127.0.0.1');
      await once(server, 'listening');
      running = true;
    },
  };
}
