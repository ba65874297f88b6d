import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import { startHttpServer } from './local-servers.js';

/** Keys an STS-shaped server issued, by access key id. */
export type IssuedKeys = Map<string, { secretAccessKey: string; sessionToken: string; expiresAt: number }>;

/**
 * An STS-shaped server (the awsQuery protocol `@aws-sdk/client-sts` speaks): answers `AssumeRole`
 * and `AssumeRoleWithWebIdentity` with fresh random keys of `lifetimeMs`, counts the calls, and
 * answers an error while `failWith` is set.
 */
export async function startStsServer(lifetimeMs: number) {
  const state = {
    calls: [] as { action: string; roleArn: string | null; webIdentityToken: string | null; externalId: string | null }[],
    failWith: null as null | { status: number; code: string },
    lifetimeMs,
    issued: new Map() as IssuedKeys,
  };
  const server = await startHttpServer((_request, body, response) => {
    const form = new URLSearchParams(body);
    const action = form.get('Action') ?? '';
    state.calls.push({ action, roleArn: form.get('RoleArn'), webIdentityToken: form.get('WebIdentityToken'), externalId: form.get('ExternalId') });
    const requestId = randomBytes(8).toString('hex');
    if (state.failWith !== null) {
      const { status, code } = state.failWith;
      response.writeHead(status, { 'content-type': 'text/xml', 'x-amzn-requestid': requestId });
      response.end(
        `<ErrorResponse><Error><Type>${status >= 500 ? 'Receiver' : 'Sender'}</Type><Code>${code}</Code><Message>${code} for this test</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`,
      );
      return;
    }
    const accessKeyId = `ASIA${randomBytes(8).toString('hex').toUpperCase()}`;
    const keys = { secretAccessKey: randomBytes(20).toString('base64'), sessionToken: randomBytes(32).toString('base64'), expiresAt: Date.now() + state.lifetimeMs };
    state.issued.set(accessKeyId, keys);
    response.writeHead(200, { 'content-type': 'text/xml', 'x-amzn-requestid': requestId });
    response.end(
      `<${action}Response xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><${action}Result><Credentials>` +
        `<AccessKeyId>${accessKeyId}</AccessKeyId><SecretAccessKey>${keys.secretAccessKey}</SecretAccessKey>` +
        `<SessionToken>${keys.sessionToken}</SessionToken><Expiration>${new Date(keys.expiresAt).toISOString()}</Expiration>` +
        `</Credentials><AssumedRoleUser><AssumedRoleId>AROA:test</AssumedRoleId><Arn>${form.get('RoleArn')}</Arn></AssumedRoleUser>` +
        `</${action}Result><ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></${action}Response>`,
    );
  });
  return { ...server, state };
}

/**
 * An S3-shaped server that answers `GetObject` only to requests whose SigV4 signature verifies,
 * recomputed with `@smithy/signature-v4` from the keys STS issued: it records the access key id of
 * every request, and refuses an unknown, expired or wrongly signed one with 403.
 */
export async function startS3Server(issued: IssuedKeys) {
  const state = { keyIds: [] as string[], refused: [] as string[] };
  const server = await startHttpServer(async (request, body, response) => {
    const verdict = await verifySigV4(request, body, issued);
    if (typeof verdict !== 'string' || !verdict.startsWith('ok:')) {
      state.refused.push(String(verdict));
      response.writeHead(403, { 'content-type': 'application/xml' });
      response.end(`<Error><Code>SignatureDoesNotMatch</Code><Message>${verdict}</Message></Error>`);
      return;
    }
    state.keyIds.push(verdict.slice(3));
    response.writeHead(200, { 'content-type': 'text/plain', 'content-length': '5', etag: '"5d41402abc4b2a76b9719d911017c592"', 'last-modified': new Date().toUTCString() });
    response.end('hello');
  });
  return { ...server, state };
}

/** `ok:<access key id>` when the request's signature is the one its issued keys make, else why not. */
async function verifySigV4(request: IncomingMessage, body: string, issued: IssuedKeys): Promise<string> {
  const authorization = request.headers.authorization ?? '';
  const match = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/.exec(authorization);
  if (match === null) return 'no SigV4 authorization';
  const [, accessKeyId, , region, service, signedHeaders] = match as unknown as [string, string, string, string, string, string];
  const keys = issued.get(accessKeyId);
  if (keys === undefined) return 'unknown access key id';
  if (Date.now() >= keys.expiresAt) return 'expired keys';
  if (request.headers['x-amz-security-token'] !== keys.sessionToken) return 'wrong session token';
  const amzDate = String(request.headers['x-amz-date']);
  const signingDate = new Date(`${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 8)}T${amzDate.slice(9, 11)}:${amzDate.slice(11, 13)}:${amzDate.slice(13, 15)}Z`);
  const url = new URL(request.url ?? '/', `http://${request.headers.host}`);
  const headers: Record<string, string> = {};
  for (const name of signedHeaders.split(';')) headers[name] = String(request.headers[name] ?? '');
  const signer = new SignatureV4({ credentials: { accessKeyId, secretAccessKey: keys.secretAccessKey, sessionToken: keys.sessionToken }, region, service, sha256: Sha256, uriEscapePath: false });
  const signed = await signer.sign(
    { method: request.method ?? 'GET', protocol: 'http:', hostname: url.hostname, port: Number(url.port), path: url.pathname, query: Object.fromEntries(url.searchParams), headers, body },
    { signingDate },
  );
  return signed.headers.authorization === authorization ? `ok:${accessKeyId}` : 'signature does not match';
}
