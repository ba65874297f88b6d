import { assertEvent, assign, emit, setup } from 'xstate';
import { retryAfterCooldownMs } from './policy.js';
import { poolDeadlineDelays } from './delays.js';
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
 * const actor = createActor(poolMachine, { input: { policy } }).start();
 * actor.send({ type: 'issuer.failed', at: Date.now(), retryAfterMs: 30_000, key: 'tenant-a' });
 * actor.getSnapshot().value; // { issuer: 'open', mints: 'belowCap' }
 * ```
 */
export const poolMachine = setup({
  types: {} as { context: PoolContext; events: PoolEvent; input: { policy: PoolPolicy }; emitted: PoolEmittedEvent },
  guards: {
    /** An issuer failure that says when to come back. */
    failureSetsRetryAfter: ({ event }) => {
      assertEvent(event, 'issuer.failed');
      return event.retryAfterMs !== null;
    },
    /** This issuer failure is the one that reaches the threshold. */
    failureReachesThreshold: ({ context }) => context.consecutiveFailures + 1 >= context.policy.breakerThreshold,
    /**
     * A failure of a mint that was already at the issuer when the breaker opened, saying to come back
     * later than the breaker's cooldown ends: the later, longer instruction wins.
     */
    retryAfterOutlastsCooldown: ({ context, event }) => {
      assertEvent(event, 'issuer.failed');
      // `?? -Infinity` is never taken: this guard runs only in `open`, and every way into `open` sets `openUntil`
      return event.retryAfterMs !== null && event.at + retryAfterCooldownMs(context.policy, event.retryAfterMs, false) > (context.openUntil ?? -Infinity);
    },
    /** A mint asks after the cooldown ended by the clock, before its (late) timer fired. */
    requestFindsCooldownElapsed: ({ context, event }) => {
      assertEvent(event, 'mint.requested');
      return context.openUntil !== null && event.now >= context.openUntil;
    },
  },
  // Replaced by the pool facade (it reads the pool's clock); these read `Date.now`.
  delays: poolDeadlineDelays(() => Date.now()),
  actions: {
    countFailure: assign({ consecutiveFailures: ({ context }) => context.consecutiveFailures + 1 }),
    resetFailures: assign({ consecutiveFailures: 0, probing: false }),
    openBreaker: assign(({ context, event }) => {
      assertEvent(event, 'issuer.failed');
      return { consecutiveFailures: context.consecutiveFailures + 1, openUntil: event.at + context.policy.breakerCooldownMs, openReason: 'failures' as const, probing: false };
    }),
    openBreakerForRetryAfter: assign(({ context, event }) => {
      assertEvent(event, 'issuer.failed');
      return {
        consecutiveFailures: context.consecutiveFailures + 1,
        openUntil: Math.max(
          event.at + retryAfterCooldownMs(context.policy, event.retryAfterMs ?? 0, context.consecutiveFailures + 1 >= context.policy.breakerThreshold),
          context.openUntil ?? -Infinity,
        ),
        openReason: 'retry-after' as const,
        probing: false,
      };
    }),
    endCooldown: assign({ openUntil: null, openReason: null }),
    markProbing: assign({ probing: true }),
    unmarkProbing: assign({ probing: false }),
    emitIssuerBreakerChanged: emit(({ context, event }, change: { from: BreakerState; to: BreakerState }) => {
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
  context: ({ input }) => ({ policy: input.policy, consecutiveFailures: 0, openUntil: null, openReason: null, probing: false }),
  states: {
    issuer: {
      initial: 'closed',
      states: {
        closed: {
          on: {
            'issuer.failed': [
              {
                guard: 'failureSetsRetryAfter',
                target: 'open',
                actions: ['openBreakerForRetryAfter', { type: 'emitIssuerBreakerChanged', params: { from: 'closed', to: 'open' } }],
              },
              {
                guard: 'failureReachesThreshold',
                target: 'open',
                actions: ['openBreaker', { type: 'emitIssuerBreakerChanged', params: { from: 'closed', to: 'open' } }],
              },
              { actions: 'countFailure' },
            ],
            'issuer.answered': { actions: 'resetFailures' },
          },
        },
        open: {
          after: {
            untilCooldownEnds: {
              target: 'halfOpen',
              actions: ['endCooldown', { type: 'emitIssuerBreakerChanged', params: { from: 'open', to: 'halfOpen' } }],
            },
          },
          on: {
            // re-entered, so that the cooldown's timer is armed anew for the later end
            'issuer.failed': { guard: 'retryAfterOutlastsCooldown', target: 'open', reenter: true, actions: 'openBreakerForRetryAfter' },
            'mint.requested': {
              guard: 'requestFindsCooldownElapsed',
              target: 'halfOpen',
              actions: ['endCooldown', { type: 'emitIssuerBreakerChanged', params: { from: 'open', to: 'halfOpen' } }],
            },
          },
        },
        halfOpen: {
          on: {
            'probe.started': { actions: 'markProbing' },
            'probe.abandoned': { actions: 'unmarkProbing' },
            'issuer.answered': {
              target: 'closed',
              actions: ['resetFailures', { type: 'emitIssuerBreakerChanged', params: { from: 'halfOpen', to: 'closed' } }],
            },
            'issuer.failed': [
              {
                guard: 'failureSetsRetryAfter',
                target: 'open',
                actions: ['openBreakerForRetryAfter', { type: 'emitIssuerBreakerChanged', params: { from: 'halfOpen', to: 'open' } }],
              },
              {
                target: 'open',
                actions: ['openBreaker', { type: 'emitIssuerBreakerChanged', params: { from: 'halfOpen', to: 'open' } }],
              },
            ],
          },
        },
      },
    },
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
