import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { createCredentialProvider, CredentialError, Secret, type CredentialProvider, type CredentialProviderOptions } from '../../src/index.js';
import { ManualClock } from '../../src/testing/index.js';
import { HOUR, outcome, scriptedMint, startProvider } from '../helpers.js';

const NUMERIC_SECRET = 8675309123456;

async function constructionError(options: unknown): Promise<CredentialError> {
  const result = await outcome(createCredentialProvider(options as CredentialProviderOptions));
  if (result.ok) throw new Error('construction succeeded');
  expect(result.error).toBeInstanceOf(CredentialError);
  return result.error as CredentialError;
}

/** The error a first mint resolving with `minted` fails construction with, on a clock at today's date. */
async function mintedError(minted: unknown): Promise<CredentialError> {
  return constructionError({ mint: async () => minted, clock: new ManualClock(Date.parse('2026-11-28T10:00:00Z')) });
}

describe('error messages never print a value from a field that may hold the secret', () => {
  it.each([
    ['a numeric secret', { secret: NUMERIC_SECRET, expiresAt: null }, 'a number'],
    ['a secret part that is a number', { secret: { value: NUMERIC_SECRET }, expiresAt: null }, 'part 1 of 1 must be a string, got a number'],
    ['a secret part named by a secret', { secret: { [String(NUMERIC_SECRET)]: '' }, expiresAt: null }, 'part 1 of 1 is empty'],
    ['an array secret', { secret: [String(NUMERIC_SECRET)], expiresAt: null }, 'an array of 1'],
    ['a bare string instead of a token', String(NUMERIC_SECRET), 'a string of 13 characters'],
  ])('%s', async (_name, minted, shape) => {
    const error = await mintedError(minted);
    expect(error.code).toBe('INVALID_TOKEN');
    expect(error.message).toContain(shape);
    expect(error.message).not.toContain(String(NUMERIC_SECRET));
  });
});

describe('an expiry in the wrong unit is refused with how to convert it', () => {
  const now = Date.parse('2026-11-28T10:00:00Z');
  it.each([
    ['a JWT exp (epoch seconds)', Math.floor(now / 1000) + 3600],
    ['an expires_in (seconds from now)', 3600],
  ])('%s', async (_name, expiresAt) => {
    const error = await mintedError({ secret: 'x', expiresAt });
    expect(error.code).toBe('INVALID_TOKEN');
    expect(error.message).toContain('expiresAt is epoch milliseconds');
    expect(error.message).toContain('Date.now() + expires_in * 1000');
    expect(error.message).toContain('exp * 1000');
  });

  it('a raw OAuth token response names both fields to map', async () => {
    const error = await mintedError({ access_token: 'x', token_type: 'Bearer', expires_in: 3600 });
    expect(error.code).toBe('INVALID_TOKEN');
    expect(error.message).toMatch(/access_token to secret/);
    expect(error.message).toMatch(/expires_in to expiresAt/);
  });

  it('a test clock at 0 may use small epoch-ms expiries (the check compares with the clock)', async () => {
    const { provider } = await startProvider({}, { secret: 'x', expiresAt: HOUR });
    expect((await provider.currentToken()).expiresAt).toBe(HOUR);
    await provider.stop();
  });
});

describe('junk where a token is expected is simply not it', () => {
  it('invalidate(null | {} | 42 | a token-like object with a bad secret) returns false and drops nothing', async () => {
    const { provider } = await startProvider();
    for (const junk of [null, {}, 42, { secret: 42 }, { secret: null }, []]) expect(provider.invalidate(junk as never)).toBe(false);
    expect(provider.toJSON().validity).toBe('fresh');
    await provider.stop();
  });

  it('Secret.equals(undefined | null | 42 | {}) returns false', () => {
    const secret = new Secret('x');
    for (const junk of [undefined, null, 42, {}, { reveal: () => 'x' }]) expect(secret.equals(junk as never)).toBe(false);
    expect(secret.equals('x')).toBe(true);
    expect(secret.equals(new Secret('x'))).toBe(true);
  });
});

describe('one AbortSignal shared by callers of many providers', () => {
  it('carries one abort listener of ours, removed when they settle, and aborts every caller', async () => {
    const controller = new AbortController();
    const { signal } = controller;
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    const providers: { provider: CredentialProvider; script: ReturnType<typeof scriptedMint> }[] = [];
    try {
      for (let index = 0; index < 20; index++) {
        const { clock, script, provider } = await startProvider();
        clock.advance(HOUR); // expired: callers wait on a mint
        providers.push({ provider, script });
      }
      const waiting = providers.flatMap(({ provider }) => [outcome(provider.currentToken({ signal })), outcome(provider.currentToken({ signal }))]);
      expect(getEventListeners(signal, 'abort')).toHaveLength(1);
      // half of them settle: the listener stays for the rest
      for (const { script } of providers.slice(0, 10)) script.last.resolve({ secret: 'y', expiresAt: 3 * HOUR });
      await Promise.all(waiting.slice(0, 20));
      expect(getEventListeners(signal, 'abort')).toHaveLength(1);
      controller.abort('caller gave up');
      const rest = await Promise.all(waiting.slice(20));
      expect(rest.every((result) => !result.ok && result.error === 'caller gave up')).toBe(true);
      expect(getEventListeners(signal, 'abort')).toHaveLength(0);
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings.filter((warning) => warning.name === 'MaxListenersExceededWarning')).toEqual([]);
    } finally {
      process.off('warning', onWarning);
      for (const { provider } of providers) await provider.stop();
    }
  });

  it('removes the listener when every caller sharing the signal was served', async () => {
    const { signal } = new AbortController();
    const { clock, script, provider } = await startProvider();
    clock.advance(HOUR);
    const first = provider.currentToken({ signal });
    const second = provider.currentToken({ signal });
    expect(getEventListeners(signal, 'abort')).toHaveLength(1);
    script.last.resolve({ secret: 'y', expiresAt: 3 * HOUR });
    await Promise.all([first, second]);
    expect(getEventListeners(signal, 'abort')).toHaveLength(0);
    await provider.stop();
  });
});

describe('a signal or options object that throws when read (issue 26)', () => {
  const boom = () => {
    throw new Error('getter');
  };
  const throwingAborted = {
    get aborted(): boolean {
      return boom();
    },
    addEventListener() {},
    removeEventListener() {},
  };
  const throwingListener = { aborted: false, addEventListener: boom, removeEventListener() {} };
  const throwingOptions = {
    get signal(): AbortSignal {
      return boom();
    },
  };
  const abortedWithThrowingReason = {
    aborted: true,
    get reason(): unknown {
      return boom();
    },
    addEventListener() {},
    removeEventListener() {},
  };

  it.each([
    ['a signal whose aborted getter throws', { signal: throwingAborted }],
    ['a signal whose addEventListener throws', { signal: throwingListener }],
    ['an aborted signal whose reason getter throws', { signal: abortedWithThrowingReason }],
    ['options whose signal getter throws', throwingOptions],
  ])('%s: currentToken() returns a promise rejected with INVALID_ARGUMENT, never throws', async (_name, options) => {
    const { clock, script, provider } = await startProvider();
    clock.advance(HOUR); // expired: the call takes the slow path, where a signal is listened to
    let returned: Promise<unknown> | undefined;
    expect(() => {
      returned = provider.currentToken(options as never);
    }).not.toThrow();
    const result = await outcome(returned!);
    expect(result).toMatchObject({ ok: false, error: { code: 'INVALID_ARGUMENT' } });
    expect((result as { error: Error }).error).toBeInstanceOf(CredentialError);
    // the provider is unharmed: the next caller is served
    const next = provider.currentToken();
    script.last.resolve({ secret: 'next', expiresAt: 2 * HOUR });
    expect((await next).expiresAt).toBe(2 * HOUR);
    await provider.stop();
  });

  it.each([
    ['a signal whose aborted getter throws', { signal: throwingAborted }],
    ['options whose signal getter throws', throwingOptions],
  ])('%s: a pool’s currentToken() too', async (_name, options) => {
    const { createCredentialPool } = await import('../../src/index.js');
    const pool = createCredentialPool({ mint: async () => ({ secret: 's', expiresAt: null }), clock: new ManualClock(0) });
    let returned: Promise<unknown> | undefined;
    expect(() => {
      returned = pool.currentToken('k', options as never);
    }).not.toThrow();
    expect(await outcome(returned!)).toMatchObject({ ok: false, error: { code: 'INVALID_ARGUMENT' } });
    await pool.stop();
  });
});
