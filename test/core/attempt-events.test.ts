/**
 * What a mint says about itself (`mint.step`, `mint.phase`) and its callers giving up
 * (`mint.abandoned`) count for the attempt in flight only: an earlier attempt's late word changes
 * nothing. The facade already stops sending once an attempt's signal is aborted; the statechart's
 * guards are the rule itself, tested here on the raw statechart. And an attempt started by the
 * token's expiry is dated at the expiry.
 */
import { describe, expect, it } from 'vitest';
import { createActor, fromPromise } from 'xstate';
import { credentialMachine } from '../../machines/credential.machine.js';
import type { CredentialInput, MintInput, MintOutput } from '../../machines/credential.types.js';
import { PROACTIVE_RETRY_BASE_MS } from '../../machines/policy.js';
import { Secret } from '../../machines/secret.js';
import { ActorClock } from '../../src/actor-clock.js';
import { defaultRefreshConfig, policyOf, type RefreshConfig } from '../../src/config.js';
import { ManualClock } from '../../src/testing/index.js';
import { flush } from '../helpers.js';

interface MintCall {
  readonly input: MintInput;
  readonly signal: AbortSignal;
  reject(error: unknown): void;
}

/** The raw statechart on a manual clock with a mint the test settles by hand. */
function rawCredential(config: Partial<RefreshConfig>, input: Omit<CredentialInput, 'policy' | 'jitter'>) {
  const clock = new ManualClock(0);
  const calls: MintCall[] = [];
  const mint = fromPromise<MintOutput, MintInput>(({ input: mintInput, signal }) => new Promise<MintOutput>((_resolve, reject) => calls.push({ input: mintInput, signal, reject })));
  const actor = createActor(credentialMachine.provide({ actors: { mint } }), {
    input: { policy: policyOf({ ...defaultRefreshConfig, ...config }), jitter: 0, ...input },
    clock: new ActorClock(clock),
  });
  actor.start();
  return { clock, actor, calls };
}

describe('an earlier attempt’s late word', () => {
  it('changes nothing while a later attempt is in flight; the attempt in flight’s own word counts', () => {
    const { clock, actor, calls } = rawCredential({}, { token: { secret: new Secret('placeholder'), expiresAt: null }, issuedAt: 0, unminted: true });
    const context = () => actor.getSnapshot().context;
    actor.send({ type: 'token.requested', now: clock.now() });
    expect(context().attempt).toBe(1);
    // every caller of the first (on-demand) attempt gave up: it is stopped, its signal aborted
    actor.send({ type: 'mint.abandoned', attempt: 1 });
    expect(actor.getSnapshot().value.flight).toBe('idle');
    expect(calls[0]!.signal.aborted).toBe(true);
    actor.send({ type: 'token.requested', now: clock.now() });
    expect(context().attempt).toBe(2);

    // the first attempt's late word
    actor.send({ type: 'mint.step', attempt: 1, step: 'the first attempt’s step' });
    actor.send({ type: 'mint.phase', attempt: 1, phase: 'waitingOnHolder' });
    actor.send({ type: 'mint.abandoned', attempt: 1 });
    expect(actor.getSnapshot().value).toMatchObject({ flight: 'minting', sharing: 'idle' });
    expect(context().attemptStep).toBeNull();
    expect(calls[1]!.signal.aborted).toBe(false);

    // the second attempt's own
    actor.send({ type: 'mint.step', attempt: 2, step: 'asking the issuer' });
    expect(context().attemptStep).toBe('asking the issuer');
    actor.send({ type: 'mint.phase', attempt: 2, phase: 'holdingLease' });
    expect(actor.getSnapshot().value.sharing).toBe('holdingLease');
    actor.send({ type: 'mint.abandoned', attempt: 2 });
    expect(actor.getSnapshot().value).toMatchObject({ flight: 'idle', sharing: 'idle' });
    expect(calls[1]!.signal.aborted).toBe(true);
    actor.stop();
  });
});

describe('an attempt started by the token’s expiry', () => {
  it('is dated at the expiry, when the backoff’s retry would come after it', async () => {
    // due at 8 s, expiring at 10 s; the second failure's backoff (2 s, from 9 s) ends past the expiry
    const { clock, actor, calls } = rawCredential({ refresh: 'proactive', refreshFloorMs: 0 }, { token: { secret: new Secret('ten-seconds'), expiresAt: 10_000 }, issuedAt: 0 });
    clock.advance(8_000);
    expect(calls).toHaveLength(1);
    calls[0]!.reject(new Error('down'));
    await flush();
    clock.advance(PROACTIVE_RETRY_BASE_MS);
    expect(calls).toHaveLength(2);
    calls[1]!.reject(new Error('down'));
    await flush();
    expect(actor.getSnapshot().context.retryAt).toBe(9_000 + 2 * PROACTIVE_RETRY_BASE_MS);
    clock.advance(10_000 - clock.now());
    expect(actor.getSnapshot().value).toMatchObject({ validity: 'expired', flight: 'minting' });
    expect(calls).toHaveLength(3);
    expect(calls[2]!.input.startedAt).toBe(10_000);
    expect(actor.getSnapshot().context.attemptStartedAt).toBe(10_000);
    actor.stop();
  });
});
