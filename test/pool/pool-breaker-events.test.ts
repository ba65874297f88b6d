/**
 * The pool's issuer breaker as its users see it: every `issuer.breaker.changed` event of a whole
 * outage, exactly; `toJSON()` and the statechart's context (what the inspector shows) at each stage;
 * what a late failure does while the breaker is open; and a cooldown ended by the clock before its
 * timer fired. Written for the survivors of `npm run mutate:machines` in `machines/pool.machine.ts`.
 */
import { describe, expect, it } from 'vitest';
import { createCredentialPool, type CredentialError, type MintedToken, type PoolEmittedEvent } from '../../src/index.js';
import { OAuthError } from '../../src/oauth2/index.js';
import { ManualClock } from '../../src/testing/index.js';
import { flush, HOUR, outcome } from '../helpers.js';

const COOLDOWN = 10_000;

function startPool() {
  const clock = new ManualClock(0);
  const calls: { key: string; resolve(token: MintedToken): void; reject(error: unknown): void }[] = [];
  const mint = (key: string) => new Promise<MintedToken>((resolve, reject) => calls.push({ key, resolve, reject }));
  const pool = createCredentialPool({ mint, clock, breakerThreshold: 2, breakerCooldownMs: COOLDOWN, maxRetryAfterMs: 600_000 });
  const events: PoolEmittedEvent[] = [];
  pool.on('issuer.breaker.changed', (event) => events.push(event));
  return { clock, calls, pool, events };
}
const down = (retryAfterMs?: number) => new OAuthError('temporarily_unavailable', { status: 503, retryAfterMs });
/** Two keys' mints fail one after the other: at threshold 2, the issuer breaker opens. */
async function openByTwoFailures(pool: ReturnType<typeof startPool>['pool'], calls: ReturnType<typeof startPool>['calls']): Promise<void> {
  for (const key of ['a', 'b']) {
    const asked = outcome(pool.currentToken(key));
    await flush();
    calls.at(-1)!.reject(down());
    await asked;
    await flush();
  }
}
const codeOf = (result: { ok: boolean; error?: unknown }) => (result.ok ? 'ok' : (result.error as CredentialError).code);

describe('the pool’s issuer breaker, as its events, toJSON and context show it', () => {
  it('a whole outage: closed → open → halfOpen → open (Retry-After) → halfOpen → open (failures) → halfOpen → closed', async () => {
    const { clock, calls, pool, events } = startPool();
    const context = () => pool.actor.getSnapshot().context;
    expect(context().probing).toBe(false);
    // two failures open it
    await openByTwoFailures(pool, calls);
    expect(pool.toJSON().issuer).toEqual({ breaker: 'open', openUntil: COOLDOWN, openReason: 'failures', consecutiveFailures: 2 });
    // the cooldown ends: half-open, and nothing of the open breaker is left
    await clock.advanceAsync(COOLDOWN);
    expect(pool.toJSON().issuer).toEqual({ breaker: 'halfOpen', openUntil: null, openReason: null, consecutiveFailures: 2 });
    // the probe fails with a Retry-After: open again, for as long as the issuer asked
    let probe = outcome(pool.currentToken('c'));
    await flush();
    expect(context().probing).toBe(true);
    calls.at(-1)!.reject(down(30_000));
    await probe;
    await flush();
    expect(pool.toJSON().issuer).toEqual({ breaker: 'open', openUntil: COOLDOWN + 30_000, openReason: 'retry-after', consecutiveFailures: 3 });
    await clock.advanceAsync(30_000);
    // the next probe fails without one: open for a cooldown
    probe = outcome(pool.currentToken('c'));
    await flush();
    calls.at(-1)!.reject(down());
    await probe;
    await flush();
    expect(pool.toJSON().issuer).toEqual({ breaker: 'open', openUntil: COOLDOWN * 2 + 30_000, openReason: 'failures', consecutiveFailures: 4 });
    await clock.advanceAsync(COOLDOWN);
    // the next probe lands: closed, counts reset, no probe in flight any more
    probe = outcome(pool.currentToken('c'));
    await flush();
    calls.at(-1)!.resolve({ secret: 'c', expiresAt: clock.now() + HOUR });
    expect(codeOf(await probe)).toBe('ok');
    await flush();
    expect(pool.toJSON().issuer).toEqual({ breaker: 'closed', openUntil: null, openReason: null, consecutiveFailures: 0 });
    expect(context().probing).toBe(false);
    expect(events).toEqual([
      { type: 'issuer.breaker.changed', from: 'closed', to: 'open', openUntil: COOLDOWN, reason: 'failures', key: 'b' },
      { type: 'issuer.breaker.changed', from: 'open', to: 'halfOpen', key: null },
      { type: 'issuer.breaker.changed', from: 'halfOpen', to: 'open', openUntil: COOLDOWN + 30_000, reason: 'retry-after', key: 'c' },
      { type: 'issuer.breaker.changed', from: 'open', to: 'halfOpen', key: null },
      { type: 'issuer.breaker.changed', from: 'halfOpen', to: 'open', openUntil: COOLDOWN * 2 + 30_000, reason: 'failures', key: 'c' },
      { type: 'issuer.breaker.changed', from: 'open', to: 'halfOpen', key: null },
      { type: 'issuer.breaker.changed', from: 'halfOpen', to: 'closed', key: 'c' },
    ]);
    await pool.stop();
  });

  it('while open, a late failure of a mint already at the issuer neither extends the cooldown (no Retry-After) nor shortens it (a shorter one)', async () => {
    const { clock, calls, pool } = startPool();
    // three keys at the issuer at once; two failures open the breaker, the third is still out
    const asked = ['a', 'b', 'c'].map((key) => outcome(pool.currentToken(key)));
    await flush();
    calls[0]!.reject(down());
    calls[1]!.reject(down());
    await flush();
    expect(pool.toJSON().issuer).toMatchObject({ breaker: 'open', openUntil: COOLDOWN });
    clock.set(5_000);
    calls[2]!.reject(down()); // no Retry-After, 5 s later: would end at 15 s if it counted
    await Promise.all(asked);
    await flush();
    expect(pool.toJSON().issuer).toMatchObject({ breaker: 'open', openUntil: COOLDOWN, openReason: 'failures' });
    // another key's late answer with a Retry-After that ends before the cooldown does: the cooldown stands
    const d = outcome(pool.currentToken('d'));
    await flush();
    expect(codeOf(await d)).toBe('BREAKER_OPEN');
    expect(pool.toJSON().issuer).toMatchObject({ openUntil: COOLDOWN });
    await pool.stop();
  });

  it('a late Retry-After that ends no later than the cooldown changes nothing; a longer one extends it and says why', async () => {
    const { clock, calls, pool } = startPool();
    const asked = ['a', 'b', 'c', 'd'].map((key) => outcome(pool.currentToken(key)));
    await flush();
    calls[0]!.reject(down());
    calls[1]!.reject(down());
    await flush();
    expect(pool.toJSON().issuer).toEqual({ breaker: 'open', openUntil: COOLDOWN, openReason: 'failures', consecutiveFailures: 2 });
    // at the same instant, 2 s asked: honoured for at least a cooldown, it ends when the breaker's does
    calls[2]!.reject(down(2_000));
    await flush();
    expect(pool.toJSON().issuer).toEqual({ breaker: 'open', openUntil: COOLDOWN, openReason: 'failures', consecutiveFailures: 2 });
    clock.set(1_000);
    calls[3]!.reject(down(60_000)); // ends at 61 s: later, and it wins
    await Promise.all(asked);
    await flush();
    // sent before the breaker opened, it is older news than the failures that opened it: not counted
    expect(pool.toJSON().issuer).toEqual({ breaker: 'open', openUntil: 61_000, openReason: 'retry-after', consecutiveFailures: 2 });
    await pool.stop();
  });

  it('a cooldown ended by the clock before its timer fired (a blocked event loop) admits the probe', async () => {
    const { clock, calls, pool } = startPool();
    await openByTwoFailures(pool, calls);
    expect(pool.toJSON().issuer.breaker).toBe('open');
    clock.skip(COOLDOWN); // now() reads the cooldown's end; its timer has not fired
    expect(pool.toJSON().issuer.breaker).toBe('open');
    const probe = outcome(pool.currentToken('c'));
    await flush();
    expect(calls).toHaveLength(3); // admitted as the probe, not refused
    expect(pool.toJSON().issuer.breaker).toBe('halfOpen');
    calls[2]!.resolve({ secret: 'c', expiresAt: clock.now() + HOUR });
    expect(codeOf(await probe)).toBe('ok');
    await pool.stop();
  });
});
