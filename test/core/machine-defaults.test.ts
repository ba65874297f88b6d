/**
 * The statechart's own defaults, as they stand in `machines/credential.machine.ts` before a runner
 * `.provide()`s its mint actor, run on XState's default clock (`setTimeout`, which has no `now()`):
 * the placeholder mint fails typed, the delays read `Date.now`, and a mint actor that rejects with a
 * bare error (not the mint path's `MintFailure`) is still a failure the breaker counts. Found by
 * `npm run mutate:machines`: every provider replaces the mint and runs on an `ActorClock`, so no
 * provider test reached them.
 */
import { describe, expect, it } from 'vitest';
import { createActor, fromPromise } from 'xstate';
import { credentialMachine } from '../../machines/credential.machine.js';
import type { CredentialEmittedEvent, CredentialInput } from '../../machines/credential.types.js';
import { Secret } from '../../machines/secret.js';
import { defaultRefreshConfig, policyOf } from '../../src/config.js';
import { xstateDefaultClock } from './xstate-default-clock.js';

const HOUR = 3_600_000;
const inputAt = (now: number, overrides: Partial<CredentialInput> = {}): CredentialInput => ({
  policy: policyOf({ ...defaultRefreshConfig, breakerThreshold: 1 }),
  token: { secret: new Secret('cached'), expiresAt: now + HOUR },
  issuedAt: now,
  jitter: 0,
  ...overrides,
});
const macrotask = () => new Promise((resolve) => setTimeout(resolve, 5));

describe('credentialMachine, unprovided', () => {
  it('its placeholder mint fails as UNCONFIGURED, reported and counted', async () => {
    const now = Date.now();
    const actor = createActor(credentialMachine, { input: inputAt(now, { unminted: true }), clock: xstateDefaultClock() });
    const emitted: CredentialEmittedEvent[] = [];
    actor.on('*', (event) => emitted.push(event as CredentialEmittedEvent));
    actor.start();
    actor.send({ type: 'token.requested', now });
    await macrotask();
    const failed = emitted.find((event) => event.type === 'refresh.failed');
    expect(failed).toMatchObject({ error: { code: 'UNCONFIGURED' } });
    expect(actor.getSnapshot().context.consecutiveFailures).toBe(1);
    actor.stop();
  });

  it('its default delays read Date.now: a one-hour token is not due right after the start', async () => {
    const actor = createActor(credentialMachine, { input: inputAt(Date.now()), clock: xstateDefaultClock() });
    actor.start();
    await macrotask();
    // a delay that read no clock would be NaN, which a timer fires at once
    expect(actor.getSnapshot().value.validity).toBe('fresh');
    actor.stop();
  });

  it('a mint actor rejecting with a bare error is an issuer failure dated at the attempt’s start', async () => {
    const failure = new Error('not a MintFailure');
    const machine = credentialMachine.provide({ actors: { mint: fromPromise(() => Promise.reject(failure)) } });
    const now = Date.now();
    const actor = createActor(machine, { input: inputAt(now, { unminted: true }), clock: xstateDefaultClock() });
    const emitted: CredentialEmittedEvent[] = [];
    actor.on('*', (event) => emitted.push(event as CredentialEmittedEvent));
    actor.start();
    actor.send({ type: 'token.requested', now });
    await macrotask();
    expect(emitted.find((event) => event.type === 'refresh.failed')).toMatchObject({ error: failure });
    // blamed on the issuer: it counts, and at threshold 1 it opens the breaker a cooldown after the attempt began
    const { value, context } = actor.getSnapshot();
    expect(value.breaker).toBe('open');
    expect(context.openUntil).toBe(context.attemptStartedAt! + defaultRefreshConfig.breakerCooldownMs);
    expect(context.consecutiveFailures).toBe(1);
    actor.stop();
  });
});

describe('poolMachine, unprovided', () => {
  it('its default cooldown delay reads Date.now: an issuer breaker opened now stays open past the next macrotask', async () => {
    const { poolMachine } = await import('../../machines/pool.machine.js');
    const policy = policyOf({ ...defaultRefreshConfig, breakerThreshold: 1 });
    const actor = createActor(poolMachine, { input: { policy: { ...policy, maxMintsInFlight: 4 } } });
    actor.start();
    actor.send({ type: 'issuer.failed', at: Date.now(), retryAfterMs: null, key: 'a' });
    expect(actor.getSnapshot().value.issuer).toBe('open');
    await macrotask();
    // a delay that read no clock would be NaN, which a timer fires at once
    expect(actor.getSnapshot().value.issuer).toBe('open');
    actor.stop();
  });
});
