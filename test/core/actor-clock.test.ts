/**
 * The statecharts run with `createActor` by a user, as `credentialMachine`'s and `poolMachine`'s
 * docs show: their delays read the actor's own clock (`actorNow`), and an `ActorClock` arms no timer
 * for a delay with no deadline and chunks one beyond 2^31-1 ms. Under XState's default clock
 * (`setTimeout`, which fires both after 1 ms) the retry's guard still starts no mint.
 */
import { describe, expect, it } from 'vitest';
import { createActor, fromPromise } from 'xstate';
import { credentialMachine } from '../../machines/credential.machine.js';
import type { CredentialEmittedEvent, CredentialInput, MintInput, MintOutput } from '../../machines/credential.types.js';
import { poolMachine } from '../../machines/pool.machine.js';
import { Secret } from '../../machines/secret.js';
import { ActorClock } from '../../src/actor-clock.js';
import { defaultRefreshConfig, policyOf, type RefreshConfig } from '../../src/config.js';
import { ManualClock } from '../../src/testing/index.js';
import { xstateDefaultClock } from './xstate-default-clock.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** The raw statechart on a manual clock, its mint actor never settling (a mint in flight stays in flight). */
function rawCredential(config: Partial<RefreshConfig>, token: CredentialInput['token'], extra: Partial<CredentialInput> = {}) {
  const clock = new ManualClock(0);
  const mint = fromPromise<MintOutput, MintInput>(() => new Promise<MintOutput>(() => {}));
  const input: CredentialInput = { policy: policyOf({ ...defaultRefreshConfig, ...config }), token, issuedAt: 0, jitter: 0, ...extra };
  const actor = createActor(credentialMachine.provide({ actors: { mint } }), { input, clock: new ActorClock(clock) });
  actor.start();
  return { clock, actor };
}

describe('credentialMachine with createActor and an ActorClock', () => {
  it('its delays read the actor’s clock, not Date.now: a token at manual time 0 is due at 80% of its life', () => {
    const { clock, actor } = rawCredential({}, { secret: new Secret('one-hour'), expiresAt: HOUR });
    // read from Date.now (years past time 0), the token would be due, and expired, at once
    expect(actor.getSnapshot().value.validity).toBe('fresh');
    clock.advance(0.8 * HOUR - 1);
    expect(actor.getSnapshot().value.validity).toBe('fresh');
    clock.advance(1);
    expect(actor.getSnapshot().value.validity).toBe('refreshDue');
    clock.advance(0.2 * HOUR);
    expect(actor.getSnapshot().value.validity).toBe('expired');
    actor.stop();
  });

  it('a token with no expiry arms no timer and stays fresh', () => {
    const { clock, actor } = rawCredential({ refresh: 'proactive' }, { secret: new Secret('forever'), expiresAt: null });
    expect(clock.pendingTimers).toBe(0);
    clock.advance(365 * DAY);
    expect(actor.getSnapshot().value).toMatchObject({ validity: 'fresh', flight: 'idle' });
    expect(actor.getSnapshot().context.attempt).toBe(0);
    actor.stop();
  });

  it('a 60-day token is not due 1 ms after it is issued, but at 80% of its life (48 days)', () => {
    const { clock, actor } = rawCredential({}, { secret: new Secret('sixty-days'), expiresAt: 60 * DAY });
    clock.advance(1);
    expect(actor.getSnapshot().value.validity).toBe('fresh');
    clock.advance(48 * DAY - 2);
    expect(actor.getSnapshot().value.validity).toBe('fresh');
    clock.advance(1);
    expect(actor.getSnapshot().value.validity).toBe('refreshDue');
    actor.stop();
  });

  it('mintTimeoutMs: Infinity never times the mint out', () => {
    const { clock, actor } = rawCredential({ mintTimeoutMs: Infinity }, { secret: new Secret('unminted'), expiresAt: null }, { unminted: true });
    actor.send({ type: 'token.requested', now: clock.now() });
    expect(actor.getSnapshot().value.flight).toBe('minting');
    clock.advance(30 * DAY);
    expect(actor.getSnapshot().value.flight).toBe('minting');
    actor.stop();
  });
});

describe('poolMachine with createActor and an ActorClock', () => {
  it('its cooldown reads the actor’s clock: open until the cooldown ends in manual time, then half-open', () => {
    const clock = new ManualClock(0);
    const policy = { ...policyOf({ ...defaultRefreshConfig, breakerThreshold: 1, breakerCooldownMs: 60_000 }), maxMintsInFlight: 4 };
    const actor = createActor(poolMachine, { input: { policy }, clock: new ActorClock(clock) }).start();
    actor.send({ type: 'issuer.failed', at: clock.now(), retryAfterMs: null, key: 'tenant-a' });
    clock.advance(60_000 - 1);
    expect(actor.getSnapshot().value.issuer).toBe('open');
    clock.advance(1);
    expect(actor.getSnapshot().value.issuer).toBe('halfOpen');
    actor.stop();
  });
});

describe("credentialMachine under XState's default clock", () => {
  it('the retry timer, fired after 1 ms for want of a deadline, starts no mint: no retry is scheduled', async () => {
    const timeoutClock = xstateDefaultClock();
    const now = Date.now();
    const input: CredentialInput = { policy: policyOf(defaultRefreshConfig), token: { secret: new Secret('cached'), expiresAt: now + HOUR }, issuedAt: now, jitter: 0 };
    const actor = createActor(credentialMachine, { input, clock: timeoutClock });
    const emitted: CredentialEmittedEvent[] = [];
    actor.on('*', (event) => emitted.push(event as CredentialEmittedEvent));
    actor.start();
    await new Promise((resolve) => setTimeout(resolve, 20));
    // the idle flight's retry timer (no retry: an infinite delay) was armed and has fired
    expect(timeoutClock.overflowed).toBeGreaterThanOrEqual(1);
    expect(actor.getSnapshot().value.flight).toBe('idle');
    expect(actor.getSnapshot().context.attempt).toBe(0);
    expect(emitted).toEqual([]);
    actor.stop();
  });
});
