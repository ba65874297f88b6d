import { describe, expect, it } from 'vitest';
import { createCredentialPool, CredentialError, type CredentialPoolOptions, type MintedToken, type PoolEmittedEvent } from '../../src/index.js';
import { OAuthError } from '../../src/oauth2/index.js';
import { ManualClock } from '../../src/testing/index.js';
import { flush, HOUR, outcome } from '../helpers.js';

/** A key mint the test settles by hand, call by call, recording each call's key and signal. */
function scriptedKeyMint() {
  const calls: { key: string; signal: AbortSignal; resolve(token: MintedToken): void; reject(error: unknown): void }[] = [];
  const mint = (key: string, { signal }: { signal: AbortSignal }) => new Promise<MintedToken>((resolve, reject) => calls.push({ key, signal, resolve, reject }));
  return { mint, calls, pending: () => calls.filter((call) => !call.signal.aborted) };
}

function startPool(overrides: Partial<CredentialPoolOptions> = {}) {
  const clock = new ManualClock(0);
  const script = scriptedKeyMint();
  const pool = createCredentialPool({ mint: script.mint, clock, ...overrides });
  return { clock, script, pool };
}

const issuerDown = () => new OAuthError('temporarily_unavailable', { status: 503 });
const codeOf = (result: { ok: boolean; error?: unknown }) => (result.ok ? 'ok' : (result.error as CredentialError).code);

describe('a pool of credentials', () => {
  it('mints a key lazily on its first request, once for 10,000 concurrent first callers', async () => {
    const { script, pool } = startPool();
    expect(script.calls).toHaveLength(0);
    const callers = Array.from({ length: 10_000 }, () => pool.currentToken('tenant-a'));
    await flush();
    expect(script.calls).toHaveLength(1);
    expect(script.calls[0]!.key).toBe('tenant-a');
    script.calls[0]!.resolve({ secret: 'a-1', expiresAt: HOUR });
    const tokens = await Promise.all(callers);
    expect(new Set(tokens).size).toBe(1);
    expect(tokens[0]!.secret.reveal()).toBe('a-1');
    await pool.stop();
  });

  it('mints 1,000 keys asked at once once each, at most maxMintsInFlight at a time, the rest in arrival order', async () => {
    const { script, pool } = startPool({ maxMintsInFlight: 10 });
    const keys = Array.from({ length: 1_000 }, (_, index) => `tenant-${index}`);
    const callers = keys.map((key) => pool.currentToken(key));
    await flush();
    expect(script.calls).toHaveLength(10);
    expect(pool.toJSON()).toMatchObject({ mintsInFlight: 10, mintsQueued: 990 });
    expect(pool.actor.getSnapshot().value.mints).toBe('atCap');
    for (let settled = 0; settled < 1_000; settled++) {
      const call = script.calls[settled]!;
      call.resolve({ secret: `${call.key}-token`, expiresAt: HOUR });
      await flush();
    }
    expect(script.calls.map((call) => call.key)).toEqual(keys);
    const tokens = await Promise.all(callers);
    expect(tokens.map((token) => token.secret.reveal())).toEqual(keys.map((key) => `${key}-token`));
    expect(pool.actor.getSnapshot().value.mints).toBe('belowCap');
    await pool.stop();
  });

  it('refuses a bad key with INVALID_KEY at the call', async () => {
    const { script, pool } = startPool();
    for (const key of ['', 42, null, undefined, {}]) {
      const result = await outcome(pool.currentToken(key as never));
      expect(codeOf(result)).toBe('INVALID_KEY');
    }
    expect(script.calls).toHaveLength(0);
    expect(pool.size).toBe(0);
    await pool.stop();
  });

  it('a failed first mint rejects its waiters with the mint’s error, caches nothing, and counts against that key alone', async () => {
    const { script, pool } = startPool({ breakerThreshold: 2 });
    const refused = new OAuthError('invalid_client', { status: 401 });
    const first = outcome(pool.currentToken('broken-tenant'));
    await flush();
    script.calls[0]!.reject(refused);
    expect(await first).toEqual({ ok: false, error: refused });
    const second = outcome(pool.currentToken('broken-tenant'));
    await flush();
    script.calls[1]!.reject(refused);
    await second;
    await flush();
    // the broken tenant's breaker is open: its requests no longer reach the issuer...
    expect(codeOf(await outcome(pool.currentToken('broken-tenant')))).toBe('BREAKER_OPEN');
    expect(script.calls).toHaveLength(2);
    // ...and the issuer breaker never opened: other tenants mint as usual
    expect(pool.toJSON().issuer).toMatchObject({ breaker: 'closed', consecutiveFailures: 0 });
    const other = pool.currentToken('healthy-tenant');
    await flush();
    script.calls[2]!.resolve({ secret: 'h', expiresAt: HOUR });
    expect((await other).secret.reveal()).toBe('h');
    await pool.stop();
  });
});

describe('one issuer breaker for the pool', () => {
  it('an outage across 1,000 keys costs the issuer breakerThreshold attempts, then one probe per cooldown', async () => {
    const COOLDOWN = 60_000;
    const { clock, script, pool } = startPool({ breakerThreshold: 3, breakerCooldownMs: COOLDOWN, maxMintsInFlight: 1_000 });
    const keys = Array.from({ length: 1_000 }, (_, index) => `tenant-${index}`);
    const firstWave = keys.map((key) => outcome(pool.currentToken(key)));
    await flush();
    expect(script.calls).toHaveLength(1_000); // all were in flight before any failed
    // the issuer fails them all: the breaker opens at the third
    for (const call of script.calls) call.reject(issuerDown());
    await Promise.all(firstWave);
    await flush();
    expect(pool.toJSON().issuer.breaker).toBe('open');
    const before = script.calls.length;
    // five cooldowns of traffic on every key: one probe per cooldown reaches the issuer
    for (let cooldown = 0; cooldown < 5; cooldown++) {
      clock.advance(COOLDOWN);
      const wave = keys.map((key) => outcome(pool.currentToken(key)));
      await flush();
      const probes = script.calls.slice(before + cooldown);
      expect(probes).toHaveLength(1);
      probes[0]!.reject(issuerDown());
      const results = await Promise.all(wave);
      expect(results.filter((result) => !result.ok && codeOf(result) === 'BREAKER_OPEN').length).toBe(999);
      await flush();
    }
    expect(script.calls.length - before).toBe(5);
    // the issuer is back: the next probe succeeds and the breaker closes
    clock.advance(COOLDOWN);
    const probe = pool.currentToken('tenant-7');
    await flush();
    script.calls.at(-1)!.resolve({ secret: 'back', expiresAt: clock.now() + HOUR });
    await probe;
    await flush();
    expect(pool.toJSON().issuer.breaker).toBe('closed');
    await pool.stop();
  });

  it('an earlier probe abandoned late does not free the current probe’s place: still one probe at a time', async () => {
    const { clock, script, pool } = startPool({ breakerThreshold: 1, breakerCooldownMs: 1_000, maxMintsInFlight: 4 });
    const early = outcome(pool.currentToken('early')); // in flight from before the outage
    const first = outcome(pool.currentToken('a'));
    await flush();
    script.calls[1]!.reject(issuerDown()); // the issuer breaker opens
    await flush();
    clock.advance(1_000); // half-open
    const staleProbe = new AbortController();
    const probeA = outcome(pool.currentToken('b', { signal: staleProbe.signal }));
    await flush();
    script.calls[0]!.reject(issuerDown()); // the early mint fails: open again, with b's probe still in flight
    await flush();
    expect(pool.toJSON().issuer.breaker).toBe('open');
    clock.advance(1_000); // half-open again
    const probeB = outcome(pool.currentToken('c'));
    await flush();
    expect(script.calls.map((call) => call.key)).toEqual(['early', 'a', 'b', 'c']);
    staleProbe.abort(new Error('b gave up'));
    await flush();
    const refused = await outcome(pool.currentToken('d')); // c is the probe: d must wait its turn
    expect(codeOf(refused)).toBe('BREAKER_OPEN');
    expect(script.calls.map((call) => call.key)).not.toContain('d');
    await pool.stop();
    expect((await Promise.all([early, first, probeA, probeB])).map(codeOf)).toEqual(['OAUTH_ERROR', 'OAUTH_ERROR', undefined, 'STOPPED']);
  });

  it('a key-only failure never opens the issuer breaker, and resets its count (the issuer answered)', async () => {
    const { script, pool } = startPool({ breakerThreshold: 2 });
    const a = outcome(pool.currentToken('a'));
    await flush();
    script.calls[0]!.reject(issuerDown());
    await a;
    await flush();
    expect(pool.toJSON().issuer.consecutiveFailures).toBe(1);
    for (let index = 0; index < 5; index++) {
      const key = outcome(pool.currentToken(`bad-${index}`));
      await flush();
      script.calls.at(-1)!.reject(new OAuthError('invalid_scope', { status: 400 }));
      await key;
      await flush();
    }
    expect(pool.toJSON().issuer).toMatchObject({ breaker: 'closed', consecutiveFailures: 0 });
    await pool.stop();
  });

  it.each([
    ['seconds', 120_000],
    ['an HTTP date', 90_000],
  ])('a Retry-After (as %s) opens the issuer breaker at once, until then, and the event says why', async (_form, retryAfterMs) => {
    const { clock, script, pool } = startPool({ breakerThreshold: 5, breakerCooldownMs: 60_000 });
    const changes: PoolEmittedEvent[] = [];
    pool.on('issuer.breaker.changed', (event) => changes.push(event));
    const first = outcome(pool.currentToken('a'));
    await flush();
    script.calls[0]!.reject(new OAuthError('rate_limited', { status: 429, retryAfterMs }));
    await first;
    await flush();
    expect(changes).toEqual([{ type: 'issuer.breaker.changed', from: 'closed', to: 'open', openUntil: retryAfterMs, reason: 'retry-after', key: 'a' }]);
    clock.set(retryAfterMs - 1);
    expect(codeOf(await outcome(pool.currentToken('b')))).toBe('BREAKER_OPEN');
    expect(script.calls).toHaveLength(1);
    clock.set(retryAfterMs);
    const probe = pool.currentToken('b');
    await flush();
    expect(script.calls).toHaveLength(2);
    script.calls[1]!.resolve({ secret: 'b', expiresAt: clock.now() + HOUR });
    await probe;
    await pool.stop();
  });
});

describe('keys come and go', () => {
  async function mintKey(pool: ReturnType<typeof startPool>['pool'], script: ReturnType<typeof scriptedKeyMint>, key: string) {
    const token = pool.currentToken(key);
    await flush();
    script.calls.at(-1)!.resolve({ secret: `${key}-token`, expiresAt: 10 * HOUR });
    return token;
  }

  it('evicts the least recently used idle key past maxKeys, and never one with a mint in flight', async () => {
    const { script, pool } = startPool({ maxKeys: 3 });
    const removed: string[] = [];
    pool.on('key.removed', ({ key, reason }) => removed.push(`${key}:${reason}`));
    await mintKey(pool, script, 'a');
    await mintKey(pool, script, 'b');
    const waitingOnC = pool.currentToken('c'); // c's mint stays in flight
    await flush();
    await pool.currentToken('a'); // a used again: b is now the least recently used idle key
    await mintKey(pool, script, 'd');
    await flush();
    expect([...pool.keys()].sort()).toEqual(['a', 'c', 'd']);
    expect(removed).toEqual(['b:evicted']);
    await mintKey(pool, script, 'e'); // c is busy, so a or d goes
    await flush();
    expect(pool.keys()).toContain('c');
    script.calls.find((call) => call.key === 'c')!.resolve({ secret: 'c-token', expiresAt: HOUR });
    expect((await waitingOnC).secret.reveal()).toBe('c-token');
    await pool.stop();
  });

  it('idleTimeoutMs stops a key nobody asked for, clearing its timers', async () => {
    const IDLE = 60_000;
    const { clock, script, pool } = startPool({ idleTimeoutMs: IDLE });
    const removed: string[] = [];
    pool.on('key.removed', ({ key, reason }) => removed.push(`${key}:${reason}`));
    await mintKey(pool, script, 'quiet');
    await mintKey(pool, script, 'busy');
    for (let elapsed = 0; elapsed < 1.5 * IDLE; elapsed += IDLE / 8) {
      clock.advance(IDLE / 8);
      await pool.currentToken('busy');
    }
    await flush();
    expect([...pool.keys()]).toEqual(['busy']);
    expect(removed).toEqual(['quiet:idle']);
    await pool.stop();
    expect(clock.pendingTimers).toBe(0);
  });

  it('delete during a mint rejects that key’s waiters with STOPPED and aborts its mint, leaving other keys alone', async () => {
    const { script, pool } = startPool();
    const other = await mintKey(pool, script, 'other');
    const waiting = outcome(pool.currentToken('leaving'));
    await flush();
    const call = script.calls.at(-1)!;
    expect(pool.delete('leaving')).toBe(true);
    expect(codeOf(await waiting)).toBe('STOPPED');
    expect(call.signal.aborted).toBe(true);
    expect(await pool.currentToken('other')).toBe(other);
    expect(pool.delete('leaving')).toBe(false);
    await pool.stop();
  });

  it('stop() rejects every waiter with STOPPED, aborts every mint and leaves no timer', async () => {
    const { clock, script, pool } = startPool();
    const waiting = [outcome(pool.currentToken('a')), outcome(pool.currentToken('b'))];
    await flush();
    await pool.stop();
    expect((await Promise.all(waiting)).map(codeOf)).toEqual(['STOPPED', 'STOPPED']);
    expect(script.calls.every((call) => call.signal.aborted)).toBe(true);
    expect(codeOf(await outcome(pool.currentToken('c')))).toBe('STOPPED');
    expect(pool.toJSON().status).toBe('stopped');
    expect(clock.pendingTimers).toBe(0);
  });

  it('every key event carries its key; the summary and util.inspect hold no secret', async () => {
    const { script, pool } = startPool();
    const events: PoolEmittedEvent[] = [];
    pool.on('refresh.succeeded', (event) => events.push(event));
    await mintKey(pool, script, 'tenant-x');
    await flush();
    expect(events).toEqual([{ type: 'refresh.succeeded', remainingSeconds: 36_000, key: 'tenant-x' }]);
    expect(JSON.stringify(pool)).not.toContain('tenant-x-token');
    expect(pool.toJSON()).toMatchObject({ keys: 1, issuer: { breaker: 'closed' }, status: 'running' });
    await pool.stop();
  });
});

describe('bad pool options fail at construction', () => {
  it.each([
    [{ maxKeys: 0 }, /^maxKeys /],
    [{ idleTimeoutMs: -1 }, /^idleTimeoutMs /],
    [{ maxMintsInFlight: 1.5 }, /^maxMintsInFlight /],
    [{ classifyFailure: 'issuer' }, /^classifyFailure /],
    [{ maxKey: 10 }, /unknown option maxKey; did you mean maxKeys\?/],
  ])('%o', (options, message) => {
    expect(() => createCredentialPool({ mint: async () => ({ secret: 'x', expiresAt: null }), ...(options as object) })).toThrow(message);
  });
});

describe('pool telemetry and the permit queue', () => {
  it('reporters: one set shared by every key, or a function giving each key its own', async () => {
    const shared: (number | null)[] = [];
    const perKey: string[] = [];
    const { script, pool } = startPool({ reporters: { refresh: { onRefreshSucceeded: (seconds) => void shared.push(seconds) } } });
    const keyed = startPool({ reporters: (key) => ({ refresh: { onRefreshSucceeded: () => void perKey.push(key) } }) });
    for (const [target, source] of [
      [pool, script],
      [keyed.pool, keyed.script],
    ] as const) {
      const a = target.currentToken('a');
      const b = target.currentToken('b');
      await flush();
      for (const call of source.calls) call.resolve({ secret: 's', expiresAt: HOUR });
      await Promise.all([a, b]);
    }
    await flush();
    expect(shared).toEqual([3_600, 3_600]);
    expect(perKey.sort()).toEqual(['a', 'b']);
    await pool.stop();
    await keyed.pool.stop();
  });

  it('a queued mint whose callers give up leaves the queue; the next in line gets the permit', async () => {
    const { script, pool } = startPool({ maxMintsInFlight: 1 });
    const first = pool.currentToken('first');
    const leaving = new AbortController();
    const gaveUp = outcome(pool.currentToken('queued', { signal: leaving.signal }));
    const third = pool.currentToken('third');
    await flush();
    expect(pool.toJSON()).toMatchObject({ mintsInFlight: 1, mintsQueued: 2 });
    leaving.abort('gave up');
    expect(await gaveUp).toEqual({ ok: false, error: 'gave up' });
    await flush();
    expect(pool.toJSON().mintsQueued).toBe(1);
    script.calls[0]!.resolve({ secret: 'f', expiresAt: HOUR });
    await first;
    await flush();
    expect(script.calls.map((call) => call.key)).toEqual(['first', 'third']);
    script.calls[1]!.resolve({ secret: 't', expiresAt: HOUR });
    await third;
    await pool.stop();
  });
});
