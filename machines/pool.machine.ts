import { assertEvent, assign, emit, setup } from 'xstate';
import {
  breakerRegion,
  CLOSED_BREAKER,
  cooldownElapsedAt,
  countedFailure,
  lengthenedByRetryAfter,
  openedByFailures,
  openedByRetryAfter,
  reachesThreshold,
  retryAfterOutlastsOpening,
} from './breaker.js';
import { actorNow, poolDeadlineDelays } from './delays.js';
import type { BreakerState } from './credential.types.js';
import type { PoolContext, PoolEmittedEvent, PoolEvent, PoolPolicy } from './pool.types.js';

/**
 * What a pool of credentials shares: one breaker for the issuer, and a cap on mints in flight.
 *
 * - `issuer`: `closed` counts consecutive issuer failures across every key (a key's own refusal,
 *   a 401 for one tenant, is an answer: it resets the count); at the threshold, or at once on a
 *   `Retry-After`, it is `open` and every key's mint is refused without reaching the issuer; when
 *   the cooldown ends it is `halfOpen` and lets exactly one probe through for the whole pool.
 * - `mints`: `belowCap` while fewer than `maxMintsInFlight` mints hold a permit, else `atCap`
 *   (the facade holds the permits and queues the rest in arrival order; it tells the statechart
 *   when the last permit is taken and when one is free again).
 *
 * @example
 * ```ts
 * const actor = createActor(poolMachine, { input: { policy }, clock: new ActorClock(systemClock) }).start();
 * actor.send({ type: 'issuer.failed', at: Date.now(), retryAfterMs: 30_000, key: 'tenant-a' });
 * actor.getSnapshot().value; // { issuer: 'open', mints: 'belowCap' }
 * ```
 */
export const poolMachine = setup({
  types: {} as { context: PoolContext; events: PoolEvent; input: { policy: PoolPolicy }; emitted: PoolEmittedEvent },
  guards: {
    /** Every issuer failure counts (a key's own refusal is an answer, `issuer.answered`). */
    failureCounts: () => true,
    /** An issuer failure that says when to come back. */
    failureSetsRetryAfter: ({ event }) => {
      assertEvent(event, 'issuer.failed');
      return event.retryAfterMs !== null;
    },
    /** This issuer failure is the one that reaches the threshold. */
    failureReachesThreshold: ({ context }) => reachesThreshold(context, context.policy),
    /**
     * A failure of a mint that was already at the issuer when the breaker opened, saying to come back
     * later than the breaker's cooldown ends: the later, longer instruction wins.
     */
    retryAfterOutlastsCooldown: ({ context, event }) => {
      assertEvent(event, 'issuer.failed');
      return retryAfterOutlastsOpening(context, context.policy, event);
    },
    /** A mint asks after the cooldown ended by the clock, before its (late) timer fired. */
    requestFindsCooldownElapsed: ({ context, event }) => {
      assertEvent(event, 'mint.requested');
      return cooldownElapsedAt(context, event.now);
    },
  },
  // the actor's own clock, the pool's (an ActorClock), or Date.now under XState's default clock
  delays: poolDeadlineDelays(actorNow),
  actions: {
    countFailure: assign(({ context }) => countedFailure(context)),
    resetFailures: assign({ consecutiveFailures: 0, probing: false }),
    openBreaker: assign(({ context, event }) => {
      assertEvent(event, 'issuer.failed');
      return { ...openedByFailures(context, context.policy, event), probing: false };
    }),
    openBreakerForRetryAfter: assign(({ context, event }, { from }: { from: 'closed' | 'halfOpen' }) => {
      assertEvent(event, 'issuer.failed');
      return { ...openedByRetryAfter(context, context.policy, event, from), probing: false };
    }),
    lengthenOpening: assign(({ context, event }) => {
      assertEvent(event, 'issuer.failed');
      return lengthenedByRetryAfter(context, context.policy, event);
    }),
    endCooldown: assign({ openUntil: null, openReason: null }),
    markProbing: assign({ probing: true }),
    unmarkProbing: assign({ probing: false }),
    emitBreakerChanged: emit(({ context, event }, change: { from: BreakerState; to: BreakerState }) => {
      const key = 'key' in event ? event.key : null;
      // `openUntil` is set exactly when the change is to `open`: every opening action sets it before
      // this emits, and every other change clears it first (`endCooldown`), so it alone decides
      return context.openUntil !== null
        ? { type: 'issuer.breaker.changed' as const, ...change, openUntil: context.openUntil, reason: context.openReason ?? ('failures' as const), key }
        : { type: 'issuer.breaker.changed' as const, ...change, key };
    }),
  },
}).createMachine({
  id: 'pool',
  type: 'parallel',
  context: ({ input }) => ({ policy: input.policy, ...CLOSED_BREAKER, probing: false }),
  states: {
    issuer: breakerRegion({
      failed: 'issuer.failed',
      answered: 'issuer.answered',
      requested: 'mint.requested',
      // many keys' mints: one that was at the issuer when it opened fails later
      heardWhileOpen: true,
      // one probe for the whole pool: the gate marks it
      halfOpen: { 'probe.started': { actions: 'markProbing' }, 'probe.abandoned': { actions: 'unmarkProbing' } } as const,
    }),
    mints: {
      initial: 'belowCap',
      states: {
        belowCap: { on: { 'mints.saturated': 'atCap' } },
        atCap: { on: { 'mints.available': 'belowCap' } },
      },
    },
  },
});

/** The pool statechart's type, for `pool.actor`. */
export type PoolMachine = typeof poolMachine;
