/**
 * An embedded OAuth 2.0 authorization server for the demo and the integration tests: the certified
 * `oidc-provider`, on 127.0.0.1 with a port from the OS, issuing short-lived JWT access tokens with
 * the client-credentials grant. It can be stopped and started again on the same port (an outage).
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeJwt, exportJWK, generateKeyPair, type JSONWebKeySet } from 'jose';
import './quiet-oidc-warnings.js';
import Provider from 'oidc-provider';

export interface TokenServerOptions {
  clientId: string;
  clientSecret: string;
  /** Access-token lifetime, whole seconds. */
  accessTokenTtlSeconds: number;
  /** The API the tokens are for (`aud`). */
  audience?: string;
  /**
   * Also the refresh-token grant, with rotation (each use returns a new refresh token) and reuse
   * detection (a consumed refresh token used again revokes the whole grant: oidc-provider's
   * "refresh token already used").
   */
  refreshTokens?: boolean;
  /**
   * With `refreshTokens`: also a public client of this id (no secret: a single-page app), whose
   * refresh tokens rotate and are reuse-detected the same way.
   */
  publicClientId?: string;
}

export interface TokenServer {
  readonly issuer: string;
  readonly tokenEndpoint: string;
  readonly audience: string;
  /** The public keys an API verifies the tokens with. */
  readonly jwks: JSONWebKeySet;
  /** How many tokens it has issued. */
  readonly issued: number;
  /**
   * Each token it issued: when, when the access token expires (its JWT `exp`, in ms), and when the
   * request left the client, if the client said so (an `x-sent-at` header, as the tests' clients do).
   */
  readonly grants: readonly { readonly at: number; readonly expiresAt: number | null; readonly sentAt: number | null }[];
  readonly running: boolean;
  /** Refresh-token grants refused with `invalid_grant`, and grants (token families) revoked. */
  readonly invalidGrants: number;
  readonly grantsRevoked: number;
  /** With `refreshTokens`: a refresh token for a new grant, as if a user had just signed in (to the public client, if named). */
  issueRefreshToken(clientId?: string): Promise<string>;
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
  let invalidGrants = 0;
  let grantsRevoked = 0;
  const refreshGrants = options.refreshTokens === true ? ['refresh_token', 'authorization_code'] : [];

  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: options.clientId,
        client_secret: options.clientSecret,
        grant_types: ['client_credentials', ...refreshGrants],
        redirect_uris: refreshGrants.length > 0 ? ['https://client.example/callback'] : [],
        response_types: refreshGrants.length > 0 ? ['code'] : [],
        id_token_signed_response_alg: 'ES256',
      },
      ...(options.publicClientId === undefined || refreshGrants.length === 0
        ? []
        : [
            {
              client_id: options.publicClientId,
              token_endpoint_auth_method: 'none' as const,
              grant_types: refreshGrants,
              redirect_uris: ['https://client.example/callback'],
              response_types: ['code' as const],
              id_token_signed_response_alg: 'ES256' as const,
            },
          ]),
    ],
    jwks: { keys: [signingKey] },
    cookies: { keys: ['credential-actor-demo-cookie-key'] },
    ttl: { ClientCredentials: options.accessTokenTtlSeconds, AccessToken: options.accessTokenTtlSeconds, RefreshToken: 24 * 3600, Grant: 24 * 3600 },
    rotateRefreshToken: true,
    findAccount: (_ctx, accountId) => ({ accountId, claims: () => ({ sub: accountId }) }),
    scopes: ['openid', 'offline_access', 'api:read'],
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
  const grants: { at: number; expiresAt: number | null; sentAt: number | null }[] = [];
  provider.on('grant.success', (ctx) => {
    issued++;
    // the access token's own `exp`, read from the answer about to be sent
    const { access_token: accessToken } = (ctx.body ?? {}) as { access_token?: unknown };
    let exp: number | undefined;
    try {
      exp = typeof accessToken === 'string' ? decodeJwt(accessToken).exp : undefined;
    } catch {
      exp = undefined; // an opaque access token: no expiry to read
    }
    const expiresAt = typeof exp === 'number' ? exp * 1_000 : null;
    const sentAt = Number(ctx.get('x-sent-at'));
    grants.push({ at: Date.now(), expiresAt, sentAt: Number.isFinite(sentAt) && sentAt > 0 ? sentAt : null });
  });
  provider.on('grant.error', (_ctx, error: { error?: string }) => {
    if (error.error === 'invalid_grant') invalidGrants++;
  });
  provider.on('grant.revoked', () => grantsRevoked++);
  const handle = provider.callback(); // Koa answers its own failures (500): nothing is left to reject
  server.on('request', (request: IncomingMessage, response: ServerResponse) => void handle(request, response));

  return {
    issuer,
    tokenEndpoint: `${issuer}/token`,
    audience,
    jwks,
    get issued() {
      return issued;
    },
    grants,
    get running() {
      return running;
    },
    get invalidGrants() {
      return invalidGrants;
    },
    get grantsRevoked() {
      return grantsRevoked;
    },
    async issueRefreshToken(clientId = options.clientId) {
      if (options.refreshTokens !== true) throw new Error('startTokenServer({ refreshTokens: true }) issues refresh tokens');
      return issueRefreshToken(provider, { clientId, audience, resourceScope: 'api:read' });
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

/**
 * A refresh token of a new grant in an oidc-provider, as if a user had just signed in to `clientId`
 * (`offline_access`, no `openid`: a machine's refresh token, no ID token in the responses).
 */
export async function issueRefreshToken(provider: Provider, grant: { clientId: string; audience: string; resourceScope: string }): Promise<string> {
  const client = await provider.Client.find(grant.clientId);
  const saved = new provider.Grant({ accountId: 'user-1', clientId: grant.clientId });
  saved.addOIDCScope('offline_access');
  saved.addResourceScope(grant.audience, grant.resourceScope);
  const grantId = await saved.save();
  const refreshToken = new provider.RefreshToken({
    accountId: 'user-1',
    client: client!,
    grantId,
    scope: 'offline_access',
    resource: grant.audience,
    gty: 'authorization_code',
    iiat: Math.floor(Date.now() / 1000),
    rotations: 0,
  });
  return refreshToken.save();
}
