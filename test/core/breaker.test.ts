import { describe, expect, it } from 'vitest';
import { BreakerOpenError, createCredentialProvider, CredentialError, type MintedToken } from '../../src/index.js';
import { ManualClock } from '../../src/testing/index.js';
import { flush, HOUR, outcome, secretOf, startProvider, stateOf } from '../helpers.js';
import { CLOSED_BREAKER, cooldownElapsedAt, lengthenedByRetryAfter, retryAfterOutlastsOpening } from '../../machines/breaker.js';

const COOLDOWN = 60_000;

async function failOnce(provider: { currentToken(): Promise<unknown> }, script: { last: { reject(e: unknown): void } }) {
  const call = outcome(provider.currentToken());
  script.last.reject(new Error('issuer down'));
  return call;
}

describe('circuit breaker', () => {
  it('trips at the threshold, denies while open, probes half-open, re-opens, then closes on success', async () => {
    const log: unknown[] = [];
    const { clock, script, provider } = await startProvider({
      breakerThreshold: 3,
      breakerCooldownMs: COOLDOWN,
      reporters: {
        refresh: {
          onRefreshSucceeded: (seconds) => log.push(['succeeded', seconds]),
          onRefreshFailed: (seconds) => log.push(['failed', seconds]),
        },
        breaker: { onBreakerStateChanged: (change) => log.push(['breaker', change]) },
      },
    });
    clock.advance(HOUR);
    await failOnce(provider, script);
    await failOnce(provider, script);
    expect(stateOf(provider).breaker).toBe('closed');
    expect(provider.actor.getSnapshot().context.consecutiveFailures).toBe(2);
    await failOnce(provider, script); // third consecutive failure: open until now + cooldown
    expect(stateOf(provider).breaker).toBe('open');
    expect(provider.actor.getSnapshot().context.openUntil).toBe(HOUR + COOLDOWN);

    const denied = await outcome(provider.currentToken());
    expect((denied as { error: CredentialError }).error.code).toBe('BREAKER_OPEN');
    expect(script.count).toBe(4);

    clock.advance(COOLDOWN - 1);
    expect(stateOf(provider).breaker).toBe('open');
    clock.advance(1);
    expect(stateOf(provider).breaker).toBe('halfOpen');
    await failOnce(provider, script); // the probe fails: open for a full cooldown again
    expect(stateOf(provider).breaker).toBe('open');
    expect(provider.actor.getSnapshot().context.openUntil).toBe(HOUR + 2 * COOLDOWN);
    expect(script.count).toBe(5);

    clock.advance(COOLDOWN);
    const probe = provider.currentToken();
    expect(stateOf(provider)).toMatchObject({ breaker: 'halfOpen', flight: 'minting' });
    // half-open lets one probe through: more callers join it, no second mint
    const joined = provider.currentToken();
    expect(script.count).toBe(6);
    script.last.resolve({ secret: 'back', expiresAt: 2 * HOUR + 2 * COOLDOWN });
    expect(secretOf(await probe)).toBe('back');
    expect(await joined).toBe(await probe);
    expect(stateOf(provider)).toEqual({ validity: 'fresh', breaker: 'closed', flight: 'idle' });
    expect(provider.actor.getSnapshot().context.consecutiveFailures).toBe(0);
    await flush();

    expect(log).toEqual([
      // (the first token, minted through the statechart at construction, is not reported)
      ['failed', 0],
      ['failed', 0],
      ['breaker', { from: 'closed', to: 'open', openUntil: HOUR + COOLDOWN, reason: 'failures' }],
      ['failed', 0],
      ['breaker', { from: 'open', to: 'halfOpen' }],
      ['breaker', { from: 'halfOpen', to: 'open', openUntil: HOUR + 2 * COOLDOWN, reason: 'failures' }],
      ['failed', 0],
      ['breaker', { from: 'open', to: 'halfOpen' }],
      ['breaker', { from: 'halfOpen', to: 'closed' }],
      ['succeeded', 3600],
    ]);
    await provider.stop();
  });

  it('counts background failures and resets the count on any success', async () => {
    const { clock, script, provider } = await startProvider({ breakerThreshold: 3 });
    clock.advance(0.9 * HOUR);
    await provider.currentToken();
    script.last.reject(new Error('x'));
    await flush();
    await provider.currentToken();
    script.last.reject(new Error('y'));
    await flush();
    expect(provider.actor.getSnapshot().context.consecutiveFailures).toBe(2);
    await provider.currentToken();
    script.last.resolve({ secret: 'ok', expiresAt: 2 * HOUR });
    await flush();
    expect(provider.actor.getSnapshot().context.consecutiveFailures).toBe(0);
    expect(stateOf(provider).breaker).toBe('closed');
    await provider.stop();
  });

  it('reports the still-cached token’s remaining life on a background failure', async () => {
    const failures: (number | null)[] = [];
    const { clock, script, provider } = await startProvider({
      reporters: { refresh: { onRefreshFailed: (seconds) => failures.push(seconds) } },
    });
    clock.advance(0.9 * HOUR + 500);
    await provider.currentToken();
    script.last.reject(new Error('x'));
    await flush();
    expect(failures).toEqual([359]); // floor((3_600_000 - 3_240_500) / 1000)
    await provider.stop();
  });

  it('lets the clock decide at admission when the cooldown timer is late', async () => {
    const { clock, script, provider } = await startProvider({ breakerThreshold: 1, breakerCooldownMs: COOLDOWN });
    clock.advance(HOUR);
    await failOnce(provider, script);
    expect(stateOf(provider).breaker).toBe('open');
    clock.jump(COOLDOWN); // the wall clock passed openUntil, the timer has not fired yet
    expect(stateOf(provider).breaker).toBe('open');
    const probe = provider.currentToken();
    expect(stateOf(provider)).toMatchObject({ breaker: 'halfOpen', flight: 'minting' });
    script.last.resolve({ secret: 'late-but-fine', expiresAt: 3 * HOUR });
    expect(secretOf(await probe)).toBe('late-but-fine');
    expect(stateOf(provider).breaker).toBe('closed');
    await provider.stop();
  });

  /**
   * A proactive provider whose breaker is open until the instant its token expires: the expiry's
   * timer, set first, fires first and starts a mint while the breaker is still `open` (issue 26);
   * the mint settles before the cooldown's timer fires (promise jobs run between timers).
   */
  async function mintAtTheCooldownsEnd(outcomeAtExpiry: { resolve: MintedToken } | { reject: unknown }) {
    const clock = new ManualClock(0);
    const calls: { resolve(token: MintedToken): void; reject(error: unknown): void }[] = [];
    const mint = () =>
      new Promise<MintedToken>((resolve, reject) => {
        calls.push({ resolve, reject });
        if (calls.length === 3) {
          if ('resolve' in outcomeAtExpiry) resolve(outcomeAtExpiry.resolve);
          else reject(outcomeAtExpiry.reject);
        }
      });
    const pending = createCredentialProvider({ mint, clock, refresh: 'proactive', breakerThreshold: 1, breakerCooldownMs: 10_000 });
    calls[0]!.resolve({ secret: 'first', expiresAt: 100_000 });
    const provider = await pending;
    while (calls.length < 2) await clock.advanceAsync(1_000); // the proactive refresh is due, and hangs
    await clock.advanceAsync(90_000 - clock.now());
    calls[1]!.reject(new Error('503')); // fails at 90 s: open until 100 s, the token's expiry
    await flush();
    expect(provider.actor.getSnapshot().context.openUntil).toBe(100_000);
    await clock.advanceAsync(10_000);
    expect(calls).toHaveLength(3);
    return { clock, provider };
  }

  it('a mint started as the cooldown ends is the probe: its Retry-After is honoured', async () => {
    const { provider } = await mintAtTheCooldownsEnd({ reject: Object.assign(new Error('429'), { retryAfterMs: 30_000 }) });
    expect(stateOf(provider).breaker).toBe('open');
    expect(provider.actor.getSnapshot().context).toMatchObject({ openUntil: 130_000, openReason: 'retry-after' });
    await provider.stop();
  });

  it('a mint started as the cooldown ends is the probe: its success closes the breaker and resets the count', async () => {
    const { provider } = await mintAtTheCooldownsEnd({ resolve: { secret: 'second', expiresAt: 200_000 } });
    expect(stateOf(provider)).toMatchObject({ breaker: 'closed', validity: 'fresh' });
    expect(provider.actor.getSnapshot().context).toMatchObject({ consecutiveFailures: 0, openUntil: null });
    await provider.stop();
  });

  it('keeps working when every reporter and listener throws', async () => {
    const boom = () => {
      throw new Error('reporter bug');
    };
    const { clock, script, provider } = await startProvider({
      breakerThreshold: 1,
      reporters: { refresh: { onRefreshFailed: boom, onRefreshSucceeded: boom }, breaker: { onBreakerStateChanged: boom } },
    });
    provider.on('refresh.failed', boom);
    provider.on('breaker.changed', boom);
    clock.advance(HOUR);
    await failOnce(provider, script);
    await flush();
    clock.advance(60_000);
    const next = provider.currentToken();
    script.last.resolve({ secret: 'fine', expiresAt: 2 * HOUR });
    expect(secretOf(await next)).toBe('fine');
    await flush();
    await provider.stop();
  });

  it('emits the same outcomes as XState events observable with on(), until unsubscribed', async () => {
    const { clock, script, provider } = await startProvider({ breakerThreshold: 1 });
    const seen: string[] = [];
    const offFailed = provider.on('refresh.failed', (event) => seen.push(`failed:${(event.error as Error).message}`));
    provider.on('breaker.changed', (event) => seen.push(`breaker:${event.from}->${event.to}`));
    provider.on('refresh.succeeded', (event) => seen.push(`succeeded:${event.remainingSeconds}`));
    clock.advance(HOUR);
    await failOnce(provider, script);
    await flush();
    offFailed();
    clock.advance(60_000);
    const next = provider.currentToken();
    script.last.reject(new Error('again'));
    await outcome(next);
    await flush();
    expect(seen).toEqual(['breaker:closed->open', 'failed:issuer down', 'breaker:open->halfOpen', 'breaker:halfOpen->open']);
    await provider.stop();
  });
});

describe('BREAKER_OPEN names the failure that opened it (issue 26)', () => {
  it('after a background failure nobody waited for or listened to, and after a recovered outage the new one, not the old', async () => {
    const { OAuthError } = await import('../../src/oauth2/index.js');
    const cooldown = 2 * HOUR; // longer than the token's life: it expires while the breaker is open
    const { clock, script, provider } = await startProvider({ breakerThreshold: 1, breakerCooldownMs: cooldown });
    clock.advance(0.9 * HOUR);
    await provider.currentToken(); // served the due token at once; its refresh runs in the background, awaited by nobody
    script.last.reject(new OAuthError('temporarily_unavailable', { status: 503, endpoint: 'https://login.example/token' }));
    await flush();
    clock.advance(0.1 * HOUR); // expired
    const first = (await outcome(provider.currentToken())) as { error: BreakerOpenError };
    expect(first.error.code).toBe('BREAKER_OPEN');
    expect(first.error.cause).toMatchObject({ name: 'OAuthError', code: 'OAUTH_ERROR' });
    // one of ours is named in full: the step, the URL, what the issuer said
    expect(first.error.message).toContain('last failure: token request to https://login.example/token failed: temporarily_unavailable (HTTP 503)');
    // recovered, then a new outage with another error: that one is named
    clock.advance(cooldown);
    const probe = provider.currentToken();
    script.last.resolve({ secret: 'back', expiresAt: clock.now() + HOUR });
    await probe;
    clock.advance(HOUR);
    const failing = outcome(provider.currentToken());
    script.last.reject(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }));
    await failing;
    const second = (await outcome(provider.currentToken())) as { error: BreakerOpenError };
    expect(second.error.cause).toMatchObject({ name: 'Error', code: 'ECONNRESET' });
    // another's error by its name and code only: its message stays in `cause`
    expect(second.error.message).toMatch(/last failure: Error ECONNRESET$/);
    await provider.stop();
  });
});

describe('the breaker’s rules while open, one by one (machines/breaker.ts)', () => {
  const policy = { breakerThreshold: 3, breakerCooldownMs: 60_000, maxRetryAfterMs: 300_000 };
  const open = { ...CLOSED_BREAKER, consecutiveFailures: 3, openUntil: 10_000, openReason: 'failures' as const };

  it('a late Retry-After lengthens the opening only when it ends strictly later; a failure without one never does', () => {
    expect(retryAfterOutlastsOpening(open, policy, { at: 5_000, retryAfterMs: 5_001 })).toBe(true);
    // ending exactly when the opening does: nothing to lengthen, and the reason stays the failures'
    expect(retryAfterOutlastsOpening(open, policy, { at: 5_000, retryAfterMs: 5_000 })).toBe(false);
    // no Retry-After, even one heard after the opening's end (its timer late): not a Retry-After's opening
    expect(retryAfterOutlastsOpening(open, policy, { at: 12_000, retryAfterMs: null })).toBe(false);
    // with no end known, any Retry-After outlasts it
    expect(retryAfterOutlastsOpening({ ...open, openUntil: null }, policy, { at: 0, retryAfterMs: 1 })).toBe(true);
  });

  it('the lengthened opening is what the Retry-After asked, capped, and not stretched to the cooldown (the failure is not counted)', () => {
    expect(lengthenedByRetryAfter(open, policy, { at: 5_000, retryAfterMs: 30_000 })).toEqual({ ...open, openUntil: 35_000, openReason: 'retry-after' });
    expect(lengthenedByRetryAfter(open, policy, { at: 5_000, retryAfterMs: 900_000 }).openUntil).toBe(305_000);
  });

  it('the opening has elapsed only when it has an end and the clock reached it', () => {
    expect(cooldownElapsedAt(open, 9_999)).toBe(false);
    expect(cooldownElapsedAt(open, 10_000)).toBe(true);
    expect(cooldownElapsedAt({ ...open, openUntil: null }, 10_000)).toBe(false);
  });
});
