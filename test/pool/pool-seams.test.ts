/**
 * The pool defects found where it met the provider's mint path (issue 17), one regression test each.
 * Each failed on the code before the one mint path; the comment names what it saw then.
 */
import { describe, expect, it } from 'vitest';
import { createCredentialPool, createCredentialProvider, CredentialError, type CredentialPoolOptions, type KeyRemovedEvent, type MintedToken } from '../../src/index.js';
import { ManualClock } from '../../src/testing/index.js';
import { flush, HOUR, outcome } from '../helpers.js';

function scriptedKeyMint() {
  const calls: { key: string; signal: AbortSignal; at: number; resolve(token: MintedToken): void; reject(error: unknown): void }[] = [];
  let clock: ManualClock | null = null;
  const mint = (key: string, { signal }: { signal: AbortSignal }) => new Promise<MintedToken>((resolve, reject) => calls.push({ key, signal, at: clock?.now() ?? 0, resolve, reject }));
  return { mint, calls, bind: (c: ManualClock) => (clock = c), live: () => calls.filter((call) => !call.signal.aborted) };
}

function startPool(overrides: Partial<CredentialPoolOptions> = {}) {
  const clock = new ManualClock(0);
  const script = scriptedKeyMint();
  script.bind(clock);
  const pool = createCredentialPool({ mint: script.mint, clock, ...overrides });
  return { clock, script, pool };
}

const down = () => Object.assign(new Error('503 from the issuer'), { status: 503 });
const codeOf = (result: { ok: boolean; error?: unknown }) => (result.ok ? 'ok' : ((result.error as CredentialError).code ?? String(result.error)));

describe('the issuer breaker is asked when a mint starts, not only before it queued', () => {
  it('1,000 keys at cold start during an outage: the issuer sees the threshold, then one probe per cooldown', async () => {
    // before: 1,000 issuer calls, 996 of them while the breaker was open
    const { clock, script, pool } = startPool({ maxMintsInFlight: 4, breakerThreshold: 3, breakerCooldownMs: 60_000 });
    const callers = Array.from({ length: 1_000 }, (_, index) => outcome(pool.currentToken(`tenant-${index}`)));
    for (let round = 0; round < 20; round++) {
      await flush();
      for (const call of script.live()) call.reject(down());
    }
    await flush();
    const results = await Promise.all(callers);
    // four in flight when the outage began; the third failure opened the breaker, the fourth was already at the issuer
    expect(script.calls).toHaveLength(4);
    expect(results.filter((result) => codeOf(result) === 'BREAKER_OPEN')).toHaveLength(996);
    expect(pool.toJSON()).toMatchObject({ issuer: { breaker: 'open' }, mintsQueued: 0, mintsInFlight: 0 });

    // the cooldown ends: exactly one probe reaches the issuer, however many ask
    clock.advance(60_000);
    const retried = Array.from({ length: 50 }, (_, index) => outcome(pool.currentToken(`tenant-${index}`)));
    await flush();
    expect(script.calls).toHaveLength(5);
    script.calls[4]!.reject(down());
    await flush();
    expect((await Promise.all(retried)).every((result) => !result.ok)).toBe(true);
    expect(script.calls).toHaveLength(5);
    await pool.stop();
  });

  it('a hung issuer: every queued caller settles within mintTimeoutMs of asking, the queue included', async () => {
    // before: callers waited a median 16 minutes with mintTimeoutMs at 30 s (the timeout started at the permit)
    const { clock, script, pool } = startPool({ maxMintsInFlight: 4, breakerThreshold: 3, mintTimeoutMs: 30_000 });
    const settledAt: number[] = [];
    const callers = Array.from({ length: 200 }, (_, index) =>
      pool.currentToken(`tenant-${index}`).then(
        () => settledAt.push(clock.now()),
        () => settledAt.push(clock.now()),
      ),
    );
    await clock.advanceAsync(30_000);
    await Promise.all(callers);
    expect(settledAt).toHaveLength(200);
    expect(Math.max(...settledAt)).toBeLessThanOrEqual(30_000);
    expect(script.calls).toHaveLength(4); // the hung four; the timeouts opened the breaker for the rest
    expect(pool.toJSON()).toMatchObject({ issuer: { breaker: 'open', openUntil: 30_000 + 60_000 } });
    await pool.stop();
  });
});

describe('eviction', () => {
  it('a new key never evicts itself when every other key is busy; the pool trims back once they settle', async () => {
    // before: maxKeys 3 and 10 keys asked at once gave 7 callers STOPPED and 7 key.removed (evicted)
    const { script, pool } = startPool({ maxKeys: 3 });
    const removed: KeyRemovedEvent[] = [];
    pool.on('key.removed', (event) => removed.push(event));
    const callers = Array.from({ length: 10 }, (_, index) => outcome(pool.currentToken(`k${index}`)));
    await flush();
    expect(removed).toEqual([]);
    expect(pool.size).toBe(10);
    for (const call of script.live()) call.resolve({ secret: `${call.key}-token`, expiresAt: HOUR });
    const results = await Promise.all(callers);
    expect(results.map(codeOf)).toEqual(Array(10).fill('ok'));
    // the next admission brings the pool back to its bound, oldest first
    const admitted = outcome(pool.currentToken('k10')); // rejected with STOPPED at the end
    await flush();
    expect(pool.size).toBe(3);
    expect(removed.map((event) => event.key)).toEqual(['k0', 'k1', 'k2', 'k3', 'k4', 'k5', 'k6', 'k7']);
    await pool.stop();
    expect(codeOf(await admitted)).toBe('STOPPED');
  });

  it('keys in batches stay bounded by maxKeys plus one batch, and every caller gets its token', async () => {
    // before: 1,000,000 keys in batches of 1,000 with maxKeys 100 gave 900,000 STOPPED
    const { script, pool } = startPool({ maxKeys: 100, maxMintsInFlight: 1_000 });
    let largest = 0;
    let failed = 0;
    for (let batch = 0; batch < 10; batch++) {
      const callers = Array.from({ length: 1_000 }, (_, index) => outcome(pool.currentToken(`b${batch}-k${index}`)));
      await flush();
      largest = Math.max(largest, pool.size);
      for (const call of script.live()) call.resolve({ secret: 'x', expiresAt: HOUR });
      for (const result of await Promise.all(callers)) if (!result.ok) failed++;
      script.calls.length = 0;
    }
    expect(failed).toBe(0);
    expect(largest).toBeLessThanOrEqual(100 + 1_000);
    await pool.stop();
  });

  it('a caller whose signal has already aborted admits nothing and evicts nothing', async () => {
    const { pool } = startPool({ maxKeys: 1 });
    const removed: string[] = [];
    pool.on('key.removed', ({ key }) => removed.push(key));
    const live = outcome(pool.currentToken('live'));
    const reason = new Error('caller gone');
    const result = await outcome(pool.currentToken('late', { signal: AbortSignal.abort(reason) }));
    expect(result).toEqual({ ok: false, error: reason });
    expect([...pool.keys()]).toEqual(['live']);
    expect(removed).toEqual([]);
    await pool.stop();
    expect(codeOf(await live)).toBe('STOPPED');
  });
});

describe('stop()', () => {
  it('starts no queued mint: nothing reaches the user’s mint after stop()', async () => {
    // before: each aborted key's permit went to the next queued key, whose mint ran with a signal that never aborts
    const { script, pool } = startPool({ maxMintsInFlight: 2 });
    const callers = Array.from({ length: 6 }, (_, index) => outcome(pool.currentToken(`k${index}`)));
    await flush();
    expect(script.calls).toHaveLength(2);
    await pool.stop();
    await flush();
    expect(script.calls).toHaveLength(2);
    expect(script.calls.every((call) => call.signal.aborted)).toBe(true);
    expect((await Promise.all(callers)).map(codeOf)).toEqual(Array(6).fill('STOPPED'));
  });

  it('a second concurrent stop() resolves only when the first has finished', async () => {
    const { pool } = startPool();
    const waiting = outcome(pool.currentToken('a'));
    const order: string[] = [];
    const first = pool.stop().then(() => order.push('first'));
    const second = pool.stop().then(() => order.push('second'));
    expect(pool.stop()).toBe(pool.stop());
    await Promise.all([first, second]);
    expect(order).toEqual(['first', 'second']);
    expect(pool.toJSON().status).toBe('stopped');
    expect(codeOf(await waiting)).toBe('STOPPED');
  });
});

describe('Retry-After and refusals', () => {
  it('a longer Retry-After that arrives while the breaker is open wins', async () => {
    // before: a 429 asking for 300 s during an open 60 s breaker was dropped; the probe went out at +61 s
    const { clock, script, pool } = startPool({ breakerThreshold: 1, breakerCooldownMs: 60_000, maxRetryAfterMs: 600_000 });
    const a = outcome(pool.currentToken('a'));
    const b = outcome(pool.currentToken('b'));
    await flush();
    script.calls[0]!.reject(down()); // opens the breaker for 60 s
    await flush();
    clock.advance(1_000);
    script.calls[1]!.reject(Object.assign(new Error('429'), { status: 429, retryAfterMs: 300_000 }));
    await Promise.all([a, b]);
    expect(pool.toJSON().issuer).toMatchObject({ breaker: 'open', openUntil: 301_000, openReason: 'retry-after' });
    clock.advance(61_000);
    expect(codeOf(await outcome(pool.currentToken('c')))).toBe('BREAKER_OPEN');
    expect(script.calls).toHaveLength(2);
    clock.advance(301_000 - clock.now());
    expect(pool.toJSON().issuer.breaker).toBe('halfOpen');
    await pool.stop();
  });

  it('proactive keys refused by the open issuer breaker try again when it may be asked, not every second', async () => {
    // before: 100 keys during a 600 s Retry-After made 59,900 refused attempts and refresh.failed events
    const { clock, script, pool } = startPool({ refresh: 'proactive', breakerThreshold: 1, maxRetryAfterMs: 600_000, maxMintsInFlight: 100 });
    const keys = Array.from({ length: 100 }, (_, index) => `k${index}`);
    const first = keys.map((key) => pool.currentToken(key));
    await flush();
    for (const call of script.live()) call.resolve({ secret: 's', expiresAt: 120_000 });
    await Promise.all(first);
    let failures = 0;
    pool.on('refresh.failed', () => failures++);
    // the first key due meets a 429 asking for 600 s: the issuer breaker opens for every key
    await clock.advanceAsync(96_000);
    const due = script.calls.slice(100); // the refreshes now in flight
    expect(due).toHaveLength(100);
    due[0]!.reject(Object.assign(new Error('429'), { status: 429, retryAfterMs: 600_000 }));
    for (const call of due.slice(1)) call.reject(down());
    await clock.advanceAsync(590_000);
    expect(script.calls.length).toBe(200); // nobody reached the issuer while it was closed to us
    expect(failures).toBeLessThanOrEqual(100 * 3);
    // and when it may be asked again (96 s + 600 s), the keys do try: the half-open probe goes out
    await clock.advanceAsync(696_000 + 1_000 - clock.now());
    expect(script.calls.length).toBeGreaterThan(200);
    await pool.stop();
  });

  /** Four proactive keys with tokens due at 96 s; the first refresh fails and opens the issuer breaker. */
  async function fourKeysBehindAnOpenIssuerBreaker(overrides: Partial<CredentialPoolOptions>) {
    const { clock, script, pool } = startPool({ refresh: 'proactive', breakerThreshold: 1, breakerCooldownMs: 60_000, maxMintsInFlight: 100, ...overrides });
    const keys = ['a', 'b', 'c', 'd'];
    const first = keys.map((key) => pool.currentToken(key));
    await flush();
    for (const call of script.live()) call.resolve({ secret: 's', expiresAt: 120_000 });
    await Promise.all(first);
    let refusals = 0;
    pool.on('refresh.failed', () => refusals++);
    await clock.advanceAsync(96_000);
    const due = script.calls.slice(4);
    expect(due).toHaveLength(4);
    for (const call of due) call.reject(down());
    await flush();
    return {
      clock,
      script,
      pool,
      refusals: () => refusals,
      countFromNow: () => {
        refusals = 0;
      },
    };
  }

  it('proactive keys refused while the half-open probe is out wait for its deadline, not a second (issue 26: 116 refusals in a 30 s probe)', async () => {
    const { clock, script, pool, refusals, countFromNow } = await fourKeysBehindAnOpenIssuerBreaker({ mintTimeoutMs: 30_000 });
    const before = script.calls.length;
    await clock.advanceAsync(60_000); // the cooldown ends: one key's retry takes the probe, which hangs
    expect(script.calls.length).toBe(before + 1);
    countFromNow(); // the other three were refused as the probe started
    await clock.advanceAsync(29_000); // the probe is out for 30 s
    // and they wait for the probe's deadline (before: 3 refusals a second)
    expect(refusals()).toBe(0);
    await clock.advanceAsync(1_000); // the probe timed out: the breaker is open again, they are refused once more
    expect(refusals()).toBeLessThanOrEqual(4);
    await pool.stop();
  });

  it('the same with mintTimeoutMs: Infinity: the refused keys come back after a cooldown, not every second', async () => {
    const { clock, pool, refusals, countFromNow } = await fourKeysBehindAnOpenIssuerBreaker({ mintTimeoutMs: Infinity });
    await clock.advanceAsync(60_000); // the probe goes out, and never comes back
    countFromNow();
    await clock.advanceAsync(120_000);
    // 3 keys, refused once per cooldown (before: once a second, for ever)
    expect(refusals()).toBeLessThanOrEqual(3 * 2);
    await pool.stop();
  });

  it('a refusal of the issuer breaker is waited out in full, even when maxRetryAfterMs is below the cooldown (issue 26: 36 refusals in 60 s)', async () => {
    const { clock, script, pool, refusals, countFromNow } = await fourKeysBehindAnOpenIssuerBreaker({ maxRetryAfterMs: 5_000, mintTimeoutMs: 30_000 });
    const before = script.calls.length;
    await clock.advanceAsync(1_000); // each key's retry after its failure is refused: open until 156 s
    countFromNow();
    await clock.advanceAsync(58_000);
    expect(script.calls.length).toBe(before); // nobody reached the issuer while it was open
    // nobody knocked every 5 s; each key tried once more only as its token expired (at 120 s)
    expect(refusals()).toBeLessThanOrEqual(4);
    await pool.stop();
  });

  it('an error with a throwing retryAfterMs getter reaches callers as itself and counts against the issuer', async () => {
    // before: callers got the getter's error, and the issuer breaker did not count it
    const { script, pool } = startPool({ breakerThreshold: 1 });
    const hostile = new Error('issuer exploded');
    Object.defineProperty(hostile, 'retryAfterMs', {
      get() {
        throw new Error('getter');
      },
    });
    const result = outcome(pool.currentToken('a'));
    await flush();
    script.calls[0]!.reject(hostile);
    expect(await result).toEqual({ ok: false, error: hostile });
    expect(pool.toJSON().issuer.breaker).toBe('open');
    await pool.stop();
  });

  it('a classifier that throws blames the issuer (the safer guess), and its error reaches nobody', async () => {
    const { script, pool } = startPool({
      breakerThreshold: 1,
      classifyFailure: () => {
        throw new Error('classifier bug');
      },
    });
    const result = outcome(pool.currentToken('a'));
    await flush();
    const original = down();
    script.calls[0]!.reject(original);
    expect(await result).toEqual({ ok: false, error: original });
    expect(pool.toJSON().issuer.breaker).toBe('open');
    await pool.stop();
  });

  it('classifies a failure once', async () => {
    // before: classifyFailure was called twice per failure
    let calls = 0;
    const { script, pool } = startPool({
      classifyFailure: () => {
        calls++;
        return 'issuer';
      },
    });
    const result = outcome(pool.currentToken('a'));
    await flush();
    script.calls[0]!.reject(down());
    await result;
    expect(calls).toBe(1);
    await pool.stop();
  });
});

describe('bad arguments', () => {
  it.each([['abc'], [{}], [42], [null]])('a bogus signal %j is refused with INVALID_ARGUMENT before anything starts, on every path', async (signal) => {
    // before: a TypeError thrown synchronously on the minting path after the mint started; ignored on the cached path
    const { script, pool } = startPool();
    const bogus = { signal } as unknown as { signal: AbortSignal };
    expect(codeOf(await outcome(pool.currentToken('a', bogus)))).toBe('INVALID_ARGUMENT');
    expect(script.calls).toHaveLength(0);
    expect(pool.size).toBe(0);
    const served = pool.currentToken('a');
    await flush();
    script.calls[0]!.resolve({ secret: 's', expiresAt: HOUR });
    await served;
    expect(codeOf(await outcome(pool.currentToken('a', bogus)))).toBe('INVALID_ARGUMENT');
    await pool.stop();

    const clock = new ManualClock(0);
    const provider = await createCredentialProvider({ mint: async () => ({ secret: 's', expiresAt: HOUR }), clock });
    expect(codeOf(await outcome(provider.currentToken(bogus)))).toBe('INVALID_ARGUMENT');
    await provider.stop();
  });

  it('names no property of an object secret, expiry or key in its error', async () => {
    const { script, pool } = startPool();
    const secretName = 'sk_live_0123456789';
    const minted = outcome(pool.currentToken('a'));
    await flush();
    script.calls[0]!.resolve({ secret: { [secretName]: 1 }, expiresAt: { [secretName]: 2 } } as unknown as MintedToken);
    const failure = await minted;
    expect(String((failure as { error: Error }).error.message)).not.toContain(secretName);
    const key = await outcome(pool.currentToken({ [secretName]: 1 } as unknown as string));
    expect(codeOf(key)).toBe('INVALID_KEY');
    expect((key as { error: Error }).error.message).not.toContain(secretName);
    await pool.stop();
  });
});

describe('a pool key and a provider on the same schedule', () => {
  it('date a late MINT_TIMEOUT alike, at its deadline (the breaker that counts it opens until deadline + cooldown)', async () => {
    // before: the provider dated it at its deadline, the pool when its timer fired (715 of 2,070 schedules diverged)
    const failedAt = async (kind: 'provider' | 'pool') => {
      const clock = new ManualClock(0);
      const changes: (number | undefined)[] = [];
      let calls = 0;
      const mint = () => (++calls === 1 ? Promise.resolve({ secret: 's', expiresAt: HOUR }) : new Promise<MintedToken>(() => {}));
      const options = { clock, breakerThreshold: 1, mintTimeoutMs: 10_000 } as const;
      if (kind === 'provider') {
        const provider = await createCredentialProvider({ ...options, mint });
        clock.advance(HOUR);
        const waiting = outcome(provider.currentToken());
        await flush();
        clock.skip(25_000); // the event loop stalls past the deadline
        clock.advance(0);
        await waiting;
        changes.push(provider.toJSON().openUntil ?? undefined);
        await flush();
        await provider.stop();
      } else {
        // a timeout is the issuer's failure: for a pool, its issuer breaker counts it
        const pool = createCredentialPool({ ...options, mint: () => mint() });
        await pool.currentToken('a');
        pool.on('issuer.breaker.changed', ({ openUntil }) => changes.push(openUntil));
        clock.advance(HOUR);
        const waiting = outcome(pool.currentToken('a'));
        await flush(); // the mint is at the issuer (a pool's gate lets it through a promise job later)
        clock.skip(25_000);
        clock.advance(0);
        await waiting;
        await flush();
        await pool.stop();
      }
      return changes;
    };
    const provider = await failedAt('provider');
    expect(provider).toEqual([HOUR + 10_000 + 60_000]);
    expect(await failedAt('pool')).toEqual(provider);
  });
});

describe('ManualClock.advanceAsync', () => {
  it('lets promises run between the timers it fires: a failing key retries as it would in a running process', async () => {
    // before: advance(10 minutes) made 1 refresh attempt where stepping timer by timer made 11
    const attempts = async (advance: (clock: ManualClock, ms: number) => Promise<void>) => {
      const clock = new ManualClock(0);
      let calls = 0;
      const pool = createCredentialPool({
        clock,
        refresh: 'proactive',
        idleTimeoutMs: Infinity,
        breakerThreshold: 1_000,
        classifyFailure: () => 'key',
        mint: async () => (++calls === 1 ? { secret: 's', expiresAt: HOUR } : Promise.reject(new Error('refused'))),
      });
      await pool.currentToken('a');
      clock.advance(0.8 * HOUR - 1); // just before the refresh is due
      const before = calls;
      await advance(clock, 10 * 60_000);
      await pool.stop();
      return calls - before;
    };
    const atOnce = await attempts(async (clock, ms) => clock.advance(ms));
    const async = await attempts((clock, ms) => clock.advanceAsync(ms));
    expect(atOnce).toBeLessThanOrEqual(1);
    // due, then backoff 1 s, 2 s, 4 s, 8 s, 16 s, then every 30 s until ten minutes have passed
    expect(async).toBe(1 + 5 + Math.floor((600_000 - 1 - 31_000) / 30_000));
  });
});

describe('the half-open probe', () => {
  it('an abandoned probe frees its place: the next mint is the probe, and the issuer is asked again', async () => {
    const { clock, script, pool } = startPool({ breakerThreshold: 1, breakerCooldownMs: 1_000 });
    const first = outcome(pool.currentToken('a'));
    await flush();
    script.calls[0]!.reject(down());
    await first;
    clock.advance(1_000);
    expect(pool.toJSON().issuer.breaker).toBe('halfOpen');
    const giveUp = new AbortController();
    const probe = outcome(pool.currentToken('b', { signal: giveUp.signal }));
    await flush();
    expect(script.calls).toHaveLength(2);
    expect(codeOf(await outcome(pool.currentToken('c')))).toBe('BREAKER_OPEN'); // one probe at a time
    giveUp.abort(new Error('caller gone'));
    await probe;
    await flush();
    const next = outcome(pool.currentToken('d'));
    await flush();
    expect(script.calls).toHaveLength(3); // the place was freed
    script.calls[2]!.resolve({ secret: 'back', expiresAt: HOUR });
    expect(codeOf(await next)).toBe('ok');
    expect(pool.toJSON().issuer.breaker).toBe('closed');
    await pool.stop();
  });
});
