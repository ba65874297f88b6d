/**
 * A mint may throw anything: a Proxy whose every trap throws, an error whose `message`, `name`,
 * `code` or `issuerNotAsked` getter throws, a string, `null`. Found by an independent random
 * scheduler (issue 26): such a value crashed the host from a timer, stranded callers, kept a pool's
 * permit and left its issuer breaker half-open for good. The library reads a thrown value once,
 * defensively (`readThrown`), and hands callers the value itself.
 */
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { BreakerOpenError, createCredentialPool, type MintedToken } from '../../src/index.js';
import { ManualClock } from '../../src/testing/index.js';
import { readThrown } from '../../machines/thrown.js';
import { flush, HOUR, outcome, startProvider, stateOf } from '../helpers.js';

const boom = () => {
  throw new Error('a getter that throws');
};

/** Every kind of hostile value the scheduler threw, by name. */
function hostileValues(): [string, unknown][] {
  const trapsThrow = new Proxy({}, { get: boom, getPrototypeOf: boom, has: boom, ownKeys: boom, getOwnPropertyDescriptor: boom });
  const errorWithThrowingGetters = new Error('ok');
  for (const key of ['message', 'name', 'code', 'issuerNotAsked', 'status', 'retryAfterMs']) Object.defineProperty(errorWithThrowingGetters, key, { get: boom });
  const errorProxy = new Proxy(new Error('inner'), { get: boom });
  return [
    ['a Proxy whose every trap throws', trapsThrow],
    ['an Error whose getters throw', errorWithThrowingGetters],
    ['a Proxy of an Error whose get trap throws', errorProxy],
    ['a string', 'down'],
    ['null', null],
    ['undefined', undefined],
  ];
}

describe('readThrown', () => {
  it.each(hostileValues())('reads %s without throwing, as a summary that says what it could', (_, value) => {
    const facts = readThrown(value);
    expect(typeof facts.name).toBe('string');
    expect(typeof facts.message).toBe('string');
    expect(facts.retryAfterMs).toBeNull();
    expect(facts.issuerNotAsked).toBe(false);
  });

  it('reads the facts of an ordinary error: name, message, string code, finite status and retryAfterMs', () => {
    const error = Object.assign(new TypeError('slow down'), { code: 'E_SLOW', status: 429, retryAfterMs: 5_000, issuerNotAsked: true });
    expect(readThrown(error)).toEqual({ name: 'TypeError', message: 'slow down', code: 'E_SLOW', status: 429, retryAfterMs: 5_000, issuerNotAsked: true, credentialError: false });
    expect(readThrown(Object.assign(new Error('x'), { code: 7, status: Number.NaN, retryAfterMs: -1 }))).toEqual({
      name: 'Error',
      message: 'x',
      retryAfterMs: null,
      issuerNotAsked: false,
      credentialError: false,
    });
    // what is not an Error is described by its type only: a thrown plain object may hold a request
    expect(readThrown({ message: 'secret-bearing', status: 503 })).toMatchObject({ name: 'NonError', message: 'a object was thrown', status: 503 });
  });
});

describe('a provider whose mint throws a hostile value', () => {
  it.each(hostileValues())('%s: callers get the value itself, the breaker counts it, BREAKER_OPEN names it safely, stop() settles everyone', async (_, value) => {
    const { clock, script, provider } = await startProvider({ breakerThreshold: 2, breakerCooldownMs: 60_000, inspect: () => {} });
    const seen: unknown[] = [];
    provider.on('refresh.failed', (event) => seen.push(event.type));
    clock.advance(HOUR);
    for (let i = 0; i < 2; i++) {
      const call = outcome(provider.currentToken());
      script.last.reject(value);
      const result = await call;
      expect(result.ok).toBe(false);
      // the mint's own value, untouched (a Proxy compares by identity)
      expect((result as { error: unknown }).error).toBe(value);
    }
    expect(seen).toHaveLength(2);
    expect(stateOf(provider).breaker).toBe('open');
    const refused = await outcome(provider.currentToken());
    const error = (refused as { error: BreakerOpenError }).error;
    expect(error).toBeInstanceOf(BreakerOpenError);
    expect(error.cause).toBeInstanceOf(Error);
    expect(() => JSON.stringify(error)).not.toThrow();
    expect(() => inspect(provider)).not.toThrow();
    // the probe throws one too: open again, not half-open for good
    clock.advance(60_000);
    const probe = outcome(provider.currentToken());
    script.last.reject(value);
    expect((await probe).ok).toBe(false);
    expect(stateOf(provider).breaker).toBe('open');
    clock.advance(60_000);
    const waiting = outcome(provider.currentToken());
    await provider.stop();
    expect(await waiting).toMatchObject({ ok: false, error: { code: 'STOPPED' } });
  });

  it('a proactive provider survives it in the background, from a timer, and goes on to the next success', async () => {
    const { clock, script, provider } = await startProvider({ breakerThreshold: 3, refresh: 'proactive' });
    while (script.count < 2) {
      clock.advance(1_000); // until the refresh is due: the background mint runs from a timer
      await flush();
    }
    script.last.reject(hostileValues()[0]![1]);
    await flush();
    expect(provider.actor.getSnapshot().context.consecutiveFailures).toBe(1);
    expect(provider.actor.getSnapshot().context.lastFailure).toMatchObject({ name: 'NonError' });
    while (script.count < 3) {
      clock.advance(1_000);
      await flush();
    }
    script.last.resolve({ secret: 'next', expiresAt: 3 * HOUR });
    await flush();
    expect(provider.actor.getSnapshot().context).toMatchObject({ consecutiveFailures: 0, lastFailure: null });
    await provider.stop();
  });
});

describe('a pool whose key mint throws a hostile value', () => {
  it('returns the permit: with maxMintsInFlight 1, the next key reaches the issuer; a probe that throws one re-opens the issuer breaker', async () => {
    const clock = new ManualClock(0);
    const calls: { key: string; resolve(token: MintedToken): void; reject(error: unknown): void }[] = [];
    const pool = createCredentialPool({
      mint: (key) => new Promise<MintedToken>((resolve, reject) => calls.push({ key, resolve, reject })),
      clock,
      maxMintsInFlight: 1,
      maxKeys: 2,
      breakerThreshold: 1,
      breakerCooldownMs: 60_000,
    });
    for (const [index, [, value]] of hostileValues().entries()) {
      const call = outcome(pool.currentToken(`k${index}`));
      await flush();
      expect(calls).toHaveLength(2 * index + 1);
      calls.at(-1)!.reject(value);
      expect((await call).ok).toBe(false);
      // the hostile failure opened the issuer breaker (blamed on the issuer, the safer guess)
      const refused = await outcome(pool.currentToken('other'));
      expect(refused).toMatchObject({ ok: false, error: { code: 'BREAKER_OPEN', scope: 'issuer' } });
      clock.advance(60_000);
      // the permit came back: a probe for another key reaches the issuer
      const probe = outcome(pool.currentToken(`p${index}`));
      await flush();
      expect(calls).toHaveLength(2 * index + 2);
      calls.at(-1)!.resolve({ secret: `t${index}`, expiresAt: clock.now() + HOUR });
      expect((await probe).ok).toBe(true);
    }
    // the probe itself throws one: the issuer breaker re-opens, it is not left half-open for good
    const last = outcome(pool.currentToken('last'));
    await flush();
    calls.at(-1)!.reject(hostileValues()[0]![1]);
    expect((await last).ok).toBe(false);
    clock.advance(60_000);
    const probe = outcome(pool.currentToken('probe'));
    await flush();
    calls.at(-1)!.reject(hostileValues()[1]![1]);
    expect((await probe).ok).toBe(false);
    expect(await outcome(pool.currentToken('after'))).toMatchObject({ ok: false, error: { code: 'BREAKER_OPEN' } });
    // evicted down to maxKeys: no attempt leaked
    expect(pool.toJSON().keys).toBeLessThanOrEqual(2);
    await pool.stop();
  });
});
