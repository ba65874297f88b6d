/** Every option of every entry point, checked where it is given: one file for the checks. */
import { describe, expect, it } from 'vitest';
import { createCredentialProvider, CredentialError, type CredentialProviderOptions, createCredentialPool } from '../../src/index.js';
import { ManualClock, credentialScenarios, replayScenario } from '../../src/testing/index.js';
import { outcome } from '../helpers.js';
import { clientCredentialsMint, refreshTokenMint } from '../../src/oauth2/index.js';
import { otelReporters } from '../../src/otel/index.js';
import { renderTimeline } from '../../src/timeline/index.js';
import { credentialKey, redisCoordination } from '../../src/redis/index.js';

const mint = async () => ({ secret: 'x', expiresAt: null });

async function rejectionOf(options: unknown): Promise<CredentialError> {
  const result = await outcome(createCredentialProvider(options as CredentialProviderOptions));
  expect(result.ok).toBe(false);
  if (result.ok) throw new Error('unreachable');
  expect(result.error).toBeInstanceOf(CredentialError);
  return result.error as CredentialError;
}

const CLIENT_SECRET = 'client-secret-3f9a-never-in-an-error';
const base = { tokenEndpoint: 'https://login.example/oauth2/token', clientId: 'billing', clientSecret: CLIENT_SECRET };
const signal = () => new AbortController().signal;
const invalidConfig = (pattern: RegExp) => expect.objectContaining({ code: 'INVALID_CONFIG', message: expect.stringMatching(pattern) });

async function constructionError(options: unknown): Promise<CredentialError> {
  const result = await outcome(createCredentialProvider(options as CredentialProviderOptions));
  if (result.ok) throw new Error('construction succeeded');
  expect(result.error).toBeInstanceOf(CredentialError);
  return result.error as CredentialError;
}

describe('bad config fails at construction', () => {
  it('names a missing mint as UNCONFIGURED', async () => {
    for (const options of [{}, { mint: 'nope' }, undefined, null]) {
      const error = await rejectionOf(options);
      expect(error.code).toBe('UNCONFIGURED');
      expect(error.message).toMatch(/\bmint\b/);
    }
  });

  it.each([
    ['refreshAt', -0.1],
    ['refreshAt', 1.1],
    ['refreshAt', Number.NaN],
    ['refreshFloorMs', -1],
    ['refreshFloorMs', Infinity],
    ['refreshFloorMs', Number.NaN],
    ['breakerCooldownMs', -5],
    ['breakerCooldownMs', Infinity],
    ['breakerThreshold', 0],
    ['breakerThreshold', 2.5],
    ['breakerThreshold', Number.NaN],
    ['mintTimeoutMs', -1],
    ['mintTimeoutMs', Number.NaN],
    ['mintTimeoutMs', 0],
    ['refresh', 'eager'],
    ['jitter', 0.5],
    ['invalidateMinIntervalMs', -1],
  ])('rejects %s = %s as INVALID_CONFIG naming the field', async (field, value) => {
    let minted = 0;
    const error = await rejectionOf({ mint: async () => (minted++, mint()), [field]: value });
    expect(error.code).toBe('INVALID_CONFIG');
    expect(error.message.startsWith(`${field} `)).toBe(true);
    expect(minted).toBe(0);
  });

  it('rejects a clock without its three functions', async () => {
    const error = await rejectionOf({ mint, clock: { now: () => 0 } });
    expect(error.code).toBe('INVALID_CONFIG');
    expect(error.message).toMatch(/clock/);
  });

  it('accepts the edges of every range', async () => {
    const provider = await createCredentialProvider({
      mint,
      clock: new ManualClock(0),
      refreshAt: 0,
      refreshFloorMs: 0,
      breakerThreshold: 1,
      breakerCooldownMs: 0,
      mintTimeoutMs: Infinity,
      refresh: 'proactive',
      invalidateMinIntervalMs: 0,
    });
    await provider.stop();
  });
});

describe('seconds written where milliseconds go (issue 26)', () => {
  it('are refused on the system clock, with the fix; 0 (none) and a test clock take any value', async () => {
    const { createCredentialProvider, createCredentialPool } = await import('../../src/index.js');
    const { ManualClock } = await import('../../src/testing/index.js');
    const mint = async () => ({ secret: 's', expiresAt: null });
    await expect(createCredentialProvider({ mint, breakerCooldownMs: 60 })).rejects.toMatchObject({
      code: 'INVALID_CONFIG',
      message: 'breakerCooldownMs is 60 ms: did you mean 60_000 (60 s)? Durations are in milliseconds',
    });
    await expect(createCredentialProvider({ mint, refreshFloorMs: 30 })).rejects.toMatchObject({ message: expect.stringContaining('refreshFloorMs is 30 ms: did you mean 30_000') });
    expect(() => createCredentialPool({ mint, mintTimeoutMs: 5 })).toThrow(/mintTimeoutMs is 5 ms/);
    const provider = await createCredentialProvider({ mint, invalidateMinIntervalMs: 0, breakerCooldownMs: 100 });
    await provider.stop();
    const onTestClock = await createCredentialProvider({ mint, clock: new ManualClock(0), breakerCooldownMs: 60 });
    await onTestClock.stop();
  });
});

/** Every public options object is checked by the one helper: a typo fails at construction with a hint. */
describe('one way to pass options', () => {
  it.each([
    ['clientCredentialsMint', () => clientCredentialsMint({ ...base, scopes: ['a'], audiance: 'x' } as never), /^clientCredentialsMint: unknown option audiance; did you mean audience\?$/],
    ['refreshTokenMint', () => refreshTokenMint({ ...base, refreshToken: 'r', clientSecrt: 'x' } as never), /^refreshTokenMint: unknown option clientSecrt; did you mean clientSecret\?$/],
    ['credentialKey', () => credentialKey({ issuer: 'i', clientId: 'c', tennant: 't' } as never), /^credentialKey: unknown option tennant; did you mean tenant\?$/],
    [
      'redisCoordination',
      () => redisCoordination({ client: {}, subscriber: {}, encryptionKey: { id: 'k', key: Buffer.alloc(32) }, leasMs: 1 } as never),
      /^redisCoordination: unknown option leasMs; did you mean leaseMs\?$/,
    ],
    ['otelReporters', () => otelReporters({} as never, { nmae: 'x' } as never), /^otelReporters: unknown option nmae; did you mean name\?$/],
    [
      'renderTimeline',
      () => renderTimeline({ startedAt: 0, endedAt: 1, tokens: [], mints: [], requests: [], breaker: [] } as never, { widht: 800 } as never),
      /^renderTimeline: unknown option widht; did you mean width\?$/,
    ],
    [
      'createCredentialPool',
      () => createCredentialPool({ mint: async () => ({ secret: 'x', expiresAt: null }), maxKey: 3 } as never),
      /^createCredentialPool: unknown option maxKey; did you mean maxKeys\?$/,
    ],
  ])('%s refuses an unknown option, naming the closest', (_owner, construct, message) => {
    expect(construct).toThrow(CredentialError);
    expect(construct).toThrowError(message);
  });

  it('replayScenario refuses an unknown option, naming the closest', async () => {
    const [scenario] = credentialScenarios({ refresh: 'on-demand' });
    await expect(replayScenario(scenario!, { onReqest: () => {} } as never)).rejects.toThrow(/^replayScenario: unknown option onReqest; did you mean onRequest\?$/);
  });

  it('createCredentialProvider refuses an unknown option before it mints', async () => {
    let mints = 0;
    const mint = async () => ({ secret: `t${++mints}`, expiresAt: null });
    await expect(createCredentialProvider({ mint, firstMnt: 'lazy' } as never)).rejects.toEqual(invalidConfig(/^createCredentialProvider: unknown option firstMnt; did you mean firstMint\?$/));
    expect(mints).toBe(0);
  });

  it('scopes is one name and one shape: an array everywhere; scope is refused with a hint', () => {
    expect(() => clientCredentialsMint({ ...base, scope: 'a b' } as never)).toThrowError(/clientCredentialsMint: option scope is not taken; use scopes, an array of strings/);
    expect(() => refreshTokenMint({ ...base, refreshToken: 'r', scope: 'a' } as never)).toThrowError(/refreshTokenMint: option scope is not taken; use scopes/);
    expect(() => credentialKey({ issuer: 'i', clientId: 'c', scope: 'a' } as never)).toThrowError(/credentialKey: option scope is not taken; use scopes/);
    expect(() => clientCredentialsMint({ ...base, scopes: 'a b' } as never)).toThrowError(/scopes must be an array of non-empty strings/);
    expect(() => clientCredentialsMint({ ...base, scopes: ['a b'] })).toThrowError(/without spaces/);
  });

  it('sends scopes space-separated as the scope parameter', async () => {
    const bodies: string[] = [];
    const fetch = (async (_url: string | URL | Request, init?: RequestInit) => {
      bodies.push(String(init?.body));
      return Response.json({ access_token: 'at', token_type: 'Bearer', expires_in: 60 });
    }) as typeof globalThis.fetch;
    await clientCredentialsMint({ ...base, scopes: ['invoices:read', 'invoices:write'], fetch })({ signal: signal() });
    expect(new URLSearchParams(bodies[0]).get('scope')).toBe('invoices:read invoices:write');
  });

  it('a tokenEndpoint that is not a URL is INVALID_CONFIG naming the option, without echoing the value', () => {
    const construct = () => clientCredentialsMint({ ...base, tokenEndpoint: 'login.example/token?key=hunter2' });
    expect(construct).toThrow(CredentialError);
    expect(construct).toThrowError(/^clientCredentialsMint: tokenEndpoint must be an absolute URL/);
    expect(construct).not.toThrowError(/hunter2/);
    expect(() => refreshTokenMint({ ...base, tokenEndpoint: 42 as never, refreshToken: 'r' })).toThrowError(/refreshTokenMint: tokenEndpoint must be an absolute URL.*got a number/);
  });

  it('an http: URL fails at construction with the allowInsecureRequests hint, and is taken with it', () => {
    expect(() => clientCredentialsMint({ ...base, tokenEndpoint: 'http://127.0.0.1:8080/token' })).toThrowError(
      /tokenEndpoint is an http: URL; only https: is used unless allowInsecureRequests: true/,
    );
    expect(() => clientCredentialsMint({ ...base, issuer: 'http://127.0.0.1:8080', tokenEndpoint: undefined })).toThrowError(/issuer is an http: URL/);
    expect(() => clientCredentialsMint({ ...base, tokenEndpoint: 'http://127.0.0.1:8080/token', allowInsecureRequests: true })).not.toThrow();
  });
});

describe('options are checked by name', () => {
  it.each([
    ['refreshAtt', 'refreshAt'],
    ['breakerTreshold', 'breakerThreshold'],
    ['mintTimeout', 'mintTimeoutMs'],
    ['reporter', 'reporters'],
  ])('an unknown option %s fails with INVALID_CONFIG suggesting %s', async (typo, meant) => {
    let minted = 0;
    const error = await constructionError({ mint: async () => (minted++, { secret: 'x', expiresAt: null }), [typo]: 1 });
    expect(error.code).toBe('INVALID_CONFIG');
    expect(error.message).toContain(`unknown option ${typo}`);
    expect(error.message).toContain(`did you mean ${meant}?`);
    expect(minted).toBe(0);
  });

  it.each([
    ['reporters that is not an object', 42, /^reporters must be an object/],
    ['a reporter that is not a function', { refresh: { onRefreshSucceeded: 'log' } }, /^reporters\.refresh\.onRefreshSucceeded must be a function/],
    ['a group that is not an object', { breaker: true }, /^reporters\.breaker must be an object/],
    ['a misspelt reporter', { refresh: { onRefreshSucceded: () => {} } }, /reporters\.refresh\.onRefreshSucceded is not a reporter; did you mean onRefreshSucceeded\?/],
    ['an unknown group', { breakers: {} }, /reporters\.breakers is not a reporter group; did you mean breaker\?/],
  ])('%s fails with INVALID_CONFIG naming it', async (_name, reporters, message) => {
    const error = await constructionError({ mint: async () => ({ secret: 'x', expiresAt: null }), reporters });
    expect(error.code).toBe('INVALID_CONFIG');
    expect(error.message).toMatch(message);
  });

  it('an inspect that is neither a function nor an observer fails with INVALID_CONFIG', async () => {
    const error = await constructionError({ mint: async () => ({ secret: 'x', expiresAt: null }), inspect: 'stately' });
    expect(error.code).toBe('INVALID_CONFIG');
    expect(error.message).toMatch(/^inspect must be/);
  });
});
