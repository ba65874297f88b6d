import { describe, expect, it } from 'vitest';
import { CredentialError } from '../../src/index.js';
import { flush, HOUR, outcome, secretOf, SECRET, startProvider } from '../helpers.js';

describe('a bad minted token is never cached', () => {
  it.each([
    ['an empty secret', { secret: '', expiresAt: 2 * HOUR }],
    ['a numeric secret', { secret: 42, expiresAt: 2 * HOUR }],
    ['a missing secret', { expiresAt: 2 * HOUR }],
    ['a NaN expiry', { secret: 'x', expiresAt: Number.NaN }],
    ['a string expiry', { secret: 'x', expiresAt: '2030-01-01' }],
    ['an invalid Date', { secret: 'x', expiresAt: new Date('nope') }],
    ['an undefined expiry', { secret: 'x' }],
    ['no object at all', undefined],
  ])('rejects %s with INVALID_TOKEN and keeps the cached token', async (_name, minted) => {
    const { clock, script, provider } = await startProvider();
    clock.advance(HOUR);
    const waiting = outcome(provider.currentToken());
    script.last.resolve(minted as never);
    const result = await waiting;
    expect(result.ok).toBe(false);
    const error = (result as { error: CredentialError }).error;
    expect(error).toBeInstanceOf(CredentialError);
    expect(error.code).toBe('INVALID_TOKEN');
    expect(secretOf(provider.actor.getSnapshot().context.token)).toBe(`${SECRET}-1`);
    expect(provider.actor.getSnapshot().context.consecutiveFailures).toBe(1);
    await provider.stop();
  });

  it('accepts a Date expiry and a Secret', async () => {
    const { clock, script, provider } = await startProvider();
    clock.advance(HOUR);
    const waiting = provider.currentToken();
    script.last.resolve({ secret: 'as-date', expiresAt: new Date(3 * HOUR) });
    expect((await waiting).expiresAt).toBe(3 * HOUR);
    await provider.stop();
  });

  it('handles a mint that throws a non-Error value', async () => {
    const { clock, script, provider } = await startProvider();
    clock.advance(HOUR);
    const waiting = outcome(provider.currentToken());
    script.last.reject(undefined);
    expect(await waiting).toEqual({ ok: false, error: undefined });
    expect(provider.actor.getSnapshot().context.consecutiveFailures).toBe(1);
    await provider.stop();
  });

  it('clamps a jitter sample outside [0, 1) and survives a throwing jitter source', async () => {
    const samples = [5, -3, Number.NaN];
    let call = 0;
    const { clock, script, provider } = await startProvider({
      jitter: () => {
        if (call === samples.length) throw new Error('jitter bug');
        return samples[call++]!;
      },
    });
    // construction sampled 5: clamped to 1, so the refresh is due at issue
    expect(provider.actor.getSnapshot().context.refreshDueAt).toBe(0);
    for (const expectedDue of [HOUR + 0.8 * HOUR, 2 * HOUR + 0.8 * HOUR, 3 * HOUR + 0.8 * HOUR]) {
      clock.set(expectedDue - 0.8 * HOUR);
      const pending = provider.currentToken();
      script.last.resolve({ secret: `t${expectedDue}`, expiresAt: clock.now() + HOUR });
      await pending;
      await flush();
      expect(provider.actor.getSnapshot().context.refreshDueAt).toBe(expectedDue);
    }
    await provider.stop();
  });

  it('counts a jitter sample that is no number (a numeric string, say) as no jitter', async () => {
    const { provider } = await startProvider({ jitter: (() => '0.5') as unknown as () => number });
    // 0.5 would pull the refresh to 30% of the hour; as no jitter it stays at 80%
    expect(provider.actor.getSnapshot().context.refreshDueAt).toBe(0.8 * HOUR);
    await provider.stop();
  });
});
