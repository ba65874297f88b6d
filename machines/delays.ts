import type { CredentialContext } from './credential.types.js';
import type { PoolContext } from './pool.types.js';
import { msUntil } from './policy.js';

/** The statechart's named delays. */
export type CredentialDelay = 'untilRefreshDue' | 'untilExpiry' | 'untilCooldownEnds' | 'mintTimeout' | 'untilRetry';

/** What a delay is computed from: the context, and the actor it runs in (whose clock it reads). */
type DelayArgs = { context: CredentialContext; self: object };

/**
 * The only place the statechart reads a clock: turning the deadlines in its context into timer
 * durations from `now(self)`. A deadline already past gives 0; no deadline gives `Infinity`,
 * which the provider's timer adapter never arms.
 *
 * @example
 * ```ts
 * credentialMachine.provide({ delays: deadlineDelays((actor) => clockOf(actor).now()) });
 * ```
 */
export function deadlineDelays(now: (actor: object) => number): Record<CredentialDelay, (args: DelayArgs) => number> {
  return {
    untilRefreshDue: ({ context, self }) => msUntil(context.refreshDueAt, now(self)),
    untilExpiry: ({ context, self }) => msUntil(context.token.expiresAt, now(self)),
    untilCooldownEnds: ({ context, self }) => msUntil(context.openUntil, now(self)),
    mintTimeout: ({ context }) => context.policy.mintTimeoutMs,
    untilRetry: ({ context, self }) => msUntil(context.retryAt, now(self)),
  };
}

/**
 * The time as `actor` reads it: its clock's `now()` when it was created with a clock that has one
 * (`ActorClock`, which every provider and pool passes), else `Date.now()` (XState's own clock has
 * none). The statecharts' default delays read it, so a statechart run with `createActor` keeps the
 * same time as its clock arms timers on.
 *
 * @example
 * ```ts
 * credentialMachine.provide({ delays: deadlineDelays(actorNow) }); // what the machine declares
 * ```
 */
export function actorNow(actor: object): number {
  // every XState actor has a clock: the one it was created with, or XState's own (setTimeout's)
  const clock = (actor as { clock: { now?: unknown } }).clock;
  return typeof clock.now === 'function' ? (clock.now as () => number).call(clock) : Date.now();
}

/**
 * The pool statechart's one named delay, as {@link deadlineDelays}: the issuer breaker's cooldown.
 *
 * @example
 * ```ts
 * poolMachine.provide({ delays: poolDeadlineDelays((actor) => clockOf(actor).now()) });
 * ```
 */
export function poolDeadlineDelays(now: (actor: object) => number): { untilCooldownEnds: (args: { context: PoolContext; self: object }) => number } {
  return { untilCooldownEnds: ({ context, self }) => msUntil(context.openUntil, now(self)) };
}
