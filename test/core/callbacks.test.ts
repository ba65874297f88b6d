import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CredentialError } from '../../src/index.js';
import { flush, HOUR, outcome, secretOf, startProvider } from '../helpers.js';

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);
beforeAll(() => void process.on('unhandledRejection', onUnhandled));
afterAll(() => void process.off('unhandledRejection', onUnhandled));

/** Lets rejected promises be reported as unhandled, if they are going to be. */
const settleRejections = () => new Promise((resolve) => setTimeout(resolve, 5));

describe('listeners and reporters', () => {
  it('an async listener or reporter that throws causes no unhandled rejection', async () => {
    unhandled.length = 0;
    const { clock, script, provider } = await startProvider({
      breakerThreshold: 1,
      // async reporters and listeners on purpose: their rejections are what this test is about
      /* eslint-disable @typescript-eslint/no-misused-promises */
      reporters: {
        refresh: {
          onRefreshSucceeded: async () => Promise.reject(new Error('reporter down')),
          onRefreshFailed: async () => {
            throw new Error('reporter down');
          },
        },
        breaker: { onBreakerStateChanged: async () => Promise.reject(new Error('reporter down')) },
      },
    });
    let listened = 0;
    provider.on('refresh.failed', async () => {
      listened++;
      throw new Error('listener down');
    });
    provider.on('refresh.succeeded', () => Promise.reject(new Error('listener down')));
    /* eslint-enable @typescript-eslint/no-misused-promises */
    clock.advance(0.9 * HOUR);
    await provider.currentToken();
    script.last.reject(new Error('issuer down')); // refresh.failed and breaker.changed
    await flush();
    clock.advance(60_000);
    await provider.currentToken();
    script.last.resolve({ secret: 'next', expiresAt: 3 * HOUR }); // refresh.succeeded and breaker.changed
    await flush();
    await settleRejections();
    expect(listened).toBe(1);
    expect(unhandled).toEqual([]);
    expect(secretOf(await provider.currentToken())).toBe('next');
    await provider.stop();
  });

  it('a listener removed during a dispatch by an earlier listener is not called', async () => {
    const { clock, script, provider } = await startProvider();
    const calls: string[] = [];
    let offSecond = () => {};
    provider.on('refresh.succeeded', () => {
      calls.push('first');
      offSecond();
    });
    offSecond = provider.on('refresh.succeeded', () => calls.push('second'));
    clock.advance(0.9 * HOUR);
    await provider.currentToken();
    script.last.resolve({ secret: 'next', expiresAt: 3 * HOUR });
    await flush();
    expect(calls).toEqual(['first']);
    await provider.stop();
  });

  it('no listener is called after stop(), even for an event emitted just before it', async () => {
    const { clock, script, provider } = await startProvider({ breakerThreshold: 1, refresh: 'proactive' });
    const calls: string[] = [];
    provider.on('breaker.changed', ({ to }) => calls.push(to));
    clock.advance(0.8 * HOUR); // proactive refresh starts
    script.last.reject(new Error('issuer down'));
    await flush();
    expect(calls).toEqual(['open']);
    clock.advance(60_000); // emits open -> halfOpen synchronously, delivered in a microtask...
    await provider.stop(); // ...which runs after this stop
    await flush();
    expect(calls).toEqual(['open']);
  });
});

// The types offer no `stop` on `provider.actor` (an ObservedActor); JavaScript, or a cast, still
// reaches the actor's own, and the provider copes.
const stopBehindItsBack = (provider: { actor: object }) => (provider.actor as { stop(): void }).stop();

describe('provider.actor.stop() called directly', () => {
  it('stops the provider: waiting and later callers get STOPPED, toJSON says stopped', async () => {
    const { clock, script, provider } = await startProvider();
    clock.advance(HOUR); // expired
    const waiting = outcome(provider.currentToken());
    stopBehindItsBack(provider);
    const settled = await waiting;
    expect(settled.ok).toBe(false);
    expect(settled.ok ? null : (settled.error as CredentialError).code).toBe('STOPPED');
    expect(script.last.signal.aborted).toBe(true);
    expect(provider.toJSON().status).toBe('stopped');
    const later = await outcome(provider.currentToken());
    expect(later.ok ? null : (later.error as CredentialError).code).toBe('STOPPED');
    expect(clock.pendingTimers).toBe(0);
  });

  it('even while the token is fresh (the hot path notices too)', async () => {
    const { provider } = await startProvider();
    stopBehindItsBack(provider);
    const later = await outcome(provider.currentToken());
    expect(later.ok ? null : (later.error as CredentialError).code).toBe('STOPPED');
    expect(provider.invalidate()).toBe(false);
  });
});

describe('re-entrant calls from an inspection observer', () => {
  it('a currentToken() made mid-transition is answered consistently, never with a false BREAKER_OPEN', async () => {
    const results: Promise<{ ok: boolean; value?: unknown; error?: unknown }>[] = [];
    let armed = false;
    let provider!: Awaited<ReturnType<typeof startProvider>>['provider'];
    const started = await startProvider({
      inspect: (event) => {
        // in the middle of the transition caused by the expired caller's request
        if (armed && event.type === '@xstate.microstep' && event.event.type === 'token.requested') {
          armed = false;
          results.push(outcome(provider.currentToken()));
        }
      },
    });
    provider = started.provider;
    const { clock, script } = started;
    clock.advance(HOUR); // expired
    armed = true;
    const first = outcome(provider.currentToken());
    expect(results).toHaveLength(1);
    await flush();
    expect(script.count).toBe(2); // one mint for both callers
    script.last.resolve({ secret: 'next', expiresAt: 3 * HOUR });
    const [reentrant] = await Promise.all(results);
    expect(reentrant).toEqual({ ok: true, value: expect.objectContaining({ expiresAt: 3 * HOUR }) });
    expect((await first).ok).toBe(true);
    await provider.stop();
  });

  it('an invalidate() made mid-transition drops the token it saw, never one cached by that transition', async () => {
    let provider!: Awaited<ReturnType<typeof startProvider>>['provider'];
    let armed = false;
    let returned: boolean | null = null;
    const started = await startProvider({
      inspect: (event) => {
        if (armed && event.type === '@xstate.microstep' && event.event.type === 'xstate.done.actor.mint') {
          armed = false;
          returned = provider.invalidate(); // the old token, still the cached one in this snapshot
        }
      },
    });
    provider = started.provider;
    const { clock, script } = started;
    clock.advance(0.9 * HOUR);
    await provider.currentToken();
    armed = true;
    script.last.resolve({ secret: 'next', expiresAt: 3 * HOUR });
    await flush();
    expect(returned).toBe(true);
    expect(provider.toJSON().validity).toBe('fresh'); // the new token was not invalidated
    expect(secretOf(await provider.currentToken())).toBe('next');
    await provider.stop();
  });
});
