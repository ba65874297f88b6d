/**
 * oidc-provider on loopback, configured the way enterprise issuers are: clients that may only
 * authenticate with `private_key_jwt` (ES256, or PS256 as Entra ID's certificate credentials) or
 * `client_secret_jwt`, and two grants registered beside client credentials, the JWT bearer grant
 * (RFC 7523 2.1) and token exchange (RFC 8693). oidc-provider authenticates the client, parses and
 * checks the parameters (only the registered ones, no duplicates), and refuses replayed assertions;
 * the two grant handlers below are ours: they verify the assertion or subject token and issue a token.
 */
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose';
import '../../examples/quiet-oidc-warnings.js';
import Provider, { errors, type KoaContextWithOIDC } from 'oidc-provider';

export const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
export const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';

export interface ClientAuthServerOptions {
  /** Public keys of the `private_key_jwt` client that signs ES256. */
  esClientJwks: JSONWebKeySet;
  /** Public keys of the `private_key_jwt` client that must sign PS256. */
  rsaClientJwks: JSONWebKeySet;
  /** The secret of the `client_secret_jwt` client (at least 32 characters for HS256). */
  hmacClientSecret: string;
  /** Who may sign JWT bearer grants, and their keys. */
  trustedAssertionIssuer: { issuer: string; jwks: JSONWebKeySet };
}

/** What a grant handler of ours saw, after oidc-provider authenticated the client. */
export interface GrantSeen {
  readonly grant: 'jwt-bearer' | 'token-exchange';
  readonly clientId: string | undefined;
  readonly sub?: string;
  readonly subjectClientId?: string;
  readonly subjectTokenType?: string;
  readonly actorToken?: string;
  readonly audience?: string;
}

export interface ClientAuthServer {
  readonly issuer: string;
  readonly tokenEndpoint: string;
  readonly seen: readonly GrantSeen[];
  /** Each client authentication oidc-provider refused, with its reason. */
  readonly refusals: readonly string[];
  /** Looks up an access token this server issued: its client, or `undefined` if it is not a live token of this server. */
  introspect(token: string): Promise<{ clientId: string | undefined; scope: string | undefined } | undefined>;
  close(): Promise<void>;
}

export const CLIENTS = { es: 'workload-es256', rsa: 'workload-ps256', hmac: 'workload-hs256' } as const;

export async function startClientAuthServer(options: ClientAuthServerOptions): Promise<ClientAuthServer> {
  const server: Server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const grants = ['client_credentials', JWT_BEARER, TOKEN_EXCHANGE];
  const provider = new Provider(issuer, {
    clients: [
      { client_id: CLIENTS.es, token_endpoint_auth_method: 'private_key_jwt', jwks: options.esClientJwks, grant_types: grants, redirect_uris: [], response_types: [] },
      {
        client_id: CLIENTS.rsa,
        token_endpoint_auth_method: 'private_key_jwt',
        token_endpoint_auth_signing_alg: 'PS256',
        jwks: options.rsaClientJwks,
        grant_types: grants,
        redirect_uris: [],
        response_types: [],
      },
      {
        client_id: CLIENTS.hmac,
        client_secret: options.hmacClientSecret,
        token_endpoint_auth_method: 'client_secret_jwt',
        grant_types: grants,
        redirect_uris: [],
        response_types: [],
      },
    ],
    clientAuthMethods: ['private_key_jwt', 'client_secret_jwt', 'client_secret_basic'],
    enabledJWA: { clientAuthSigningAlgValues: ['ES256', 'PS256', 'RS256', 'HS256', 'EdDSA', 'Ed25519'] },
    scopes: ['api:read', 'api:write'],
    ttl: { ClientCredentials: 60 },
    features: { devInteractions: { enabled: false }, clientCredentials: { enabled: true } },
  });
  const seen: GrantSeen[] = [];
  const refusals: string[] = [];
  provider.on('grant.error', (_ctx, error: { error?: string; error_description?: string; error_detail?: string }) => {
    refusals.push(`${error.error ?? '?'}: ${error.error_detail ?? error.error_description ?? ''}`);
  });

  const issue = async (ctx: KoaContextWithOIDC, extra: Record<string, string>) => {
    const scope = typeof ctx.oidc.params?.scope === 'string' ? ctx.oidc.params.scope : undefined;
    const token = new provider.ClientCredentials({ client: ctx.oidc.client!, ...(scope === undefined ? {} : { scope }) });
    const accessToken = await token.save();
    ctx.body = { access_token: accessToken, token_type: 'Bearer', expires_in: token.expiration, ...(scope === undefined ? {} : { scope }), ...extra };
  };

  const trusted = createLocalJWKSet(options.trustedAssertionIssuer.jwks);
  provider.registerGrantType(
    JWT_BEARER,
    async (ctx) => {
      const assertion = String(ctx.oidc.params!.assertion);
      const { payload } = await jwtVerify(assertion, trusted, { issuer: options.trustedAssertionIssuer.issuer, audience: issuer }).catch(() => {
        throw new errors.InvalidGrant('the assertion was not signed by a trusted issuer for this audience');
      });
      seen.push({ grant: 'jwt-bearer', clientId: ctx.oidc.client?.clientId, ...(payload.sub === undefined ? {} : { sub: payload.sub }) });
      await issue(ctx, {});
    },
    ['assertion', 'scope'],
  );
  provider.registerGrantType(
    TOKEN_EXCHANGE,
    async (ctx) => {
      const params = ctx.oidc.params as Record<string, string | undefined>;
      const subject = await provider.ClientCredentials.find(String(params.subject_token));
      if (subject === undefined || subject.isExpired) throw new errors.InvalidGrant('the subject token is not a live token of this issuer');
      seen.push({
        grant: 'token-exchange',
        clientId: ctx.oidc.client?.clientId,
        subjectClientId: subject.clientId,
        ...(params.subject_token_type === undefined ? {} : { subjectTokenType: params.subject_token_type }),
        ...(params.actor_token === undefined ? {} : { actorToken: params.actor_token }),
        ...(params.audience === undefined ? {} : { audience: params.audience }),
      });
      await issue(ctx, { issued_token_type: 'urn:ietf:params:oauth:token-type:access_token' });
    },
    ['subject_token', 'subject_token_type', 'actor_token', 'actor_token_type', 'requested_token_type', 'audience', 'resource', 'scope'],
    ['audience', 'resource'],
  );

  const handle = provider.callback();
  server.on('request', (request, response) => void handle(request, response));
  return {
    issuer,
    tokenEndpoint: `${issuer}/token`,
    seen,
    refusals,
    async introspect(token) {
      const found = await provider.ClientCredentials.find(token);
      return found === undefined || found.isExpired ? undefined : { clientId: found.clientId, scope: found.scope };
    },
    async close() {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}
