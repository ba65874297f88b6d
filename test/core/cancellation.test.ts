import { describe, expect, it } from 'vitest';
import { CredentialError } from '../../src/index.js';
import { flush, HOUR, outcome, secretOf, startProvider, stateOf } from '../helpers.js';

describe('currentToken({ signal })', () => {
  it('rejects at once with the reason of an already aborted signal and starts nothing', async () => {
    const { clock, script, provider } = await startProvider();
    clock.advance(HOUR);
    const reason = new Error('caller gave up');
    const result = await outcome(provider.currentToken({ signal: AbortSignal.abort(reason) }));
    expect(result).toEqual({ ok: false, error: reason });
    expect(script.count).toBe(1);
    expect(stateOf(provider).flight).toBe('idle');
    await provider.stop();
  });

  it('rejects only the aborting caller; the shared mint and other callers carry on', async () => {
    const { clock, script, provider } = await startProvider();
    clock.advance(HOUR);
    const controller = new AbortController();
    const aborting = outcome(provider.currentToken({ signal: controller.signal }));
    const patient = provider.currentToken();
    controller.abort('timeout');
    expect(await aborting).toEqual({ ok: false, error: 'timeout' });
    expect(script.last.signal.aborted).toBe(false);
    script.last.resolve({ secret: 'for-the-patient', expiresAt: 2 * HOUR });
    expect(secretOf(await patient)).toBe('for-the-patient');
    expect(script.count).toBe(2);
    await provider.stop();
  });

  it('stops an on-demand mint whose every waiter aborted, recording neither success nor failure', async () => {
    const log: string[] = [];
    const { clock, script, provider } = await startProvider({
      reporters: {
        refresh: { onRefreshFailed: () => log.push('failed'), onRefreshSucceeded: () => log.push('succeeded') },
      },
    });
    clock.advance(HOUR);
    const first = new AbortController();
    const second = new AbortController();
    const a = outcome(provider.currentToken({ signal: first.signal }));
    const b = outcome(provider.currentToken({ signal: second.signal }));
    const mintSignal = script.last.signal;
    first.abort();
    expect(mintSignal.aborted).toBe(false);
    second.abort();
    expect(mintSignal.aborted).toBe(true);
    expect(stateOf(provider).flight).toBe('idle');
    await Promise.all([a, b]);
    // the mint settling after it was stopped changes nothing
    script.last.resolve({ secret: 'too-late', expiresAt: 2 * HOUR });
    await flush();
    expect(log).toEqual([]); // nothing for the abandoned one (nor for the construction mint: it reports nothing)
    expect(provider.actor.getSnapshot().context.consecutiveFailures).toBe(0);
    expect(secretOf(provider.actor.getSnapshot().context.token)).toContain('-1');
    // a later caller starts a new mint, which succeeds
    const later = provider.currentToken();
    expect(script.count).toBe(3);
    script.last.resolve({ secret: 'fresh-start', expiresAt: 3 * HOUR });
    expect(secretOf(await later)).toBe('fresh-start');
    await provider.stop();
  });

  it('never aborts a background refresh because its joined callers aborted', async () => {
    const { clock, script, provider } = await startProvider({ mintTimeoutMs: Infinity });
    clock.advance(0.9 * HOUR);
    await provider.currentToken(); // background refresh in flight
    clock.advance(0.1 * HOUR); // expired: the next caller joins the background refresh
    const controller = new AbortController();
    const joined = outcome(provider.currentToken({ signal: controller.signal }));
    controller.abort();
    await joined;
    expect(script.last.signal.aborted).toBe(false);
    expect(stateOf(provider).flight).toBe('minting');
    script.last.resolve({ secret: 'landed', expiresAt: 3 * HOUR });
    await flush();
    expect(secretOf(await provider.currentToken())).toBe('landed');
    await provider.stop();
  });

  it('ignores an abort after the caller was served, and removes its listener', async () => {
    const { clock, script, provider } = await startProvider();
    clock.advance(HOUR);
    const controller = new AbortController();
    let listeners = 0;
    const signal = controller.signal;
    const add = signal.addEventListener.bind(signal);
    const remove = signal.removeEventListener.bind(signal);
    signal.addEventListener = ((...args: Parameters<typeof add>) => (listeners++, add(...args))) as typeof add;
    signal.removeEventListener = ((...args: Parameters<typeof remove>) => (listeners--, remove(...args))) as typeof remove;
    const calls = [provider.currentToken({ signal }), provider.currentToken({ signal })];
    expect(listeners).toBe(1); // one listener per signal, however many calls share it
    script.last.resolve({ secret: 'served', expiresAt: 2 * HOUR });
    const tokens = await Promise.all(calls);
    expect(listeners).toBe(0);
    controller.abort();
    expect(secretOf(tokens[0]!)).toBe('served');
    expect(secretOf(await provider.currentToken())).toBe('served');
    await provider.stop();
  });

  it('lets a later request succeed after any cancellation', async () => {
    const { clock, script, provider } = await startProvider();
    clock.advance(HOUR);
    for (let round = 0; round < 3; round++) {
      const controller = new AbortController();
      const call = outcome(provider.currentToken({ signal: controller.signal }));
      controller.abort();
      expect((await call).ok).toBe(false);
    }
    const next = provider.currentToken();
    script.last.resolve({ secret: 'after-cancellations', expiresAt: 2 * HOUR });
    expect(secretOf(await next)).toBe('after-cancellations');
    expect(script.calls.slice(1, -1).every((call) => call.signal.aborted)).toBe(true);
    await provider.stop();
  });
});

describe('mintTimeoutMs', () => {
  it('stops a mint that does not settle in time and counts MINT_TIMEOUT as a failure', async () => {
    const failures: unknown[] = [];
    const { clock, script, provider } = await startProvider({ mintTimeoutMs: 10_000 });
    provider.on('refresh.failed', (event) => failures.push(event.error));
    clock.advance(HOUR);
    const waiting = outcome(provider.currentToken());
    clock.advance(9_999);
    expect(script.last.signal.aborted).toBe(false);
    clock.advance(1);
    expect(script.last.signal.aborted).toBe(true);
    const result = await waiting;
    expect((result as { error: CredentialError }).error.code).toBe('MINT_TIMEOUT');
    await flush();
    expect(failures).toHaveLength(1);
    expect(provider.actor.getSnapshot().context.consecutiveFailures).toBe(1);
    await provider.stop();
  });

  it('dates the timeout failure at the deadline, for the breaker cooldown', async () => {
    const { clock, provider } = await startProvider({ mintTimeoutMs: 10_000, breakerThreshold: 1, breakerCooldownMs: 60_000 });
    clock.advance(HOUR);
    const waiting = outcome(provider.currentToken());
    clock.advance(10_000);
    await waiting;
    expect(provider.actor.getSnapshot().context.openUntil).toBe(HOUR + 10_000 + 60_000);
    await provider.stop();
  });

  it('never times out with Infinity', async () => {
    const { clock, script, provider } = await startProvider({ mintTimeoutMs: Infinity });
    clock.advance(HOUR);
    const waiting = provider.currentToken();
    expect(clock.pendingTimers).toBe(0);
    clock.advance(365 * 24 * HOUR);
    expect(script.last.signal.aborted).toBe(false);
    script.last.resolve({ secret: 'eventually', expiresAt: 1_000 * 24 * HOUR });
    expect(secretOf(await waiting)).toBe('eventually');
    await provider.stop();
  });
});
