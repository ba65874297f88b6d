import { describe, expect, it } from 'vitest';
import { CredentialError } from '../../src/index.js';
import { defaultClassifyFailure } from '../../src/classify-failure.js';
import { clientCredentialsMint, OAuthError } from '../../src/oauth2/index.js';
import { parseRetryAfter, retryAfterOf } from '../../src/retry-after.js';
import { flush, HOUR, outcome, startProvider } from '../helpers.js';

const NOW = Date.parse('2026-11-28T10:00:00Z');

describe('Retry-After, read', () => {
  it('as delay-seconds and as an HTTP date, relative to now', () => {
    expect(parseRetryAfter('120', NOW)).toBe(120_000);
    expect(parseRetryAfter(new Date(NOW + 90_000).toUTCString(), NOW)).toBe(90_000);
    expect(parseRetryAfter(new Date(NOW - 5_000).toUTCString(), NOW)).toBe(0);
    expect(parseRetryAfter('soon', NOW)).toBeNull();
    expect(parseRetryAfter(null, NOW)).toBeNull();
  });

  it('from any error with a numeric retryAfterMs', () => {
    expect(retryAfterOf(Object.assign(new Error('slow down'), { retryAfterMs: 30_000 }))).toBe(30_000);
    expect(retryAfterOf(Object.assign(new Error('x'), { retryAfterMs: '30' }))).toBeNull();
    expect(retryAfterOf(new Error('x'))).toBeNull();
    expect(retryAfterOf('x')).toBeNull();
  });

  it.each([
    ['429 with Retry-After seconds', 429, { 'retry-after': '30' }, 30_000],
    ['503 with Retry-After as an HTTP date', 503, { 'retry-after': new Date(NOW + 45_000).toUTCString() }, 45_000],
    ['503 without Retry-After', 503, {}, undefined],
  ])('by clientCredentialsMint from a %s', async (_name, status, headers, expected) => {
    const mint = clientCredentialsMint({
      tokenEndpoint: 'https://issuer.example/token',
      clientId: 'c',
      clientSecret: 's3cret',
      clock: { now: () => NOW },
      fetch: async () => new Response('busy', { status, headers }),
    });
    const result = await outcome(mint({ signal: new AbortController().signal }));
    expect(result.ok).toBe(false);
    const error = (result as { error: OAuthError }).error;
    expect(error).toBeInstanceOf(OAuthError);
    expect(error.status).toBe(status);
    expect(error.retryAfterMs).toBe(expected);
    expect(defaultClassifyFailure(error)).toBe('issuer');
  });
});

describe('Retry-After opens the provider’s breaker at once', () => {
  const slowDown = (retryAfterMs: number) => new OAuthError('rate_limited', { status: 429, retryAfterMs });

  it('until then, with reason retry-after, refusing callers of an expired token until it passes', async () => {
    const changes: unknown[] = [];
    const { clock, script, provider } = await startProvider({ breakerThreshold: 5, breakerCooldownMs: 60_000 });
    provider.on('breaker.changed', (change) => changes.push(change));
    clock.set(HOUR); // expired
    const first = outcome(provider.currentToken());
    script.last.reject(slowDown(120_000));
    expect((await first).ok).toBe(false);
    await flush();
    expect(provider.toJSON()).toMatchObject({ breaker: 'open', openUntil: HOUR + 120_000, consecutiveFailures: 1 });
    expect(changes).toEqual([{ type: 'breaker.changed', from: 'closed', to: 'open', openUntil: HOUR + 120_000, reason: 'retry-after' }]);
    clock.advance(60_000); // past the plain cooldown: still open
    const refused = await outcome(provider.currentToken());
    expect(refused.ok ? null : (refused.error as CredentialError).code).toBe('BREAKER_OPEN');
    expect(script.count).toBe(2);
    clock.advance(60_000); // Retry-After has passed: half-open, one probe
    const probe = provider.currentToken();
    expect(script.count).toBe(3);
    script.last.resolve({ secret: 'after', expiresAt: 3 * HOUR });
    await probe;
    expect(provider.toJSON().breaker).toBe('closed');
    await provider.stop();
  });

  it('a lone Retry-After opens it for what the issuer asked, never more than maxRetryAfterMs; with the threshold reached too, the later end wins', async () => {
    const { clock, script, provider } = await startProvider({ breakerCooldownMs: 60_000, maxRetryAfterMs: 300_000, breakerThreshold: 3 });
    clock.set(HOUR);
    const first = outcome(provider.currentToken());
    script.last.reject(slowDown(7_000));
    await first;
    await flush();
    expect(provider.toJSON().openUntil).toBe(HOUR + 7_000); // not the 60 s cooldown
    clock.set(HOUR + 7_000);
    const probe = outcome(provider.currentToken());
    script.last.reject(slowDown(24 * HOUR));
    await probe;
    await flush();
    expect(provider.toJSON().openUntil).toBe(HOUR + 7_000 + 300_000); // capped
    clock.set(HOUR + 307_000);
    const third = outcome(provider.currentToken());
    script.last.reject(slowDown(1_000)); // the third failure reaches the threshold: the cooldown outlasts the issuer's second
    await third;
    await flush();
    expect(provider.toJSON().openUntil).toBe(HOUR + 307_000 + 60_000);
    await provider.stop();
  });

  it('a failure without Retry-After counts toward the threshold as before', async () => {
    const { clock, script, provider } = await startProvider({ breakerThreshold: 2 });
    clock.set(HOUR);
    const first = outcome(provider.currentToken());
    script.last.reject(new OAuthError('server_error', { status: 503 }));
    await first;
    await flush();
    expect(provider.toJSON()).toMatchObject({ breaker: 'closed', consecutiveFailures: 1 });
    await provider.stop();
  });
});

describe('the default failure classification', () => {
  it.each([
    [new OAuthError('invalid_client', { status: 401 }), 'key'],
    [new OAuthError('invalid_scope', { status: 400 }), 'key'],
    [new OAuthError('unauthorized_client', { status: 403 }), 'key'],
    [new OAuthError('temporarily_unavailable', { status: 503 }), 'issuer'],
    [new OAuthError('rate_limited', { status: 429 }), 'issuer'],
    [new OAuthError('request_failed'), 'issuer'],
    [new CredentialError('MINT_TIMEOUT', 'slow'), 'issuer'],
    [new CredentialError('INVALID_TOKEN', 'bad'), 'key'],
    [new TypeError('fetch failed'), 'issuer'],
    [Object.assign(new Error('HTTP 404'), { status: 404 }), 'key'],
  ] as const)('%s is the %s’s', (error, blame) => {
    expect(defaultClassifyFailure(error)).toBe(blame);
  });
});
