import { describe, expect, it } from 'vitest';
import type { InspectionEvent } from 'xstate';
import { CredentialError } from '../../src/index.js';
import { flush, HOUR, outcome, secretOf, startProvider, stateOf } from '../helpers.js';

describe('serving', () => {
  it('serves a fresh token with no event, no mint, the same promise every time', async () => {
    const events: InspectionEvent[] = [];
    const { clock, script, provider } = await startProvider({ inspect: (event) => events.push(event) });
    const eventsSent = () => events.filter((event) => event.type === '@xstate.event').length;
    const sentBefore = eventsSent();
    const first = provider.currentToken();
    clock.advance(0.8 * HOUR - 1);
    for (let i = 0; i < 1_000; i++) expect(provider.currentToken()).toBe(first);
    expect(eventsSent()).toBe(sentBefore);
    expect(script.count).toBe(1);
    expect(secretOf(await first)).toContain('-1');
    await provider.stop();
  });

  it('is valid strictly before expiresAt and due from refreshDueAt inclusive', async () => {
    const { clock, script, provider } = await startProvider({ breakerThreshold: 1, breakerCooldownMs: 2 * HOUR });
    clock.set(0.8 * HOUR - 1);
    await provider.currentToken();
    expect(script.count).toBe(1);
    clock.set(0.8 * HOUR); // due: served, and one background refresh starts
    await provider.currentToken();
    expect(script.count).toBe(2);
    script.last.reject(new Error('down'));
    await flush();
    expect(stateOf(provider).breaker).toBe('open');
    clock.set(HOUR - 1); // breaker open, token still valid: served
    expect(secretOf(await provider.currentToken())).toContain('-1');
    clock.jump(1); // exactly expiresAt, before any timer: not served
    const atExpiry = await outcome(provider.currentToken());
    expect(atExpiry.ok).toBe(false);
    expect((atExpiry as { error: CredentialError }).error.code).toBe('BREAKER_OPEN');
    expect(script.count).toBe(2);
    await provider.stop();
  });

  it('serves a due token at once, starting exactly one background refresh', async () => {
    const { clock, script, provider } = await startProvider();
    clock.advance(0.9 * HOUR);
    const served = await Promise.all(Array.from({ length: 50 }, () => provider.currentToken()));
    expect(new Set(served.map(secretOf))).toEqual(new Set([`${served[0]!.secret.reveal()}`]));
    expect(script.count).toBe(2);
    expect(provider.actor.getSnapshot().context.attemptKind).toBe('background');
    script.last.resolve({ secret: 'second', expiresAt: 2 * HOUR });
    await flush();
    expect(secretOf(await provider.currentToken())).toBe('second');
    expect(stateOf(provider)).toEqual({ validity: 'fresh', breaker: 'closed', flight: 'idle' });
    await provider.stop();
  });

  it('never lets a background failure reach a caller', async () => {
    const { clock, script, provider } = await startProvider();
    clock.advance(0.9 * HOUR);
    const served = provider.currentToken();
    script.last.reject(new Error('issuer down'));
    await flush();
    expect(secretOf(await served)).toContain('-1');
    expect(secretOf(await provider.currentToken())).toContain('-1');
    expect(provider.actor.getSnapshot().context.consecutiveFailures).toBe(1);
    await provider.stop();
  });

  it('makes an expired token wait for the mint in flight', async () => {
    const { clock, script, provider } = await startProvider({ mintTimeoutMs: Infinity });
    clock.advance(0.9 * HOUR);
    await provider.currentToken(); // starts the background refresh
    clock.advance(0.1 * HOUR); // now expired, mint still in flight
    const waiting = provider.currentToken();
    expect(script.count).toBe(2);
    script.last.resolve({ secret: 'second', expiresAt: 3 * HOUR });
    expect(secretOf(await waiting)).toBe('second');
    await provider.stop();
  });

  it('mints for an expired token and rejects every waiter with the mint’s original error', async () => {
    const { clock, script, provider } = await startProvider();
    clock.advance(HOUR);
    expect(stateOf(provider).validity).toBe('expired');
    const waiters = Array.from({ length: 5 }, () => outcome(provider.currentToken()));
    expect(script.count).toBe(2);
    const original = new TypeError('original failure');
    script.last.reject(original);
    for (const result of await Promise.all(waiters)) expect(result).toEqual({ ok: false, error: original });
    // the next caller starts the next mint: one mint per cohort
    const next = provider.currentToken();
    expect(script.count).toBe(3);
    script.last.resolve({ secret: 'recovered', expiresAt: 2 * HOUR });
    expect(secretOf(await next)).toBe('recovered');
    await provider.stop();
  });

  it('treats a token already expired when it lands as a failure, never cached', async () => {
    const { clock, script, provider } = await startProvider();
    clock.advance(HOUR);
    const waiting = outcome(provider.currentToken());
    clock.advance(1_000);
    script.last.resolve({ secret: 'stale', expiresAt: HOUR + 1_000 });
    const result = await waiting;
    expect(result.ok).toBe(false);
    expect((result as { error: CredentialError }).error.code).toBe('MINTED_TOKEN_ALREADY_EXPIRED');
    expect(provider.actor.getSnapshot().context.consecutiveFailures).toBe(1);
    expect(secretOf(provider.actor.getSnapshot().context.token)).toContain('-1');
    await provider.stop();
  });

  it('single-flights 10,000 concurrent callers of an expired token into exactly one mint', async () => {
    const { clock, script, provider } = await startProvider();
    clock.advance(2 * HOUR);
    const controller = new AbortController();
    const callers = Array.from({ length: 10_000 }, (_, i) => provider.currentToken(i % 10 === 0 ? { signal: controller.signal } : undefined));
    expect(script.count).toBe(2);
    script.last.resolve({ secret: 'cohort', expiresAt: 3 * HOUR });
    const tokens = await Promise.all(callers);
    expect(script.count).toBe(2);
    expect(new Set(tokens).size).toBe(1);
    expect(secretOf(tokens[0]!)).toBe('cohort');
    await provider.stop();
  });

  it('serves a token without expiry forever, with no timer armed', async () => {
    const { clock, script, provider } = await startProvider({}, { secret: 'forever', expiresAt: null });
    expect(clock.pendingTimers).toBe(0);
    clock.advance(100 * 365 * 24 * HOUR);
    expect(secretOf(await provider.currentToken())).toBe('forever');
    expect(stateOf(provider).validity).toBe('fresh');
    expect(script.count).toBe(1);
    await provider.stop();
  });

  it('rejects BREAKER_OPEN without minting when the token expired and the breaker is open', async () => {
    const { clock, script, provider } = await startProvider({ breakerThreshold: 2 });
    clock.advance(HOUR);
    for (let i = 0; i < 2; i++) {
      const call = outcome(provider.currentToken());
      script.last.reject(new Error(`fail ${i}`));
      await call;
    }
    expect(stateOf(provider).breaker).toBe('open');
    const denied = await outcome(provider.currentToken());
    expect(denied.ok).toBe(false);
    const error = (denied as { error: CredentialError }).error;
    expect(error).toBeInstanceOf(CredentialError);
    expect(error.code).toBe('BREAKER_OPEN');
    expect(script.count).toBe(3);
    await provider.stop();
  });
});
