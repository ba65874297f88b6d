import { describe, expect, it } from 'vitest';
import { createCredentialPool, createCredentialProvider, Secret } from '../../src/index.js';
import { ManualClock } from '../../src/testing/index.js';
import { flush, HOUR, outcome, secretOf, startProvider, stateOf } from '../helpers.js';

describe('invalidate()', () => {
  it('marks the refused token unusable so the next call mints, single-flight', async () => {
    const { clock, script, provider } = await startProvider();
    clock.advance(0.1 * HOUR);
    const refused = await provider.currentToken();
    expect(provider.invalidate(refused)).toBe(true);
    expect(stateOf(provider).validity).toBe('expired');
    const callers = Array.from({ length: 100 }, () => provider.currentToken());
    expect(script.count).toBe(2);
    script.last.resolve({ secret: 'replacement', expiresAt: 2 * HOUR });
    const tokens = await Promise.all(callers);
    expect(tokens.every((token) => secretOf(token) === 'replacement')).toBe(true);
    expect(stateOf(provider).validity).toBe('fresh');
    await provider.stop();
  });

  it('of an expired token does nothing: false, and the window stays for the next token (issue 26)', async () => {
    const { clock, script, provider } = await startProvider({ invalidateMinIntervalMs: 30_000 });
    const first = await provider.currentToken();
    clock.advance(HOUR); // it expired, unused
    expect(provider.invalidate(first)).toBe(false);
    expect(provider.invalidate()).toBe(false);
    const next = provider.currentToken();
    script.last.resolve({ secret: 'next', expiresAt: 2 * HOUR });
    const token = await next;
    // the next token, refused upstream at once, can be invalidated: before, the window was spent
    expect(provider.invalidate(token)).toBe(true);
    const replacement = provider.currentToken();
    expect(script.count).toBe(3);
    script.last.resolve({ secret: 'replacement', expiresAt: 3 * HOUR });
    expect(secretOf(await replacement)).toBe('replacement');
    await provider.stop();
  });

  it('of a pool key’s expired token does nothing either', async () => {
    const clock = new ManualClock(0);
    let minted = 0;
    const pool = createCredentialPool({ mint: async () => ({ secret: `t${++minted}`, expiresAt: clock.now() + 60_000 }), clock, invalidateMinIntervalMs: 30_000 });
    const first = await pool.currentToken('k');
    clock.advance(60_000);
    expect(pool.invalidate('k', first)).toBe(false);
    const second = await pool.currentToken('k');
    expect(secretOf(second)).toBe('t2');
    expect(pool.invalidate('k', second)).toBe(true);
    expect(secretOf(await pool.currentToken('k'))).toBe('t3');
    await pool.stop();
  });

  it('ignores a refused token that is no longer the cached one', async () => {
    const { clock, script, provider } = await startProvider({ invalidateMinIntervalMs: 0 });
    const old = await provider.currentToken();
    clock.advance(0.9 * HOUR);
    await provider.currentToken();
    script.last.resolve({ secret: 'newer', expiresAt: 2 * HOUR });
    await flush();
    expect(provider.invalidate(old)).toBe(false);
    expect(provider.invalidate(old.secret)).toBe(false);
    expect(provider.invalidate(old.secret.reveal())).toBe(false);
    expect(stateOf(provider).validity).toBe('fresh');
    expect(provider.invalidate(new Secret('newer'))).toBe(true);
    await provider.stop();
  });

  it('coalesces concurrent invalidations of one token', async () => {
    const { script, provider } = await startProvider({ invalidateMinIntervalMs: 0 });
    const token = await provider.currentToken();
    const results = Array.from({ length: 10 }, () => provider.invalidate(token));
    expect(results.filter(Boolean)).toHaveLength(1);
    const next = provider.currentToken();
    script.last.resolve({ secret: 'one-mint', expiresAt: 2 * HOUR });
    await next;
    expect(script.count).toBe(2);
    await provider.stop();
  });

  it('is rate-limited: invalidations closer than invalidateMinIntervalMs are ignored', async () => {
    const { clock, script, provider } = await startProvider({ invalidateMinIntervalMs: 5_000 });
    expect(provider.invalidate()).toBe(true);
    const next = provider.currentToken();
    script.last.resolve({ secret: 'second', expiresAt: 2 * HOUR });
    await next;
    clock.advance(4_999);
    expect(provider.invalidate()).toBe(false);
    expect(secretOf(await provider.currentToken())).toBe('second');
    clock.advance(1);
    expect(provider.invalidate()).toBe(true);
    await provider.stop();
  });

  it('is breaker-gated: with the breaker open the refused token is not served and no mint starts', async () => {
    const { clock, script, provider } = await startProvider({ breakerThreshold: 1, invalidateMinIntervalMs: 0 });
    clock.advance(0.9 * HOUR);
    await provider.currentToken();
    script.last.reject(new Error('down'));
    await flush();
    expect(stateOf(provider).breaker).toBe('open');
    provider.invalidate();
    const denied = await outcome(provider.currentToken());
    expect(denied.ok).toBe(false);
    expect(script.count).toBe(2);
    await provider.stop();
  });
});

describe('currentToken({ rejected }): the token the upstream refused, and a newer one back (issue 26)', () => {
  it('100 concurrent requests refused with the same token: all 100 retry with one new token, from one mint', async () => {
    const { script, provider } = await startProvider();
    const token = await provider.currentToken();
    // every request was refused with `token`; each asks for a newer one
    const retries = Array.from({ length: 100 }, () => provider.currentToken({ rejected: token }));
    expect(script.count).toBe(2);
    script.last.resolve({ secret: 'newer', expiresAt: 2 * HOUR });
    const newer = await Promise.all(retries);
    expect(newer.every((t) => secretOf(t) === 'newer')).toBe(true);
    // a straggler refused with the old token gets the newer one at once: no mint
    expect(secretOf(await provider.currentToken({ rejected: token }))).toBe('newer');
    expect(script.count).toBe(2);
    await provider.stop();
  });

  it('the newest token refused again within invalidateMinIntervalMs: TOKEN_REFUSED, and no mint', async () => {
    const { clock, script, provider } = await startProvider({ invalidateMinIntervalMs: 30_000 });
    const first = await provider.currentToken();
    const second = provider.currentToken({ rejected: first });
    script.last.resolve({ secret: 'second', expiresAt: 2 * HOUR });
    const token = await second;
    clock.advance(1_000);
    const refused = await outcome(provider.currentToken({ rejected: token }));
    expect(refused).toMatchObject({ ok: false, error: { code: 'TOKEN_REFUSED' } });
    expect(script.count).toBe(2);
    clock.advance(30_000); // the window passed: it is replaced
    const third = provider.currentToken({ rejected: token });
    expect(script.count).toBe(3);
    script.last.resolve({ secret: 'third', expiresAt: 3 * HOUR });
    expect(secretOf(await third)).toBe('third');
    await provider.stop();
  });

  it('passes the claims challenge to the one mint; a bad claims value is INVALID_ARGUMENT', async () => {
    const clock = new ManualClock(0);
    const seen: (string | undefined)[] = [];
    const provider = await createCredentialProvider({
      mint: async ({ claims }) => {
        seen.push(claims);
        return { secret: `t${seen.length}`, expiresAt: HOUR };
      },
      clock,
    });
    const token = await provider.currentToken();
    expect(await outcome(provider.currentToken({ rejected: token, claims: '' }))).toMatchObject({ ok: false, error: { code: 'INVALID_ARGUMENT' } });
    await Promise.all([provider.currentToken({ rejected: token, claims: '{"access_token":{}}' }), provider.currentToken({ rejected: token.secret })]);
    expect(seen).toEqual([undefined, '{"access_token":{}}']);
    await provider.stop();
  });

  it('a pool key does the same', async () => {
    let minted = 0;
    const pool = createCredentialPool({ mint: async () => ({ secret: `t${++minted}`, expiresAt: HOUR }), clock: new ManualClock(0) });
    const token = await pool.currentToken('k');
    const newer = await Promise.all(Array.from({ length: 10 }, () => pool.currentToken('k', { rejected: token })));
    expect(new Set(newer.map(secretOf))).toEqual(new Set(['t2']));
    expect(minted).toBe(2);
    await pool.stop();
  });
});
