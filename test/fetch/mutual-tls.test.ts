import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer as createHttpsServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { createLocalJWKSet, decodeJwt, exportJWK, generateKeyPair, jwtVerify, type JSONWebKeySet } from 'jose';
import '../../examples/quiet-oidc-warnings.js';
import { jwtAccessTokensFor } from './jwt-access-tokens.js';
import Provider from 'oidc-provider';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCredentialProvider, type Secret } from '../../src/index.js';
import { authorizedFetch, mutualTlsFetch, type MutualTlsFetch } from '../../src/fetch/index.js';
import { clientCredentialsMint } from '../../src/oauth2/index.js';

/**
 * Mutual TLS (RFC 8705) end to end, on real TLS over loopback: oidc-provider authenticates the
 * client by its certificate (`tls_client_auth`, subject DN) and binds the JWT access token to it
 * (`cnf.x5t#S256`); a resource server of the test's own accepts the token only over a connection
 * presenting the certificate the token is bound to. The client certificate is self-signed; each
 * server trusts exactly it.
 */
const fixture = (name: string) => readFileSync(new URL(`../oauth2/fixtures/${name}`, import.meta.url), 'utf8');
const CLIENT_ID = 'mtls-worker';
const AUDIENCE = 'urn:credential-actor:mtls-api';
const clientCertificate = fixture('client.crt');
const clientKey = fixture('client.key');
const serverCertificate = fixture('server.crt');
const serverKey = fixture('server.key');
/** The bound certificate's `x5t#S256`, as node:crypto computes it. */
const thumbprintOf = (pem: string) => Buffer.from(new X509Certificate(pem).fingerprint256.replace(/:/g, ''), 'hex').toString('base64url');

let issuer: { tokenEndpoint: string; jwks: JSONWebKeySet; close(): Promise<void> };
let api: { url: string; accepted: number; refusals: string[]; close(): Promise<void> };
const opened: MutualTlsFetch[] = [];
const tlsFetch = (certificate = clientCertificate, privateKey = clientKey) => {
  const made = mutualTlsFetch({ certificate, privateKey, ca: serverCertificate });
  opened.push(made);
  return made;
};

beforeAll(async () => {
  issuer = await startMtlsIssuer();
  api = await startBoundApi(issuer.jwks);
});
afterAll(async () => {
  for (const made of opened) await made.close();
  await api?.close();
  await issuer?.close();
});

describe('mutual TLS (RFC 8705)', () => {
  it('the issuer authenticates the client by its certificate and binds the token to it; the API accepts it over the same certificate', async () => {
    const tls = tlsFetch();
    const provider = await createCredentialProvider({
      mint: clientCredentialsMint({ tokenEndpoint: issuer.tokenEndpoint, clientId: CLIENT_ID, clientAuthentication: 'tls_client_auth', resource: AUDIENCE, fetch: tls }),
    });
    try {
      const token = await provider.currentToken();
      const { cnf } = decodeJwt((token.secret as Secret).reveal()) as { cnf?: Record<string, string> };
      expect(cnf?.['x5t#S256']).toBe(thumbprintOf(clientCertificate));
      const response = await authorizedFetch(provider, { fetch: tls })(`${api.url}/orders`);
      expect(response.status, api.refusals.join('; ')).toBe(200);
      expect(await response.text()).toBe('ok');
    } finally {
      await provider.stop();
    }
  });

  it('the bound token over a connection with another certificate is refused', async () => {
    const provider = await createCredentialProvider({
      mint: clientCredentialsMint({ tokenEndpoint: issuer.tokenEndpoint, clientId: CLIENT_ID, clientAuthentication: 'tls_client_auth', resource: AUDIENCE, fetch: tlsFetch() }),
    });
    try {
      const other = tlsFetch(serverCertificate, serverKey);
      const response = await authorizedFetch(provider, { fetch: other })(`${api.url}/orders`);
      expect(response.status).toBe(401);
      expect(api.refusals.at(-1)).toBe('certificate is not the one the token is bound to');
    } finally {
      await provider.stop();
    }
  });

  it('without the certificate the issuer refuses the client: invalid_client', async () => {
    const plain = mutualTlsFetch({ certificate: serverCertificate, privateKey: serverKey, ca: serverCertificate });
    opened.push(plain);
    const mint = clientCredentialsMint({ tokenEndpoint: issuer.tokenEndpoint, clientId: CLIENT_ID, clientAuthentication: 'tls_client_auth', fetch: plain });
    await expect(mint({ signal: new AbortController().signal })).rejects.toMatchObject({ error: 'invalid_client' });
  });

  it('refuses a TLS method with no fetch to present the certificate, and a fetch closed', async () => {
    expect(() => clientCredentialsMint({ tokenEndpoint: issuer.tokenEndpoint, clientId: CLIENT_ID, clientAuthentication: 'tls_client_auth' })).toThrow(
      /needs fetch, one that presents the client certificate/,
    );
    const closed = mutualTlsFetch({ certificate: clientCertificate, privateKey: clientKey, ca: serverCertificate });
    await closed.close();
    await expect(closed(`${api.url}/orders`)).rejects.toMatchObject({ code: 'STOPPED' });
    expect(() => mutualTlsFetch({ certificate: clientKey, privateKey: clientKey })).toThrow(/certificate must be PEM text/);
  });
});

async function startMtlsIssuer() {
  const server: Server = createHttpsServer({ cert: serverCertificate, key: serverKey, ca: clientCertificate, requestCert: true, rejectUnauthorized: false });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const peerPem = (socket: TLSSocket) => {
    const raw = socket.getPeerCertificate().raw;
    return raw === undefined ? undefined : new X509Certificate(raw).toString();
  };
  const provider = new Provider(url, {
    clients: [
      {
        client_id: CLIENT_ID,
        token_endpoint_auth_method: 'tls_client_auth',
        tls_client_auth_subject_dn: 'CN=credential-actor test client',
        tls_client_certificate_bound_access_tokens: true,
        grant_types: ['client_credentials'],
        redirect_uris: [],
        response_types: [],
        id_token_signed_response_alg: 'ES256',
      },
    ],
    clientAuthMethods: ['tls_client_auth', 'client_secret_basic'],
    jwks: { keys: [{ ...(await exportJWK(privateKey)), kid: 'mtls-issuer', alg: 'ES256', use: 'sig' }] },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      mTLS: {
        enabled: true,
        certificateBoundAccessTokens: true,
        tlsClientAuth: true,
        getCertificate: (ctx) => peerPem(ctx.socket as TLSSocket),
        certificateAuthorized: (ctx) => (ctx.socket as TLSSocket).authorized,
        certificateSubjectMatches: (ctx, property, expected) => property === 'tls_client_auth_subject_dn' && `CN=${(ctx.socket as TLSSocket).getPeerCertificate().subject?.CN}` === expected,
      },
      resourceIndicators: jwtAccessTokensFor(AUDIENCE),
    },
  });
  const handle = provider.callback();
  server.on('request', (request, response) => void handle(request, response));
  return {
    tokenEndpoint: `${url}/token`,
    jwks: { keys: [{ ...(await exportJWK(publicKey)), kid: 'mtls-issuer', alg: 'ES256' }] },
    async close() {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

/** An API that takes a certificate-bound token only over a connection presenting that certificate (RFC 8705 section 3). */
async function startBoundApi(jwks: JSONWebKeySet) {
  const keys = createLocalJWKSet(jwks);
  const refusals: string[] = [];
  let accepted = 0;
  const server: Server = createHttpsServer(
    { cert: serverCertificate, key: serverKey, ca: [clientCertificate, serverCertificate], requestCert: true, rejectUnauthorized: true },
    (request, response) => {
      void (async () => {
        const token = /^Bearer (.+)$/.exec(request.headers.authorization ?? '')?.[1];
        if (token === undefined) throw new Error('no token');
        const { payload } = await jwtVerify(token, keys, { audience: AUDIENCE });
        const raw = (request.socket as TLSSocket).getPeerCertificate().raw;
        const presented = Buffer.from(await crypto.subtle.digest('SHA-256', raw)).toString('base64url');
        if ((payload as { cnf?: Record<string, string> }).cnf?.['x5t#S256'] !== presented) throw new Error('certificate is not the one the token is bound to');
        accepted++;
        response.writeHead(200).end('ok');
      })().catch((error: unknown) => {
        refusals.push(error instanceof Error ? error.message : String(error));
        response.writeHead(401, { 'www-authenticate': 'Bearer error="invalid_token"' }).end();
      });
    },
  );
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get accepted() {
      return accepted;
    },
    refusals,
    async close() {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}
