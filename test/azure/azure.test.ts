/**
 * `credential-actor/azure` under Azure's own HTTP pipeline: `@azure/core-rest-pipeline`'s
 * `bearerTokenAuthenticationPolicy` (its token cycler, its CAE handling) in front of a local HTTPS
 * resource, with tokens from a local OAuth token endpoint through `clientCredentialsMint`.
 */
import type { TokenCredential } from '@azure/core-auth';
import { bearerTokenAuthenticationPolicy, createDefaultHttpClient, createPipelineFromOptions, createPipelineRequest, type Pipeline } from '@azure/core-rest-pipeline';
import { SecretClient } from '@azure/keyvault-secrets';
import { Agent } from 'node:https';
import { afterAll, afterEach, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import { createCredentialPool, createCredentialProvider, CredentialError, type CredentialProvider } from '../../src/index.js';
import { AzureAuthenticationError, AzureCredentialUnavailableError, azureKey, parseAzureKey, toTokenCredential, type AzureTokenCredential } from '../../src/azure/index.js';
import { clientCredentialsMint } from '../../src/oauth2/index.js';
import { startHttpsServer, startTokenEndpoint, type LocalServer } from '../sdk/local-servers.js';
import { runScript } from '../sdk/run-script.js';

const SCOPE = 'https://resource.example/.default';
const CLAIMS = '{"access_token":{"nbf":{"essential":true,"value":"1764547200"}}}';

let tokenEndpoint: Awaited<ReturnType<typeof startTokenEndpoint>>;
let resource: LocalServer & { ca: string };
/** Tokens the resource refuses with a CAE challenge (unless minted with the claims). */
const revoked = new Set<string>();
/** Each request the resource saw: its id and the token it carried. */
const seen: { id: string; token: string }[] = [];
/**
 * Every pipeline's transport: one keep-alive agent of at most 50 sockets, as an app configures one
 * (the SDK's `agent` option). Left to the SDK, each request of a burst opened a TLS connection of its
 * own, and those 1,000 handshakes were most of these tests' CPU; the 50 clients, their token caches
 * and their concurrent requests are the same either way.
 */
let agent: Agent;

beforeAll(async () => {
  tokenEndpoint = await startTokenEndpoint(3600);
  resource = await startHttpsServer((request, _body, response) => {
    const token = /^Bearer (.+)$/.exec(request.headers.authorization ?? '')?.[1] ?? '';
    if (token === '' && request.url?.startsWith('/secrets/') === true) {
      // Key Vault's first, unauthenticated request: the challenge names the tenant and the resource
      response.writeHead(401, { 'www-authenticate': 'Bearer authorization="https://login.microsoftonline.com/contoso", resource="https://vault.azure.net"' }).end();
      return;
    }
    seen.push({ id: String(request.headers['x-ms-client-request-id']), token });
    const issued = tokenEndpoint.state.issued.get(token);
    if (request.url?.startsWith('/secrets/') === true && issued !== undefined) {
      const name = request.url.slice('/secrets/'.length).split('?')[0]!.replace(/\/$/, '');
      const body = { value: `value-of-${name}`, id: `${resource.url}/secrets/${name}/v1`, attributes: { enabled: true, created: 1764547200, updated: 1764547200 } };
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    } else if (issued === undefined) {
      response.writeHead(401).end();
    } else if (revoked.has(token) && issued.claims !== CLAIMS) {
      const challenge = `Bearer realm="", authorization_uri="https://login.example/authorize", error="insufficient_claims", claims="${btoa(CLAIMS)}"`;
      response.writeHead(401, { 'www-authenticate': challenge }).end();
    } else {
      response.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    }
  });
  agent = new Agent({ keepAlive: true, maxSockets: 50, ca: resource.ca });
});
afterAll(async () => {
  agent?.destroy();
  await Promise.all([tokenEndpoint?.close(), resource?.close()]);
});

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const stop of stops.splice(0)) await stop();
  revoked.clear();
  seen.length = 0;
  tokenEndpoint.state.failing = false;
});

async function startProvider(): Promise<CredentialProvider> {
  const provider = await createCredentialProvider({
    mint: clientCredentialsMint({ tokenEndpoint: tokenEndpoint.tokenEndpoint, clientId: 'app', clientSecret: 'app-secret', allowInsecureRequests: true }),
    firstMint: 'lazy',
    breakerThreshold: 1,
    breakerCooldownMs: 60_000,
  });
  stops.push(() => provider.stop());
  return provider;
}

/** An Azure SDK client's pipeline: retry policies and all, with the bearer policy in its Sign phase. */
function azurePipeline(credential: TokenCredential): Pipeline {
  const pipeline = createPipelineFromOptions({ agent, retryOptions: { maxRetries: 2, retryDelayInMs: 10, maxRetryDelayInMs: 20 } });
  pipeline.addPolicy(bearerTokenAuthenticationPolicy({ credential, scopes: SCOPE }), { phase: 'Sign' });
  return pipeline;
}

const httpClient = createDefaultHttpClient();
/** `clients` pipelines (each an SDK client with its own token cache), `perClient` concurrent requests on each. */
function burst(credential: TokenCredential, clients: number, perClient: number) {
  const pipelines = Array.from({ length: clients }, () => azurePipeline(credential));
  return Promise.allSettled(
    pipelines.flatMap((pipeline) => Array.from({ length: perClient }, () => pipeline.sendRequest(httpClient, createPipelineRequest({ url: `${resource.url}/data`, method: 'GET' })))),
  );
}

describe('toTokenCredential under bearerTokenAuthenticationPolicy', () => {
  it('is a TokenCredential', async () => {
    const credential = toTokenCredential(await startProvider(), { scopes: [SCOPE] });
    expectTypeOf(credential).toMatchTypeOf<TokenCredential>();
  });

  it('1,000 concurrent requests from 50 clients cause one mint', async () => {
    const credential = toTokenCredential(await startProvider(), { scopes: [SCOPE] });
    const before = tokenEndpoint.state.requests;
    const results = await burst(credential, 50, 20);
    expect(results.filter((result) => result.status === 'fulfilled' && result.value.status === 200)).toHaveLength(1_000);
    expect(tokenEndpoint.state.requests - before).toBe(1);
    expect(new Set(seen.map(({ token }) => token)).size).toBe(1);
  }, 90_000); // 1,000 HTTPS requests through the SDK's pipeline: 14 s alone, past 30 s with four busy loops on the two cores

  it('the control: a credential that mints on every getToken costs one mint per client, as the SDK caches per client', async () => {
    const mint = clientCredentialsMint({ tokenEndpoint: tokenEndpoint.tokenEndpoint, clientId: 'app', clientSecret: 'app-secret', allowInsecureRequests: true });
    const perClient: TokenCredential = {
      getToken: async () => {
        const minted = await mint({ signal: new AbortController().signal });
        return { token: typeof minted.secret === 'string' ? minted.secret : minted.secret.reveal(), expiresOnTimestamp: Number(minted.expiresAt) };
      },
    };
    const before = tokenEndpoint.state.requests;
    const results = await burst(perClient, 50, 20);
    expect(results.every((result) => result.status === 'fulfilled')).toBe(true);
    expect(tokenEndpoint.state.requests - before).toBe(50);
  }, 90_000); // the same 1,000 requests as above: it ran past 30 s with four busy loops once every file shared one pool

  it('a 401 with a CAE challenge causes one mint with the claims and one retry of each request', async () => {
    const provider = await startProvider();
    const credential = toTokenCredential(provider, { scopes: [SCOPE] });
    const pipelines = Array.from({ length: 20 }, () => azurePipeline(credential));
    await Promise.all(pipelines.map((pipeline) => pipeline.sendRequest(httpClient, createPipelineRequest({ url: `${resource.url}/warm`, method: 'GET' }))));
    const revokedToken = seen[0]!.token;
    revoked.add(revokedToken);
    seen.length = 0;
    const before = { requests: tokenEndpoint.state.requests, claims: tokenEndpoint.state.claims.length };
    const requests = pipelines.flatMap((pipeline) => Array.from({ length: 10 }, () => createPipelineRequest({ url: `${resource.url}/data`, method: 'GET' })).map((request) => ({ pipeline, request })));
    const responses = await Promise.all(requests.map(({ pipeline, request }) => pipeline.sendRequest(httpClient, request)));
    expect(seen.filter(({ token }) => token === revokedToken).length).toBeGreaterThan(0); // the challenge was met
    expect(responses.every((response) => response.status === 200)).toBe(true);
    expect(tokenEndpoint.state.requests - before.requests).toBe(1);
    expect(tokenEndpoint.state.claims.slice(before.claims)).toEqual([CLAIMS]);
    // each request was sent at most twice: once with the revoked token, once retried with the new one
    const sends = new Map<string, string[]>();
    for (const { id, token } of seen) sends.set(id, [...(sends.get(id) ?? []), token]);
    expect(sends.size).toBe(200);
    for (const tokens of sends.values()) {
      expect(tokens.length).toBeLessThanOrEqual(2);
      expect(tokens.at(-1)).not.toBe(revokedToken);
      if (tokens.length === 2) expect(tokens[0]).toBe(revokedToken);
    }
    // a late challenge for the token already minted with these claims mints nothing
    await credential.getToken(SCOPE, { claims: CLAIMS });
    expect(tokenEndpoint.state.requests - before.requests).toBe(1);
  }, 30_000);

  it('an issuer outage: one error per request, and no request reaches the issuer while the breaker is open', async () => {
    const provider = await startProvider();
    const credential = toTokenCredential(provider, { scopes: [SCOPE] });
    tokenEndpoint.state.failing = true;
    const first = await burst(credential, 5, 10);
    expect(first.every((result) => result.status === 'rejected')).toBe(true);
    const issuerCallsToOpen = tokenEndpoint.state.requests;
    expect(provider.toJSON().breaker).toBe('open');
    const results = await burst(credential, 10, 10);
    expect(results).toHaveLength(100);
    for (const result of results) {
      expect(result.status).toBe('rejected');
      const error = (result as PromiseRejectedResult).reason as AzureAuthenticationError;
      expect(error).toBeInstanceOf(AzureAuthenticationError);
      expect(error.name).toBe('AuthenticationError');
      expect(error.code).toBe('BREAKER_OPEN');
      expect(error.retryAfterMs).toBeGreaterThan(0);
      expect(error.message).not.toContain('app-secret');
    }
    expect(tokenEndpoint.state.requests).toBe(issuerCallsToOpen);
    expect(seen).toHaveLength(0); // no request went out without a token
  });
});

describe('a real Azure SDK client: Key Vault’s SecretClient', () => {
  it('200 concurrent getSecret calls from 10 clients cause one mint, for the tenant and scope the vault’s challenge names', async () => {
    const provider = await startProvider();
    const credential = toTokenCredential(provider, { scopes: ['https://vault.azure.net/.default'], tenantId: 'contoso' });
    const clients = Array.from(
      { length: 10 },
      () => new SecretClient(resource.url, credential, { disableChallengeResourceVerification: true, tlsOptions: { ca: resource.ca }, retryOptions: { maxRetries: 0 } }),
    );
    const before = tokenEndpoint.state.requests;
    const secrets = await Promise.all(clients.flatMap((client) => Array.from({ length: 20 }, (_, index) => client.getSecret(`db-password-${index}`))));
    expect(secrets.map((secret) => secret.value)).toEqual(clients.flatMap(() => Array.from({ length: 20 }, (_, index) => `value-of-db-password-${index}`)));
    expect(tokenEndpoint.state.requests - before).toBe(1);
  }, 30_000);

  it('a provider given no tenantId meets the vault’s challenge, which names a tenant: refused at once, and the message says to pass tenantId (issue 26)', async () => {
    const provider = await startProvider();
    const credential = toTokenCredential(provider, { scopes: ['https://vault.azure.net/.default'] });
    const client = new SecretClient(resource.url, credential, { disableChallengeResourceVerification: true, tlsOptions: { ca: resource.ca }, retryOptions: { maxRetries: 0 } });
    const started = Date.now();
    await expect(client.getSecret('db-password')).rejects.toMatchObject({ name: 'CredentialUnavailableError', message: expect.stringContaining("tenantId: 'contoso'") });
    // before, the SDK's token cycler retried every 3 s until its cached token expired: now its token is already due, and it fails at once
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it('a credential for another tenant is unavailable to the vault’s challenge, and the client says so', async () => {
    const provider = await startProvider();
    const credential = toTokenCredential(provider, { scopes: ['https://vault.azure.net/.default'], tenantId: 'fabrikam' });
    const client = new SecretClient(resource.url, credential, { disableChallengeResourceVerification: true, tlsOptions: { ca: resource.ca }, retryOptions: { maxRetries: 0 } });
    await expect(client.getSecret('db-password')).rejects.toMatchObject({ name: 'CredentialUnavailableError', message: expect.stringContaining('not tenant contoso') });
  });
});

describe('toTokenCredential, directly', () => {
  it('serves the token with its type, expiring for the SDK the moment it is handed out, so the SDK asks on every request, in the request', async () => {
    const provider = await startProvider();
    const credential: AzureTokenCredential = toTokenCredential(provider, { scopes: [SCOPE] });
    const before = Date.now();
    const accessToken = (await credential.getToken([SCOPE]))!;
    const token = await provider.currentToken();
    expect(accessToken).toEqual({ token: token.secret.reveal(), expiresOnTimestamp: expect.any(Number), tokenType: 'Bearer' });
    expect(accessToken.expiresOnTimestamp).toBeGreaterThanOrEqual(before);
    expect(accessToken.expiresOnTimestamp).toBeLessThanOrEqual(Math.min(Date.now(), token.expiresAt!));
  });

  it('refuses scopes and tenants the provider does not serve, as unavailable (a chained credential moves on), and a stopped provider alike', async () => {
    const provider = await startProvider();
    const credential = toTokenCredential(provider, { scopes: [SCOPE], tenantId: 'contoso' });
    await expect(credential.getToken('https://other.example/.default')).rejects.toThrow(AzureCredentialUnavailableError);
    await expect(credential.getToken(SCOPE, { tenantId: 'fabrikam' })).rejects.toMatchObject({ name: 'CredentialUnavailableError' });
    expect((await credential.getToken(SCOPE, { tenantId: 'contoso' }))?.tokenType).toBe('Bearer');
    await provider.stop();
    await expect(credential.getToken(SCOPE)).rejects.toMatchObject({ name: 'CredentialUnavailableError', message: 'the credential was stopped' });
    expect(() => toTokenCredential(provider, {} as never)).toThrow(/scopes \(the scopes its token is good for\) must be a non-empty array/);
    expect(() => toTokenCredential(provider, { scopes: [SCOPE], scope: SCOPE } as never)).toThrow(/option scope/);
  });

  it('does not pass the SDK’s abortSignal on: the SDK shares one getToken among a client’s requests, and one mint serves them all (issue 26)', async () => {
    const provider = await startProvider();
    const credential = toTokenCredential(provider, { scopes: [SCOPE] });
    const before = tokenEndpoint.state.requests;
    const controller = new AbortController();
    const started = credential.getToken(SCOPE, { abortSignal: controller.signal });
    const sibling = credential.getToken(SCOPE);
    controller.abort(new Error('client gave up'));
    // before: both rejected with the first request's abort, and the abandoned mint's result was thrown away
    expect((await started)?.token).toMatch(/^at-/);
    expect((await sibling)?.token).toBe((await started)?.token);
    expect(tokenEndpoint.state.requests - before).toBe(1);
  });

  it('an error of your own mint is MINT_FAILED, errorResponse.error its code or its name, never unknown_error (issue 26)', async () => {
    const provider = await createCredentialProvider({ mint: async () => Promise.reject(new TypeError('no network')), firstMint: 'lazy' });
    stops.push(() => provider.stop());
    const error = (await toTokenCredential(provider, { scopes: [SCOPE] })
      .getToken(SCOPE)
      .catch((reason: unknown) => reason)) as AzureAuthenticationError;
    expect(error).toBeInstanceOf(CredentialError);
    expect(error).toMatchObject({ name: 'AuthenticationError', code: 'MINT_FAILED', errorResponse: { error: 'TypeError', errorDescription: 'no network' } });
  });

  it('with a pool: each tenant and scope set is its own key, minted once, with the claims of its own challenge', async () => {
    const minted: { tenantId: string | undefined; scopes: readonly string[]; claims: string | undefined }[] = [];
    const pool = createCredentialPool({
      mint: async (key, { claims }) => {
        const { tenantId, scopes } = parseAzureKey(key);
        minted.push({ tenantId, scopes, claims });
        return { secret: `${tenantId}:${scopes.join(',')}:${minted.length}`, expiresAt: Date.now() + 3_600_000, tokenType: 'Bearer' };
      },
    });
    stops.push(() => pool.stop());
    const credential = toTokenCredential(pool);
    const tokens = await Promise.all([
      credential.getToken(['b', 'a'], { tenantId: 't1' }),
      credential.getToken(['a', 'b'], { tenantId: 't1' }),
      credential.getToken('a', { tenantId: 't2' }),
      credential.getToken('a'),
    ]);
    expect(tokens.map((token) => token?.token)).toEqual(['t1:a,b:1', 't1:a,b:1', 't2:a:2', 'undefined:a:3']);
    // a pool credential's tenantId is the tenant of requests that name none
    expect((await toTokenCredential(pool, { tenantId: 't2' }).getToken('a'))?.token).toBe('t2:a:2');
    const challenged = await credential.getToken('a', { tenantId: 't2', claims: CLAIMS });
    expect(challenged?.token).toBe('t2:a:4');
    expect(minted.at(-1)).toEqual({ tenantId: 't2', scopes: ['a'], claims: CLAIMS });
    expect((await credential.getToken(['a', 'b'], { tenantId: 't1' }))?.token).toBe('t1:a,b:1'); // other keys untouched
    expect(azureKey({ scopes: ['b', 'a', 'a'], tenantId: 't1' })).toBe(azureKey({ scopes: ['a', 'b'], tenantId: 't1' }));
    expect(() => parseAzureKey('tenant-1')).toThrow(/not a key made by azureKey/);
  });

  it('maps a token type Azure clients cannot send to an AuthenticationError', async () => {
    const provider = await createCredentialProvider({ mint: async () => ({ secret: 'proof-bound', expiresAt: null, tokenType: 'DPoP' }) });
    stops.push(() => provider.stop());
    await expect(toTokenCredential(provider, { scopes: [SCOPE] }).getToken(SCOPE)).rejects.toMatchObject({ name: 'AuthenticationError', code: 'INVALID_TOKEN' });
  });
});

describe.concurrent('an Azure SDK client in a process of its own, idle past the SDK’s refresh window (issue 26: the process crashed)', () => {
  const run = (mode: 'invalidate' | 'stop') => runScript('test/sdk/azure-idle-worker.ts', [mode, '3']);

  it.each(['invalidate', 'stop'] as const)(
    'after %s(): the requests fail at once, the dropped token is not sent again, the process lives and exits by itself',
    async (mode) => {
      const { code, stdout, stderr } = await run(mode);
      expect(stderr).not.toMatch(/AuthenticationError|unhandled/i);
      expect(stdout).toMatch(/^first: 200$/m);
      expect(stdout).toMatch(mode === 'invalidate' ? /^after: AuthenticationError OAUTH_ERROR$/m : /^after: CredentialUnavailableError STOPPED$/m);
      expect(stdout).toMatch(/^invalidated token sent again: 0$/m);
      expect(stdout).toMatch(/^alive after \d+$/m);
      expect(code).toBe(0);
    },
    60_000,
  );
});
