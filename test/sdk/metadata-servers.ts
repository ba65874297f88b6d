/**
 * Loopback endpoints of the shapes the cloud SDKs already read from the environment, so the real
 * SDK packages can be pointed at them: ECS's container credentials endpoint
 * (`AWS_CONTAINER_CREDENTIALS_FULL_URI`, `AWS_CONTAINER_AUTHORIZATION_TOKEN`) and App Service's
 * managed identity endpoint (`IDENTITY_ENDPOINT`, `IDENTITY_HEADER`). Each counts its calls, checks
 * the secret header the platform would, and answers 500 while `failing`.
 */
import { randomBytes } from 'node:crypto';
import type { IssuedKeys } from './aws-servers.js';
import { startHttpServer } from './local-servers.js';

/** The scope the Azure tests ask the identity endpoint for. */
export const AZURE_SCOPE = 'https://vault.azure.net/.default';

/** ECS's container credentials endpoint: fresh keys of `lifetimeMs` into `issued` (which the S3-shaped server verifies against). */
export async function startContainerCredentialsServer(lifetimeMs: number, issued: IssuedKeys, authorizationToken: string) {
  const state = { calls: [] as number[], refusedAuthorization: 0, failing: false };
  const server = await startHttpServer((request, _body, response) => {
    if (request.headers.authorization !== authorizationToken) {
      state.refusedAuthorization++;
      response.writeHead(403, { 'content-type': 'application/json' }).end(JSON.stringify({ code: 'AccessDenied', message: 'wrong authorization token' }));
      return;
    }
    state.calls.push(Date.now());
    if (state.failing) {
      response.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ code: 'InternalError', message: 'the agent is down' }));
      return;
    }
    const accessKeyId = `ASIA${randomBytes(8).toString('hex').toUpperCase()}`;
    const keys = { secretAccessKey: randomBytes(20).toString('base64'), sessionToken: randomBytes(32).toString('base64'), expiresAt: Date.now() + lifetimeMs };
    issued.set(accessKeyId, keys);
    response
      .writeHead(200, { 'content-type': 'application/json' })
      .end(JSON.stringify({ AccessKeyId: accessKeyId, SecretAccessKey: keys.secretAccessKey, Token: keys.sessionToken, Expiration: new Date(keys.expiresAt).toISOString() }));
  });
  return { ...server, state, fullUri: `${server.url}/v2/credentials/task-role` };
}

/** App Service's managed identity endpoint (api-version 2019-08-01): tokens of `lifetimeSeconds` for the asked `resource`, recorded in `issued`. */
export async function startAppServiceIdentityServer(lifetimeSeconds: number, identityHeader: string) {
  const state = { calls: [] as number[], resources: [] as string[], refusedHeader: 0, failing: false, issued: new Set<string>() };
  const server = await startHttpServer((request, _body, response) => {
    const url = new URL(request.url ?? '/', 'http://127.0.0.1');
    if (request.headers['x-identity-header'] !== identityHeader) {
      state.refusedHeader++;
      response.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'unauthorized' }));
      return;
    }
    state.calls.push(Date.now());
    const resource = url.searchParams.get('resource') ?? '';
    state.resources.push(resource);
    if (state.failing) {
      response.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'internal_error', error_description: 'the identity endpoint is down' }));
      return;
    }
    const token = `mi-${randomBytes(12).toString('hex')}`;
    state.issued.add(token);
    const expiresOn = String(Math.floor(Date.now() / 1000) + lifetimeSeconds);
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ access_token: token, expires_on: expiresOn, resource, token_type: 'Bearer' }));
  });
  return { ...server, state, identityEndpoint: `${server.url}/msi/token` };
}
