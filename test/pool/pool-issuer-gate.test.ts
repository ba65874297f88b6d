/**
 * The pool's issuer gate on its own, driven directly: what it counts, what it admits, which pass is
 * the half-open probe, what an abandoned attempt tells the breaker, and what a pass told twice does.
 * Written for the survivors of mutation testing (`npm run mutate:gate`); the pool suites see the gate
 * only through whole pools.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import { CredentialError } from '../../machines/credential-error.js';
import { MintFailure } from '../../machines/mint-failure.js';
import { poolMachine } from '../../machines/pool.machine.js';
import type { MintPass } from '../../src/mint.js';
import { IssuerGate } from '../../src/pool/issuer-gate.js';
import { ManualClock } from '../../src/testing/index.js';

const COOLDOWN = 10_000;
const MINT_TIMEOUT = 3_000;
const actors: { stop(): void }[] = [];
afterEach(() => {
  for (const actor of actors.splice(0)) actor.stop();
});

function startGate(maxMintsInFlight = 4, breakerThreshold = 1) {
  const clock = new ManualClock(0);
  // the cooldown's timer never fires here: the gate's own look at the clock ends it (the late-timer path)
  const machine = poolMachine.provide({ delays: { untilCooldownEnds: () => 2 ** 31 - 1 } });
  const actor = createActor(machine, { input: { policy: { breakerThreshold, breakerCooldownMs: COOLDOWN, maxRetryAfterMs: 600_000, maxMintsInFlight } } });
  actor.start();
  actors.push(actor);
  const gate = new IssuerGate(actor, clock, maxMintsInFlight, MINT_TIMEOUT);
  const enter = (key: string, signal = new AbortController().signal) => gate.forKey(key).enter(signal);
  const issuerFailure = () => new MintFailure(new Error('503'), clock.now(), { blame: 'issuer' });
  return { clock, actor, gate, enter, issuerFailure };
}
const refusalOf = async (entering: Promise<MintPass>) =>
  (await entering.then(
    () => null,
    (error: unknown) => error,
  )) as MintFailure | null;

describe('the issuer gate', () => {
  it('tells the statechart nothing of healthy mints while closed with no failure counted (an inspector sees no event per mint); an answer after a failure it does tell', async () => {
    const clock = new ManualClock(0);
    const events: string[] = [];
    const actor = createActor(poolMachine, {
      input: { policy: { breakerThreshold: 3, breakerCooldownMs: COOLDOWN, maxRetryAfterMs: 600_000, maxMintsInFlight: 4 } },
      inspect: (inspection) => {
        if (inspection.type === '@xstate.event' && inspection.actorRef === actor) events.push(inspection.event.type);
      },
    });
    actor.start();
    actors.push(actor);
    events.length = 0; // the actor's own start
    const gate = new IssuerGate(actor, clock, 4, MINT_TIMEOUT);
    for (const key of ['a', 'b', 'a']) (await gate.forKey(key).enter(new AbortController().signal)).settle('answered');
    expect(events).toEqual([]);
    (await gate.forKey('c').enter(new AbortController().signal)).settle(new MintFailure(new Error('503'), clock.now(), { blame: 'issuer' }));
    (await gate.forKey('a').enter(new AbortController().signal)).settle('answered');
    expect(events).toEqual(['issuer.failed', 'issuer.answered']);
    expect(actor.getSnapshot().context.consecutiveFailures).toBe(0);
  });

  it('counts attempts from entry to settlement, refused ones not at all', async () => {
    const { gate, enter, issuerFailure } = startGate();
    expect(gate.attempts).toBe(0);
    const a = await enter('a');
    const b = await enter('b');
    expect(gate.attempts).toBe(2);
    a.settle('answered');
    expect(gate.attempts).toBe(1);
    b.settle(issuerFailure()); // threshold 1: the breaker opens
    expect(gate.attempts).toBe(0);
    expect(await refusalOf(enter('c'))).toBeInstanceOf(MintFailure);
    expect(gate.attempts).toBe(0);
  });

  it('a pass told twice settles once: one permit back, one attempt less, one failure counted', async () => {
    const { gate, actor, enter, issuerFailure } = startGate(4, 3);
    const a = await enter('a');
    await enter('b');
    a.settle(issuerFailure());
    a.settle(issuerFailure());
    expect(gate.attempts).toBe(1);
    expect(gate.permits.inFlight).toBe(1);
    expect(actor.getSnapshot().context.consecutiveFailures).toBe(1);
  });

  it('closed, it admits nothing, refused with the first reason it was closed for, blamed on nobody', async () => {
    const { gate, enter } = startGate();
    const first = new CredentialError('STOPPED', 'the credential pool was stopped');
    gate.close(first);
    gate.close(new CredentialError('STOPPED', 'a second stop'));
    const refusal = await refusalOf(enter('a'));
    expect(refusal).toBeInstanceOf(MintFailure);
    expect(refusal!.cause).toBe(first);
    expect(refusal!.blame).toBe('nobody');
  });

  it('an abandoned attempt is no failure: it never opens the breaker', async () => {
    const { actor, enter } = startGate(4, 1);
    (await enter('a')).settle('abandoned');
    (await enter('b')).settle(new MintFailure(new Error('gave up'), 0, { blame: 'nobody' }));
    expect(actor.getSnapshot().value.issuer).toBe('closed');
    expect(actor.getSnapshot().context.consecutiveFailures).toBe(0);
  });

  it('half-open, one pass is the probe; abandoned, it lets the next one probe; an older pass leaving changes nothing', async () => {
    const { clock, actor, enter, issuerFailure } = startGate(4, 1);
    const older = await enter('older'); // admitted while closed, still at the issuer
    (await enter('a')).settle(issuerFailure()); // opens the breaker
    expect(actor.getSnapshot().value.issuer).toBe('open');
    clock.set(COOLDOWN); // the cooldown is over by the clock
    const probe = await enter('probe');
    expect(actor.getSnapshot().value.issuer).toBe('halfOpen');
    expect(actor.getSnapshot().context.probing).toBe(true);
    const refused = await refusalOf(enter('second'));
    // while the probe is out: come back when it must have settled, at its deadline
    expect(refused!.cause).toMatchObject({ code: 'BREAKER_OPEN', openUntil: null, retryAfterMs: MINT_TIMEOUT });
    expect(refused!.retryAfterMs).toBe(MINT_TIMEOUT);
    clock.advance(1_000);
    expect((await refusalOf(enter('later')))!.retryAfterMs).toBe(MINT_TIMEOUT - 1_000);
    older.settle('abandoned'); // not the probe: the probe is still out
    expect(actor.getSnapshot().context.probing).toBe(true);
    expect(await refusalOf(enter('third'))).toBeInstanceOf(MintFailure);
    probe.settle('abandoned'); // the probe itself: another may go
    expect(actor.getSnapshot().context.probing).toBe(false);
    const next = await enter('next');
    expect(actor.getSnapshot().context.probing).toBe(true);
    next.settle('answered');
    expect(actor.getSnapshot().value.issuer).toBe('closed');
  });

  it('half-open, a failure blamed on nobody lets the next one probe only if it was the probe; a key’s own refusal is the issuer answering', async () => {
    const { clock, actor, enter, issuerFailure } = startGate(4, 1);
    const nobodys = () => new MintFailure(new Error('no refresh token: sign in'), clock.now(), { blame: 'nobody' });
    const older = await enter('older');
    (await enter('a')).settle(issuerFailure());
    clock.set(COOLDOWN);
    const probe = await enter('probe');
    older.settle(nobodys()); // not the probe
    expect(actor.getSnapshot().context.probing).toBe(true);
    probe.settle(nobodys()); // the probe: the issuer said nothing, another may go
    expect(actor.getSnapshot().value.issuer).toBe('halfOpen');
    expect(actor.getSnapshot().context.probing).toBe(false);
    (await enter('next')).settle(new MintFailure(Object.assign(new Error('invalid_client'), { status: 401 }), clock.now(), { blame: 'key' }));
    expect(actor.getSnapshot().value.issuer).toBe('closed');
    expect(actor.getSnapshot().context.consecutiveFailures).toBe(0);
  });

  it('while the probe is out, a refusal asks to wait until its deadline, a cooldown at most (mintTimeoutMs may be Infinity)', async () => {
    const clock = new ManualClock(0);
    const actor = createActor(poolMachine, { input: { policy: { breakerThreshold: 1, breakerCooldownMs: COOLDOWN, maxRetryAfterMs: 1_000, maxMintsInFlight: 4 } } });
    actor.start();
    actors.push(actor);
    const gate = new IssuerGate(actor, clock, 4, Infinity);
    (await gate.forKey('a').enter(new AbortController().signal)).settle(new MintFailure(new Error('503'), 0, { blame: 'issuer' }));
    clock.set(COOLDOWN);
    await gate.forKey('probe').enter(new AbortController().signal);
    const refused = await refusalOf(gate.forKey('b').enter(new AbortController().signal));
    expect(refused!.retryAfterMs).toBe(COOLDOWN);
  });

  it('opened by a Retry-After, a refusal says so', async () => {
    const { clock, enter } = startGate(4, 3);
    (await enter('a')).settle(new MintFailure(new Error('429'), clock.now(), { blame: 'issuer', retryAfterMs: 30_000 }));
    const refused = await refusalOf(enter('b'));
    expect(refused!.cause).toMatchObject({ code: 'BREAKER_OPEN', reason: 'retry-after', openUntil: 30_000 });
  });

  it('while open, a refusal says when to come back', async () => {
    const { clock, enter, issuerFailure } = startGate(4, 1);
    (await enter('a')).settle(issuerFailure());
    clock.set(4_000);
    const refused = await refusalOf(enter('b'));
    expect(refused!.retryAfterMs).toBe(COOLDOWN - 4_000);
    expect(refused!.cause).toMatchObject({ code: 'BREAKER_OPEN', scope: 'issuer', openUntil: COOLDOWN, retryAfterMs: COOLDOWN - 4_000 });
  });

  it('at its cap it says so, and stays at cap while a queued attempt takes the permit another released', async () => {
    const { actor, gate, enter } = startGate(1);
    const a = await enter('a');
    expect(actor.getSnapshot().value.mints).toBe('atCap');
    const queued = enter('b');
    expect(gate.permits.queued).toBe(1);
    a.settle('answered'); // its permit goes straight to the queued attempt: still at cap, not a moment below
    expect(gate.permits.inFlight).toBe(1);
    expect(actor.getSnapshot().value.mints).toBe('atCap');
    const b = await queued;
    expect(gate.permits.inFlight).toBe(1);
    expect(actor.getSnapshot().value.mints).toBe('atCap');
    b.settle('answered');
    expect(actor.getSnapshot().value.mints).toBe('belowCap');
  });
});
