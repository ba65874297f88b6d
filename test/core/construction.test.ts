import { describe, expect, it } from 'vitest';
import { createCredentialProvider, CredentialError, refreshDueAt } from '../../src/index.js';
import { ManualClock } from '../../src/testing/index.js';
import { flush, HOUR, outcome, scriptedMint } from '../helpers.js';

describe('construction mints once, eagerly', () => {
  it('resolves only once the first token is cached', async () => {
    const clock = new ManualClock(1_000);
    const script = scriptedMint();
    let resolved = false;
    const pending = createCredentialProvider({ mint: script.mint, clock }).then((provider) => {
      resolved = true;
      return provider;
    });
    await flush();
    expect(script.count).toBe(1);
    expect(resolved).toBe(false);
    clock.advance(500); // the mint takes 500 ms
    script.last.resolve({ secret: 'first', expiresAt: 1_000 + HOUR });
    const provider = await pending;
    expect((await provider.currentToken()).secret.reveal()).toBe('first');
    // the first token comes through the statechart like every other: issued when it landed
    expect(provider.actor.getSnapshot().context.refreshDueAt).toBe(refreshDueAt({ refreshAt: 0.8, refreshFloorMs: 30_000 }, 1_500, 1_000 + HOUR));
    expect(script.count).toBe(1);
    await provider.stop();
  });

  it('rejects with the mint’s own error and leaves nothing running', async () => {
    const clock = new ManualClock(0);
    const original = new Error('issuer said no');
    const pending = createCredentialProvider({ mint: () => Promise.reject(original), clock });
    const result = await outcome(pending);
    expect(result).toEqual({ ok: false, error: original });
    expect(clock.pendingTimers).toBe(0);
  });

  it('rejects with a non-Error value thrown synchronously by the mint', async () => {
    const clock = new ManualClock(0);
    const result = await outcome(
      createCredentialProvider({
        mint: () => {
          throw 'plain string failure';
        },
        clock,
      }),
    );
    expect(result).toEqual({ ok: false, error: 'plain string failure' });
    expect(clock.pendingTimers).toBe(0);
  });

  it('times out a construction mint, aborting its signal', async () => {
    const clock = new ManualClock(0);
    const script = scriptedMint();
    const pending = outcome(createCredentialProvider({ mint: script.mint, clock, mintTimeoutMs: 5_000 }));
    await flush();
    clock.advance(5_000);
    const result = await pending;
    expect(result.ok).toBe(false);
    expect((result as { error: CredentialError }).error.code).toBe('MINT_TIMEOUT');
    expect(script.last.signal.aborted).toBe(true);
    expect(clock.pendingTimers).toBe(0);
  });

  it.each([
    ['an already expired token', { secret: 'x', expiresAt: 0 }, 'MINTED_TOKEN_ALREADY_EXPIRED'],
    ['an empty secret', { secret: '', expiresAt: HOUR }, 'INVALID_TOKEN'],
    ['a NaN expiry', { secret: 'x', expiresAt: Number.NaN }, 'INVALID_TOKEN'],
  ])('rejects %s', async (_name, minted, code) => {
    const clock = new ManualClock(0);
    const result = await outcome(createCredentialProvider({ mint: async () => minted, clock }));
    expect(result.ok).toBe(false);
    expect((result as { error: CredentialError }).error.code).toBe(code);
    expect(clock.pendingTimers).toBe(0);
  });

  it('is the statechart’s first attempt, and reports nothing: reporters observe refreshes, as the original’s do (issue 26)', async () => {
    const reports: string[] = [];
    const clock = new ManualClock(0);
    const provider = await createCredentialProvider({
      mint: async () => ({ secret: 'x', expiresAt: clock.now() + HOUR }),
      clock,
      breakerThreshold: 1,
      reporters: {
        refresh: { onRefreshSucceeded: () => reports.push('ok'), onRefreshFailed: () => reports.push('fail') },
        breaker: { onBreakerStateChanged: () => reports.push('breaker') },
      },
    });
    await flush();
    expect(reports).toEqual([]);
    expect(provider.actor.getSnapshot().context.attempt).toBe(1);
    // the next mint, a refresh, is reported
    clock.advance(HOUR);
    await provider.currentToken();
    await flush();
    expect(reports).toEqual(['ok']);
    await provider.stop();
  });

  it('a failed first mint fails construction, reports nothing, and leaves nothing running', async () => {
    const reports: string[] = [];
    const clock = new ManualClock(0);
    const result = await outcome(
      createCredentialProvider({
        mint: async () => Promise.reject(new Error('down')),
        clock,
        reporters: { refresh: { onRefreshSucceeded: () => reports.push('ok'), onRefreshFailed: () => reports.push('fail') } },
      }),
    );
    expect(result).toMatchObject({ ok: false, error: { message: 'down' } });
    expect(reports).toEqual([]);
    expect(clock.pendingTimers).toBe(0);
  });
});
