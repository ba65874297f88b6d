import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { decodeJwt, decodeProtectedHeader, exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';
import { OAuth2Server } from 'oauth2-mock-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCredentialProvider, CredentialError, Secret, type MintedToken } from '../../src/index.js';
import { clientAssertion, clientCredentialsMint, jwtBearerMint, OAuthError, privateKeyJwt, refreshTokenMint, tokenExchangeMint } from '../../src/oauth2/index.js';
import { CLIENTS, startClientAuthServer, type ClientAuthServer } from './client-auth-server.js';

/**
 * Client authentication and the JWT bearer and token-exchange grants, against oidc-provider
 * configured as enterprise issuers are (clients that may only use `private_key_jwt` or
 * `client_secret_jwt`), and the JWT bearer grant also against oauth2-mock-server. Every request
 * body is captured, to check what was sent against what the issuer accepted.
 */
const HMAC_SECRET = 'hmac-client-secret-0f3c9a7e5b1d4e2f8a6c0b9d7e5f3a1c';
const FIXTURES = new URL('./fixtures/', import.meta.url);
let server: ClientAuthServer;
let es: { privateJwk: JWK; privateKey: CryptoKey };
let rsaPem: string;
let certificate: string;
let workload: { issuer: string; privateKey: CryptoKey };
const sent: URLSearchParams[] = [];

/** `fetch` that keeps each request's form body. */
const recordingFetch: typeof fetch = async (input, init) => {
  if (typeof init?.body === 'string' || init?.body instanceof URLSearchParams) sent.push(new URLSearchParams(init.body));
  return fetch(input, init);
};

beforeAll(async () => {
  const esPair = await generateKeyPair('ES256', { extractable: true });
  es = { privateJwk: { ...(await exportJWK(esPair.privateKey)), kid: 'es-1' }, privateKey: esPair.privateKey };
  rsaPem = await readFile(new URL('client.key', FIXTURES), 'utf8');
  certificate = await readFile(new URL('client.crt', FIXTURES), 'utf8');
  const rsaPublic = createPublicKey(rsaPem).export({ format: 'jwk' });
  const workloadPair = await generateKeyPair('ES256', { extractable: true });
  workload = { issuer: 'https://workload-identity.example', privateKey: workloadPair.privateKey };
  server = await startClientAuthServer({
    esClientJwks: { keys: [{ ...(await exportJWK(esPair.publicKey)), kid: 'es-1', alg: 'ES256' }] },
    rsaClientJwks: { keys: [{ ...rsaPublic, kid: 'cert-1' }] },
    hmacClientSecret: HMAC_SECRET,
    trustedAssertionIssuer: { issuer: workload.issuer, jwks: { keys: [await exportJWK(workloadPair.publicKey)] } },
  });
});
afterAll(async () => {
  await server?.close();
});

const signal = () => new AbortController().signal;
const common = () => ({ tokenEndpoint: server.tokenEndpoint, allowInsecureRequests: true, fetch: recordingFetch });
const lastSent = () => sent.at(-1)!;
const revealed = (minted: MintedToken) => (minted.secret as Secret).reveal();

/** A JWT the workload identity platform would hand the workload (a projected token). */
const workloadToken = (sub: string, audience = server.issuer) =>
  new SignJWT({})
    .setProtectedHeader({ alg: 'ES256' })
    .setIssuer(workload.issuer)
    .setSubject(sub)
    .setAudience(audience)
    .setIssuedAt()
    .setExpirationTime('1m')
    .setJti(crypto.randomUUID())
    .sign(workload.privateKey);

/** A `private_key_jwt` assertion for the ES256 client, made outside the library (as a platform's token service would). */
const esClientAssertion = () =>
  new SignJWT({})
    .setProtectedHeader({ alg: 'ES256', kid: 'es-1' })
    .setIssuer(CLIENTS.es)
    .setSubject(CLIENTS.es)
    .setAudience(server.tokenEndpoint)
    .setIssuedAt()
    .setExpirationTime('1m')
    .setJti(crypto.randomUUID())
    .sign(es.privateKey);

describe('privateKeyJwt()', () => {
  it('signs with a private JWK and its kid; the issuer accepts the token request, and the assertion is addressed to the token endpoint', async () => {
    const mint = clientCredentialsMint({ ...common(), clientId: CLIENTS.es, clientAuthentication: privateKeyJwt({ privateKey: es.privateJwk, keyId: 'es-1' }), scopes: ['api:read'] });
    const minted = await mint({ signal: signal() });
    expect(await server.introspect(revealed(minted))).toEqual({ clientId: CLIENTS.es, scope: 'api:read' });
    const body = lastSent();
    expect(body.get('client_assertion_type')).toBe('urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
    expect(body.has('client_secret')).toBe(false);
    const assertion = body.get('client_assertion')!;
    expect(decodeProtectedHeader(assertion)).toMatchObject({ alg: 'ES256', kid: 'es-1' });
    expect(decodeJwt(assertion)).toMatchObject({ iss: CLIENTS.es, sub: CLIENTS.es, aud: server.tokenEndpoint });
  });

  it('each token request carries a new assertion (a fresh jti), which the issuer would refuse to see twice', async () => {
    const mint = clientCredentialsMint({ ...common(), clientId: CLIENTS.es, clientAuthentication: privateKeyJwt({ privateKey: es.privateJwk, keyId: 'es-1' }) });
    await mint({ signal: signal() });
    const first = lastSent().get('client_assertion')!;
    await mint({ signal: signal() });
    const second = lastSent().get('client_assertion')!;
    expect(decodeJwt(second).jti).not.toBe(decodeJwt(first).jti);
    // the issuer's side of it: the first assertion sent again is refused
    const replayed = await fetch(server.tokenEndpoint, {
      method: 'POST',
      body: new URLSearchParams({ grant_type: 'client_credentials', client_id: CLIENTS.es, client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: first }),
    });
    expect(replayed.status).toBe(401);
  });

  it('signs with a certificate credential as Entra ID registers one: PEM key, PS256, kid and the certificate’s x5t#S256', async () => {
    const mint = clientCredentialsMint({
      ...common(),
      clientId: CLIENTS.rsa,
      clientAuthentication: privateKeyJwt({ privateKey: rsaPem, algorithm: 'PS256', keyId: 'cert-1', certificate }),
    });
    const minted = await mint({ signal: signal() });
    expect((await server.introspect(revealed(minted)))?.clientId).toBe(CLIENTS.rsa);
    const header = decodeProtectedHeader(lastSent().get('client_assertion')!);
    // the thumbprint as node:crypto computes it, not as the library does
    const expected = Buffer.from(new X509Certificate(certificate).fingerprint256.replace(/:/g, ''), 'hex').toString('base64url');
    expect(header).toMatchObject({ alg: 'PS256', kid: 'cert-1', 'x5t#S256': expected });
  });

  it('reads a PKCS#1 PEM key (Node) and a non-extractable CryptoKey', async () => {
    const pkcs1 = createPrivateKey(rsaPem).export({ format: 'pem', type: 'pkcs1' }) as string;
    expect(pkcs1).toContain('BEGIN RSA PRIVATE KEY');
    const fromPkcs1 = clientCredentialsMint({ ...common(), clientId: CLIENTS.rsa, clientAuthentication: privateKeyJwt({ privateKey: pkcs1, algorithm: 'PS256', keyId: 'cert-1' }) });
    expect((await server.introspect(revealed(await fromPkcs1({ signal: signal() }))))?.clientId).toBe(CLIENTS.rsa);
    const locked = await crypto.subtle.importKey('jwk', es.privateJwk, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign']);
    const fromCryptoKey = clientCredentialsMint({ ...common(), clientId: CLIENTS.es, clientAuthentication: privateKeyJwt({ privateKey: locked, keyId: 'es-1' }) });
    expect((await server.introspect(revealed(await fromCryptoKey({ signal: signal() }))))?.clientId).toBe(CLIENTS.es);
  });

  it('a key the issuer does not know is refused as invalid_client, and nothing of the key is in the error', async () => {
    const stranger = await generateKeyPair('ES256', { extractable: true });
    const strangerJwk = await exportJWK(stranger.privateKey);
    const mint = clientCredentialsMint({ ...common(), clientId: CLIENTS.es, clientAuthentication: privateKeyJwt({ privateKey: strangerJwk, keyId: 'es-1' }) });
    const error = await mint({ signal: signal() }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(OAuthError);
    expect((error as OAuthError).error).toBe('invalid_client');
    for (const text of [(error as Error).message, JSON.stringify(error), inspect(error, { depth: 5 })]) expect(text).not.toContain(strangerJwk.d!);
  });

  it('shows only its method and key id: not in JSON, util.inspect or a structured clone', () => {
    const authentication = privateKeyJwt({ privateKey: es.privateJwk, keyId: 'es-1' });
    expect(JSON.parse(JSON.stringify(authentication))).toEqual({ method: 'private_key_jwt', keyId: 'es-1' });
    for (const text of [JSON.stringify(authentication), inspect(authentication, { depth: 10, showHidden: true }), JSON.stringify(structuredClone(authentication))]) {
      expect(text).not.toContain(es.privateJwk.d!);
    }
    // a copy of it is not a client authentication: only the one privateKeyJwt() made
    expect(() => clientCredentialsMint({ ...common(), clientId: CLIENTS.es, clientAuthentication: { ...authentication } })).toThrow(/clientAuthentication must be/);
  });
});

describe('client_secret_jwt', () => {
  it('signs an HS256 assertion with the secret, which never travels itself', async () => {
    const mint = clientCredentialsMint({ ...common(), clientId: CLIENTS.hmac, clientSecret: HMAC_SECRET, clientAuthentication: 'client_secret_jwt' });
    const minted = await mint({ signal: signal() });
    expect((await server.introspect(revealed(minted)))?.clientId).toBe(CLIENTS.hmac);
    const body = lastSent();
    expect(decodeProtectedHeader(body.get('client_assertion')!).alg).toBe('HS256');
    expect(body.toString()).not.toContain(HMAC_SECRET);
  });

  it('the issuer refuses the client the method it was not registered for', async () => {
    const mint = clientCredentialsMint({ ...common(), clientId: CLIENTS.hmac, clientSecret: HMAC_SECRET });
    await expect(mint({ signal: signal() })).rejects.toMatchObject({ error: 'invalid_client' });
  });
});

describe('clientAssertion()', () => {
  it('reads the assertion file afresh at every mint, as the kubelet rewrites a projected token', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'credential-actor-assertion-'));
    const file = join(directory, 'token');
    try {
      const mint = clientCredentialsMint({ ...common(), clientId: CLIENTS.es, clientAuthentication: clientAssertion({ file }) });
      const assertions: string[] = [];
      for (let round = 0; round < 2; round++) {
        const assertion = await esClientAssertion();
        assertions.push(assertion);
        await writeFile(file, `${assertion}\n`);
        const minted = await mint({ signal: signal() });
        expect((await server.introspect(revealed(minted)))?.clientId).toBe(CLIENTS.es);
        expect(lastSent().get('client_assertion')).toBe(assertion);
      }
      // not rewritten: the same assertion again, which the issuer refuses (it has seen its jti)
      await expect(mint({ signal: signal() })).rejects.toMatchObject({ error: 'invalid_client' });
      expect(lastSent().get('client_assertion')).toBe(assertions[1]);
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  });

  it('a missing file fails the mint with MINT_FAILED naming the file, before anything is sent', async () => {
    const before = sent.length;
    const file = join(tmpdir(), `credential-actor-missing-${crypto.randomUUID()}`);
    const mint = clientCredentialsMint({ ...common(), clientId: CLIENTS.es, clientAuthentication: clientAssertion({ file }) });
    const error = await mint({ signal: signal() }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(CredentialError);
    expect(error).toMatchObject({ code: 'MINT_FAILED', message: expect.stringContaining(file) as string });
    expect(sent.length).toBe(before);
  });

  it('calls a function at every mint', async () => {
    let calls = 0;
    const mint = clientCredentialsMint({
      ...common(),
      clientId: CLIENTS.es,
      clientAuthentication: clientAssertion(() => {
        calls++;
        return esClientAssertion();
      }),
    });
    await mint({ signal: signal() });
    await mint({ signal: signal() });
    expect(calls).toBe(2);
  });

  it('a refresh-token grant authenticates the same way, and an assertion that cannot be read leaves the refresh token unspent', async () => {
    const seenBodies: URLSearchParams[] = [];
    let answer = 0;
    const issuerFetch: typeof fetch = (_input, init) => {
      seenBodies.push(new URLSearchParams(init!.body as URLSearchParams));
      answer++;
      return Promise.resolve(Response.json({ access_token: `access-${answer}`, token_type: 'Bearer', expires_in: 60, refresh_token: `refresh-${answer}` }));
    };
    let fail = true;
    const mint = refreshTokenMint({
      tokenEndpoint: 'https://login.example/token',
      clientId: CLIENTS.es,
      refreshToken: 'refresh-0',
      fetch: issuerFetch,
      clientAuthentication: clientAssertion(() => {
        if (fail) throw new Error('the token service is down');
        return 'assertion-jwt';
      }),
    });
    const provider = await createCredentialProvider({ mint, firstMint: 'lazy', breakerThreshold: 5 });
    try {
      await expect(provider.currentToken()).rejects.toThrow('the token service is down');
      expect(seenBodies).toHaveLength(0);
      fail = false;
      expect((await provider.currentToken()).secret.reveal()).toBe('access-1');
      expect(seenBodies[0]!.get('refresh_token')).toBe('refresh-0');
      expect(seenBodies[0]!.get('client_assertion')).toBe('assertion-jwt');
    } finally {
      await provider.stop();
    }
  });
});

describe('jwtBearerMint()', () => {
  it('trades a workload’s signed JWT for an access token at oidc-provider, the client authenticated with private_key_jwt', async () => {
    let reads = 0;
    const mint = jwtBearerMint({
      ...common(),
      clientId: CLIENTS.es,
      clientAuthentication: privateKeyJwt({ privateKey: es.privateJwk, keyId: 'es-1' }),
      assertion: () => {
        reads++;
        return workloadToken('system:serviceaccount:billing:worker');
      },
      scopes: ['api:write'],
    });
    const minted = await mint({ signal: signal() });
    expect(await server.introspect(revealed(minted))).toEqual({ clientId: CLIENTS.es, scope: 'api:write' });
    expect(server.seen.at(-1)).toMatchObject({ grant: 'jwt-bearer', clientId: CLIENTS.es, sub: 'system:serviceaccount:billing:worker' });
    expect(lastSent().get('grant_type')).toBe('urn:ietf:params:oauth:grant-type:jwt-bearer');
    await mint({ signal: signal() });
    expect(reads).toBe(2);
  });

  it('an assertion the issuer does not trust is refused with invalid_grant', async () => {
    const stranger = await generateKeyPair('ES256');
    const forged = await new SignJWT({})
      .setProtectedHeader({ alg: 'ES256' })
      .setIssuer(workload.issuer)
      .setSubject('intruder')
      .setAudience(server.issuer)
      .setExpirationTime('1m')
      .sign(stranger.privateKey);
    const mint = jwtBearerMint({ ...common(), clientId: CLIENTS.es, clientAuthentication: privateKeyJwt({ privateKey: es.privateJwk, keyId: 'es-1' }), assertion: forged });
    await expect(mint({ signal: signal() })).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  it('against oauth2-mock-server, a second issuer: the token it issues names the assertion’s subject', async () => {
    const other = new OAuth2Server();
    await other.issuer.keys.generate('RS256');
    await other.start(0, '127.0.0.1');
    try {
      const mint = jwtBearerMint({
        tokenEndpoint: `${other.issuer.url!}/token`,
        allowInsecureRequests: true,
        clientId: 'ci-runner',
        assertion: await workloadToken('repo:acme/ledger:ref:refs/heads/main'),
      });
      const minted = await mint({ signal: signal() });
      expect(decodeJwt(revealed(minted)).sub).toBe('repo:acme/ledger:ref:refs/heads/main');
      expect(minted.expiresAt).toBeGreaterThan(Date.now());
    } finally {
      await other.stop();
    }
  });
});

describe('tokenExchangeMint()', () => {
  it('exchanges another provider’s current token for one for another audience, with an actor token', async () => {
    const upstream = await createCredentialProvider({ mint: clientCredentialsMint({ ...common(), clientId: CLIENTS.hmac, clientSecret: HMAC_SECRET, clientAuthentication: 'client_secret_jwt' }) });
    try {
      const downstream = await createCredentialProvider({
        mint: tokenExchangeMint({
          ...common(),
          clientId: CLIENTS.rsa,
          clientAuthentication: privateKeyJwt({ privateKey: rsaPem, algorithm: 'PS256', keyId: 'cert-1' }),
          subjectToken: upstream,
          actorToken: () => 'gateway-actor-token',
          actorTokenType: 'urn:ietf:params:oauth:token-type:jwt',
          audience: 'https://ledger.example',
        }),
      });
      try {
        const token = await downstream.currentToken();
        expect((await server.introspect(token.secret.reveal()))?.clientId).toBe(CLIENTS.rsa);
        expect(server.seen.at(-1)).toMatchObject({
          grant: 'token-exchange',
          clientId: CLIENTS.rsa,
          subjectClientId: CLIENTS.hmac,
          subjectTokenType: 'urn:ietf:params:oauth:token-type:access_token',
          actorToken: 'gateway-actor-token',
          audience: 'https://ledger.example',
        });
        expect(lastSent().get('subject_token')).toBe((await upstream.currentToken()).secret.reveal());
      } finally {
        await downstream.stop();
      }
    } finally {
      await upstream.stop();
    }
  });

  it('a subject token the issuer does not know is refused with invalid_grant', async () => {
    const mint = tokenExchangeMint({ ...common(), clientId: CLIENTS.hmac, clientSecret: HMAC_SECRET, clientAuthentication: 'client_secret_jwt', subjectToken: 'not-a-token-of-this-issuer' });
    await expect(mint({ signal: signal() })).rejects.toMatchObject({ error: 'invalid_grant' });
  });
});
