/**
 * Resting keys: a pool's key with nothing happening and nothing due keeps only a small record (no
 * actor, no timer), is served from it, and wakes into an actor that resumes exactly where it was.
 * That a resting key behaves as one that never rests is the pool's random schedules' job
 * (`pool-random-schedules.test.ts`, a resting key against a provider on 200 schedules); here, what
 * rests, what wakes it, and what it keeps.
 */
import { describe, expect, it } from 'vitest';
import { createCredentialPool, type CredentialPoolOptions, type MintedToken } from '../../src/index.js';
import { ManualClock } from '../../src/testing/index.js';
import { flush, HOUR } from '../helpers.js';

function startPool(overrides: Partial<CredentialPoolOptions> = {}) {
  const clock = new ManualClock(0);
  const calls: { key: string; at: number; resolve(token: MintedToken): void; reject(error: unknown): void }[] = [];
  const pool = createCredentialPool({
    mint: (key) => new Promise<MintedToken>((resolve, reject) => calls.push({ key, at: clock.now(), resolve, reject })),
    clock,
    idleTimeoutMs: Infinity,
    ...overrides,
  });
  /** Answers every mint not yet answered with a token living `lifetimeMs`. */
  const answerAll = async (lifetimeMs = HOUR) => {
    for (const call of calls.splice(0)) call.resolve({ secret: `${call.key}@${call.at}`, expiresAt: clock.now() + lifetimeMs });
    await flush();
  };
  return { clock, calls, pool, answerAll };
}

describe('resting keys', () => {
  it('a key rests once its mint has landed: no actor, no timer, served from its record (the same promise)', async () => {
    const { clock, pool, answerAll } = startPool();
    const first = pool.currentToken('tenant-a');
    await flush();
    expect(pool.toJSON().resting).toBe(0); // minting: awake
    await answerAll();
    const token = await first;
    expect(pool.toJSON()).toMatchObject({ keys: 1, resting: 1 });
    expect(clock.pendingTimers).toBe(0);
    const served = pool.currentToken('tenant-a');
    expect(served).toBe(pool.currentToken('tenant-a'));
    expect(await served).toBe(token);
    expect(pool.toJSON().resting).toBe(1); // serving woke nothing
    await pool.stop();
  });

  it('a request with a live signal is served from the record without waking the key; an aborted one is refused, as by a provider', async () => {
    const { pool, answerAll } = startPool();
    const first = pool.currentToken('tenant-a');
    await flush();
    await answerAll();
    const token = await first;
    const served = pool.currentToken('tenant-a', { signal: new AbortController().signal });
    expect(pool.toJSON().resting).toBe(1); // read before any microtask: a waking would show here
    expect(await served).toBe(token);
    const controller = new AbortController();
    controller.abort(new Error('the caller left'));
    await expect(pool.currentToken('tenant-a', { signal: controller.signal })).rejects.toThrow('the caller left');
    expect(pool.toJSON().resting).toBe(1);
    await pool.stop();
  });

  it('a request past the refresh instant wakes the key: one background refresh, the cached token served meanwhile, then it rests again', async () => {
    const { clock, calls, pool, answerAll } = startPool({ refreshFloorMs: 0 });
    const first = pool.currentToken('tenant-a');
    await flush();
    await answerAll(10_000);
    const token = await first;
    clock.advance(8_000); // past 80% of its life
    expect(await pool.currentToken('tenant-a')).toBe(token);
    await flush();
    expect(pool.toJSON().resting).toBe(0);
    expect(calls).toHaveLength(1);
    await answerAll(10_000);
    expect((await pool.currentToken('tenant-a')).secret.reveal()).toBe('tenant-a@8000');
    expect(pool.toJSON().resting).toBe(1);
    await pool.stop();
  });

  it('proactive keys rest on one timer for the whole pool, which wakes each at its refresh instant to refresh', async () => {
    const { clock, calls, pool, answerAll } = startPool({ refresh: 'proactive', refreshFloorMs: 0 });
    const keys = Array.from({ length: 10 }, (_, index) => `tenant-${index}`);
    for (const [index, key] of keys.entries()) {
      void pool.currentToken(key);
      await flush();
      await answerAll(10_000 + 1_000 * index);
    }
    expect(pool.toJSON().resting).toBe(10);
    expect(clock.pendingTimers).toBe(1);
    // tenant-0 minted at 0 for 10 s: due at 8 s; tenant-1 at 0 for 11 s: due at 8.8 s
    await clock.advanceAsync(8_000);
    await flush();
    expect(calls.map((call) => [call.key, call.at])).toEqual([['tenant-0', 8_000]]);
    await answerAll(10_000);
    await clock.advanceAsync(800);
    await flush();
    expect(calls.map((call) => [call.key, call.at])).toEqual([['tenant-1', 8_800]]);
    await answerAll(10_000);
    expect(pool.toJSON().resting).toBe(10);
    expect(clock.pendingTimers).toBe(1);
    await pool.stop();
    expect(clock.pendingTimers).toBe(0);
  });

  it('a key woken by an invalidation keeps its rate limit: a second refusal within invalidateMinIntervalMs is ignored, as for a key that never rested', async () => {
    const { clock, calls, pool, answerAll } = startPool({ invalidateMinIntervalMs: 10_000 });
    const first = pool.currentToken('tenant-a');
    await flush();
    await answerAll();
    expect(pool.invalidate('tenant-a', await first)).toBe(true);
    const second = pool.currentToken('tenant-a');
    await flush();
    expect(calls).toHaveLength(1);
    await answerAll();
    const replacement = await second;
    expect(pool.toJSON().resting).toBe(1);
    clock.advance(5_000);
    expect(pool.invalidate('tenant-a', replacement)).toBe(false);
    expect(await pool.currentToken('tenant-a')).toBe(replacement);
    clock.advance(5_000);
    expect(pool.invalidate('tenant-a', replacement)).toBe(true);
    await pool.stop();
  });

  it('a key with a failure, an open breaker or callers waiting stays awake', async () => {
    const { calls, pool } = startPool({ breakerThreshold: 1 });
    const waiting = pool.currentToken('tenant-a').catch((error: unknown) => error);
    await flush();
    expect(pool.toJSON().resting).toBe(0);
    calls.splice(0)[0]!.reject(Object.assign(new Error('invalid_client'), { status: 401 }));
    await waiting;
    await flush();
    expect(pool.toJSON().resting).toBe(0); // its own breaker is open
    await pool.stop();
  });

  it('a reporters factory is asked once per key, however often the key wakes', async () => {
    const asked: string[] = [];
    const { clock, pool, answerAll } = startPool({
      refreshFloorMs: 0,
      reporters: (key) => {
        asked.push(key);
        return {};
      },
    });
    void pool.currentToken('tenant-a');
    await flush();
    await answerAll(10_000);
    for (let round = 0; round < 3; round++) {
      clock.advance(8_000);
      void pool.currentToken('tenant-a');
      await flush();
      await answerAll(10_000);
      expect(pool.toJSON().resting).toBe(1);
    }
    expect(asked).toEqual(['tenant-a']);
    await pool.stop();
  });
});
