import { assertEvent, assign, emit, fromPromise, raise, setup, stateIn } from 'xstate';
import { CredentialError, mintTimeoutError } from './credential-error.js';
import type { AttemptKind, BreakerState, CredentialContext, CredentialEmittedEvent, CredentialEvent, CredentialInput, MintInput, MintOutput, SharedMintPhase } from './credential.types.js';
import { breakerRegion, CLOSED_BREAKER, cooldownElapsedAt, countedFailure, openedByFailures, openedByRetryAfter, reachesThreshold } from './breaker.js';
import { actorNow, deadlineDelays } from './delays.js';
import { MintFailure } from './mint-failure.js';
import { readThrown, summaryOf } from './thrown.js';
import { breakerAdmitsAt, invalidationAllowedAt, isRefreshDueAt, isTokenUnusableAt, needsMintAt, proactiveRetryAt, failureCountsHere, remainingSeconds, scheduledRefreshAt } from './policy.js';

/**
 * The credential's life as a parallel statechart.
 *
 * - `validity`: `fresh` until the refresh instant, `refreshDue` until expiry, then `expired`.
 * - `breaker`: `closed` counts consecutive mint failures; at the threshold it is `open` for a
 *   cooldown, then `halfOpen` lets one probe through.
 * - `flight`: at most one mint, `invoke`d from `minting` so that leaving the state (outcome,
 *   timeout, abandonment, stop) always stops it and aborts its signal.
 *
 * Time enters as data: every event a caller sends carries its clock reading, the mint actor
 * stamps its outcome, and each timer's transition knows its own deadline. So every guard and
 * action is a pure function of context and event; only the delays read a clock: the actor's own
 * (`actorNow`). The provider swaps the `mint` actor in with `.provide()`, once for every provider
 * (see `src/environment.ts`).
 *
 * Run it yourself with an `ActorClock`: XState's default clock is `setTimeout`, which fires a
 * delay it cannot hold (no deadline at all, or more than 24.8 days away) after 1 ms.
 *
 * @example
 * ```ts
 * // the mint actor resolves with a checked token, when it landed, and its jitter sample
 * const mint = fromPromise(async () => ({ token: await fetchToken(), settledAt: Date.now(), jitter: 0 }));
 * const actor = createActor(credentialMachine.provide({ actors: { mint } }), {
 *   input: { policy, token, issuedAt: Date.now(), jitter: 0 },
 *   clock: new ActorClock(systemClock),
 * }).start();
 * actor.getSnapshot().value; // { validity: 'fresh', breaker: 'closed', flight: 'idle' }
 * ```
 */
export const credentialMachine = setup({
  types: {} as {
    context: CredentialContext;
    events: CredentialEvent;
    input: CredentialInput;
    emitted: CredentialEmittedEvent;
  },
  actors: {
    /** Replaced by the provider; unprovided, every mint fails as `UNCONFIGURED`. */
    mint: fromPromise<MintOutput, MintInput>(({ input }) => Promise.reject(new MintFailure(new CredentialError('UNCONFIGURED', 'no mint was provided'), input.startedAt))),
  },
  guards: {
    /** The mint in flight, shared across processes, waits for the process holding the lease. */
    phaseIsWaitingOnHolder: ({ context, event }) => isPhaseOfCurrentAttempt(context, event, 'waitingOnHolder'),
    /** The mint in flight adopts the token another process shared. */
    phaseIsAdopting: ({ context, event }) => isPhaseOfCurrentAttempt(context, event, 'adopting'),
    /** The mint in flight holds the fleet's lease: this process calls the issuer. */
    phaseIsHoldingLease: ({ context, event }) => isPhaseOfCurrentAttempt(context, event, 'holdingLease'),
    /** The mint has settled, timed out or been abandoned. */
    noMintInFlight: stateIn('#credential.flight.idle'),
    /** A caller found the token expired or refused. */
    requestFindsTokenUnusable: ({ context, event }) => {
      assertEvent(event, 'token.requested');
      return isTokenUnusableAt(context, event.now);
    },
    /** A caller found the token past its refresh instant. */
    requestFindsRefreshDue: ({ context, event }) => {
      assertEvent(event, 'token.requested');
      return isRefreshDueAt(context, event.now);
    },
    /** A caller arrived after the cooldown ended but before its (late) timer fired. */
    requestFindsCooldownElapsed: ({ context, event }) => {
      assertEvent(event, 'token.requested');
      return cooldownElapsedAt(context, event.now);
    },
    /** A caller needs a new token and the breaker lets a mint through. */
    requestAdmitsMint: ({ context, event }) => {
      assertEvent(event, 'token.requested');
      return needsMintAt(context, event.now) && breakerAdmitsAt(context, event.now);
    },
    /**
     * Proactive mode, a mint is needed at the deadline that fired, and the breaker is closed or
     * half-open (no cooldown pending). A token's deadline that fires while the breaker is still
     * open, even at or past its cooldown's end (the token's timer, set first, fires first), starts
     * no mint: the cooldown's own timer, due by then, starts it as the probe, so that its outcome counts.
     */
    proactiveMintAdmitted: ({ context, event }) => {
      assertEvent(event, ['refresh.due', 'breaker.cooledDown']);
      return context.policy.refresh === 'proactive' && needsMintAt(context, event.at) && context.openUntil === null;
    },
    /** A proactive retry is scheduled and the breaker lets it through. */
    retryAdmitted: ({ context }) => context.retryAt !== null && breakerAdmitsAt(context, context.retryAt),
    /** The minted token had expired by the time it landed. */
    mintedTokenAlreadyExpired: ({ event }) => {
      assertEvent(event, 'xstate.done.actor.mint');
      const { token, settledAt } = event.output;
      return token.expiresAt !== null && settledAt >= token.expiresAt;
    },
    /** This breaker counts this failure (a pool's key counts only its own; see `failureCountsHere`). */
    failureCounts: ({ context, event }) => {
      assertEvent(event, 'mint.failed');
      return failureCountsHere(context, event.blame);
    },
    /** A counted failure that says when to come back (`Retry-After`): the breaker opens at once, until then. */
    failureSetsRetryAfter: ({ context, event }) => {
      assertEvent(event, 'mint.failed');
      return failureCountsHere(context, event.blame) && event.retryAfterMs !== null;
    },
    /** A counted failure that is the one reaching the breaker's threshold. */
    failureReachesThreshold: ({ context, event }) => {
      assertEvent(event, 'mint.failed');
      return failureCountsHere(context, event.blame) && reachesThreshold(context, context.policy);
    },
    /** Every caller of the current on-demand attempt gave up (a background refresh is never abandoned). */
    abandonsCurrentAttempt: ({ context, event }) => {
      assertEvent(event, 'mint.abandoned');
      return event.attempt === context.attempt && context.attemptKind === 'demand';
    },
    /** The mint in flight said what it is doing (not an earlier attempt's late word). */
    stepOfCurrentAttempt: ({ context, event }) => {
      assertEvent(event, 'mint.step');
      return event.attempt === context.attempt;
    },
    /** The token is not already refused and the last invalidation is old enough (or the session was replaced: `force`). */
    invalidationAllowed: ({ context, event }) => {
      assertEvent(event, 'token.invalidated');
      return event.force === true || invalidationAllowedAt(context, event.now);
    },
  },
  delays: deadlineDelays(actorNow),
  actions: {
    cacheMintedToken: assign(({ context, event }) => {
      assertEvent(event, 'mint.succeeded');
      const { token, settledAt, jitter } = event.output;
      return {
        token,
        issuedAt: settledAt,
        refreshDueAt: scheduledRefreshAt(context.policy, settledAt, token.expiresAt, jitter, token.refreshAfter),
        tokenRejected: false,
        lastFailure: null,
      };
    }),
    recordAttemptStep: assign(({ event }) => {
      assertEvent(event, 'mint.step');
      return { attemptStep: event.step };
    }),
    recordFailure: assign(({ event }) => {
      assertEvent(event, 'mint.failed');
      return { lastFailure: event.summary };
    }),
    rejectCachedToken: assign(({ event }) => {
      assertEvent(event, 'token.invalidated');
      return { tokenRejected: true, lastInvalidatedAt: event.now };
    }),
    announceRefreshDue: raise(({ context }) => ({
      type: 'refresh.due' as const,
      at: Math.min(context.refreshDueAt ?? Infinity, context.token.expiresAt ?? Infinity),
    })),
    announceExpiry: raise(({ context }) => ({ type: 'refresh.due' as const, at: context.token.expiresAt ?? Infinity })),
    countFailure: assign(({ context }) => countedFailure(context)),
    openBreaker: assign(({ context, event }) => {
      assertEvent(event, 'mint.failed');
      return openedByFailures(context, context.policy, event);
    }),
    openBreakerForRetryAfter: assign(({ context, event }, { from }: { from: 'closed' | 'halfOpen' }) => {
      assertEvent(event, 'mint.failed');
      return openedByRetryAfter(context, context.policy, event, from);
    }),
    announceCooldownEnded: raise(({ context }) => ({ type: 'breaker.cooledDown' as const, at: context.openUntil ?? 0 })),
    endCooldown: assign({ openUntil: null, openReason: null }),
    resetFailures: assign({ consecutiveFailures: 0 }),
    emitBreakerChanged: emit(({ context }, change: { from: BreakerState; to: BreakerState }) =>
      change.to === 'open' && context.openUntil !== null
        ? { type: 'breaker.changed' as const, ...change, openUntil: context.openUntil, reason: context.openReason ?? 'failures' }
        : { type: 'breaker.changed' as const, ...change },
    ),
    beginRequestedAttempt: assign(({ context, event }) => {
      assertEvent(event, 'token.requested');
      return attemptStarted(context, isTokenUnusableAt(context, event.now) ? 'demand' : 'background', event.now);
    }),
    beginScheduledAttempt: assign(({ context, event }) => {
      assertEvent(event, ['refresh.due', 'breaker.cooledDown']);
      return attemptStarted(context, 'background', event.at);
    }),
    beginRetryAttempt: assign(({ context }) => attemptStarted(context, 'background', context.retryAt ?? 0)),
    raiseMintSucceeded: raise(({ event }) => {
      assertEvent(event, 'xstate.done.actor.mint');
      return { type: 'mint.succeeded' as const, output: event.output };
    }),
    raiseMintedTokenExpired: raise(({ event }) => {
      assertEvent(event, 'xstate.done.actor.mint');
      const error = new CredentialError('MINTED_TOKEN_ALREADY_EXPIRED', `the minted token expired at ${event.output.token.expiresAt} but landed at ${event.output.settledAt}`);
      // the issuer minted something unusable for this key
      return { type: 'mint.failed' as const, error, at: event.output.settledAt, blame: 'key' as const, retryAfterMs: null, summary: summaryOf(readThrown(error)) };
    }),
    raiseMintFailed: raise(({ context, event }) => {
      assertEvent(event, 'xstate.error.actor.mint');
      const failure = event.error;
      return failure instanceof MintFailure
        ? { type: 'mint.failed' as const, error: failure.cause, at: failure.failedAt, blame: failure.blame, retryAfterMs: failure.retryAfterMs, summary: failure.summary }
        : { type: 'mint.failed' as const, error: failure, at: context.attemptStartedAt ?? 0, blame: 'issuer' as const, retryAfterMs: null, summary: summaryOf(readThrown(failure)) };
    }),
    raiseMintTimedOut: raise(({ context }) => {
      const error = mintTimeoutError(context.policy.mintTimeoutMs, 'the mint', context.attemptStep);
      return {
        type: 'mint.failed' as const,
        error,
        at: (context.attemptStartedAt ?? 0) + context.policy.mintTimeoutMs,
        blame: 'issuer' as const,
        retryAfterMs: null,
        summary: summaryOf(readThrown(error)),
      };
    }),
    scheduleRetry: assign({
      retryAt: ({ context, event }) => {
        assertEvent(event, 'mint.failed');
        return proactiveRetryAt(context, event.at, event.retryAfterMs, event.blame);
      },
    }),
    emitRefreshSucceeded: emit(({ event }) => {
      assertEvent(event, 'mint.succeeded');
      const { token, settledAt } = event.output;
      return { type: 'refresh.succeeded' as const, remainingSeconds: remainingSeconds(token, false, settledAt) };
    }),
    emitRefreshFailed: emit(({ context, event }) => {
      assertEvent(event, 'mint.failed');
      return {
        type: 'refresh.failed' as const,
        remainingSeconds: remainingSeconds(context.token, isTokenUnusableAt(context, event.at), event.at),
        error: event.error,
      };
    }),
  },
}).createMachine({
  id: 'credential',
  type: 'parallel',
  context: ({ input }) => ({
    policy: input.policy,
    token: input.token,
    issuedAt: input.issuedAt,
    refreshDueAt: input.resumed === undefined ? scheduledRefreshAt(input.policy, input.issuedAt, input.token.expiresAt, input.jitter, input.token.refreshAfter) : input.resumed.refreshDueAt,
    // a pool's key starts with no token: its placeholder counts as refused, so it is never served
    tokenRejected: input.unminted === true,
    lastInvalidatedAt: input.resumed?.lastInvalidatedAt ?? null,
    ...CLOSED_BREAKER,
    attempt: 0,
    attemptKind: null,
    attemptStartedAt: null,
    attemptStep: null,
    retryAt: null,
    lastFailure: null,
  }),
  states: {
    validity: {
      initial: 'fresh',
      on: {
        'mint.succeeded': { target: '.fresh', actions: 'cacheMintedToken' },
        'token.invalidated': { guard: 'invalidationAllowed', target: '.expired', actions: 'rejectCachedToken' },
      },
      states: {
        fresh: {
          // Drawn in the pictures and shown by the Stately inspector: the one place the statechart
          // acts on `refreshDueAt()` differently from the original (see `scheduledRefreshAt`).
          description: 'until scheduledRefreshAt, which is refreshDueAt except that a token due at issue waits for refreshAt of its life',
          after: { untilRefreshDue: { target: 'refreshDue', actions: 'announceRefreshDue' } },
          on: {
            'token.requested': [
              { guard: 'requestFindsTokenUnusable', target: 'expired' },
              { guard: 'requestFindsRefreshDue', target: 'refreshDue' },
            ],
          },
        },
        refreshDue: {
          after: { untilExpiry: { target: 'expired', actions: 'announceExpiry' } },
          on: {
            'token.requested': { guard: 'requestFindsTokenUnusable', target: 'expired' },
          },
        },
        expired: {},
      },
    },
    breaker: breakerRegion({
      failed: 'mint.failed',
      answered: 'mint.succeeded',
      requested: 'token.requested',
      // one mint in flight: no failure is ever heard while open
      heardWhileOpen: false,
      // the cooldown's end starts a proactive mint as the probe
      onCooldownEnded: ['announceCooldownEnded'],
    }),
    flight: {
      initial: 'idle',
      states: {
        idle: {
          after: { untilRetry: { guard: 'retryAdmitted', target: 'minting', actions: 'beginRetryAttempt' } },
          on: {
            'token.requested': { guard: 'requestAdmitsMint', target: 'minting', actions: 'beginRequestedAttempt' },
            'refresh.due': { guard: 'proactiveMintAdmitted', target: 'minting', actions: 'beginScheduledAttempt' },
            'breaker.cooledDown': { guard: 'proactiveMintAdmitted', target: 'minting', actions: 'beginScheduledAttempt' },
            'mint.succeeded': { actions: 'emitRefreshSucceeded' },
            'mint.failed': { target: 'idle', reenter: true, actions: ['recordFailure', 'scheduleRetry', 'emitRefreshFailed'] },
          },
        },
        minting: {
          invoke: {
            id: 'mint',
            src: 'mint',
            input: ({ context, self }) => ({ attempt: context.attempt, startedAt: context.attemptStartedAt ?? 0, parent: self }),
            onDone: [
              { guard: 'mintedTokenAlreadyExpired', target: 'idle', actions: 'raiseMintedTokenExpired' },
              { target: 'idle', actions: 'raiseMintSucceeded' },
            ],
            onError: { target: 'idle', actions: 'raiseMintFailed' },
          },
          after: { mintTimeout: { target: 'idle', actions: 'raiseMintTimedOut' } },
          on: {
            'mint.abandoned': { guard: 'abandonsCurrentAttempt', target: 'idle' },
            'mint.step': { guard: 'stepOfCurrentAttempt', actions: 'recordAttemptStep' },
          },
        },
      },
    },
    sharing: {
      description: 'Where a mint shared across processes (the coordination option) is; always idle for a provider alone.',
      initial: 'idle',
      on: {
        'mint.phase': [
          { guard: 'phaseIsWaitingOnHolder', target: '.waitingOnHolder' },
          { guard: 'phaseIsAdopting', target: '.adopting' },
          { guard: 'phaseIsHoldingLease', target: '.holdingLease' },
        ],
      },
      states: {
        idle: {},
        waitingOnHolder: { always: { guard: 'noMintInFlight', target: 'idle' } },
        adopting: { always: { guard: 'noMintInFlight', target: 'idle' } },
        holdingLease: { always: { guard: 'noMintInFlight', target: 'idle' } },
      },
    },
  },
});

/** `event` is a `mint.phase` of the mint in flight, reaching `phase`. */
function isPhaseOfCurrentAttempt(context: CredentialContext, event: CredentialEvent, phase: SharedMintPhase): boolean {
  return event.type === 'mint.phase' && event.attempt === context.attempt && event.phase === phase;
}

/** The running statechart's type, for `provider.actor` and typed tests. */
export type CredentialMachine = typeof credentialMachine;

function attemptStarted(context: CredentialContext, kind: AttemptKind, at: number): Pick<CredentialContext, 'attempt' | 'attemptKind' | 'attemptStartedAt' | 'attemptStep' | 'retryAt'> {
  return { attempt: context.attempt + 1, attemptKind: kind, attemptStartedAt: at, attemptStep: null, retryAt: null };
}
