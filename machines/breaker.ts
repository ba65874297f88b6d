import type { BreakerOpenReason, BreakerState } from './credential.types.js';
import { retryAfterCooldownMs } from './policy.js';

/**
 * The one breaker every part of the library keeps: the credential statechart's `breaker` region,
 * the pool statechart's `issuer` region (both built by {@link breakerRegion} from the rules below),
 * the tabs' `TabBreaker` (which applies {@link breakerAfterFailure} and {@link breakerAfterAnswer}),
 * and the fleet's Lua scripts (`src/redis/scripts.ts`, the same rules written for Redis). One table
 * of cases (`test/core/breaker-table.test.ts`) is run against all four.
 *
 * The rules:
 * - `closed` counts consecutive failures, however far apart; an answer clears the count. The failure
 *   that reaches `breakerThreshold` opens it for `breakerCooldownMs`, counted from that failure.
 * - A failure that says when to come back (`Retry-After`) opens it at once for what the issuer asked,
 *   capped by `maxRetryAfterMs`; if it also reaches the threshold, the later of the two ends wins.
 * - `open` refuses every attempt until its end, by the clock (a late timer changes nothing). A
 *   failure or an answer heard while open comes from an attempt sent before it opened: it is older
 *   news than the failures that opened it, so it changes nothing, except a `Retry-After` ending
 *   later, which the breaker honours.
 * - `halfOpen` (after the end) lets one probe through: an answer closes it, any failure reopens it
 *   (for the cooldown, or a longer `Retry-After`).
 *   How "one" is kept is each owner's: the credential has one mint in flight, the pool marks its
 *   probe, the tabs hold a Web Lock and the fleet a lease.
 */

/** What a breaker is configured with. */
export interface BreakerPolicy {
  /** Consecutive failures that open the breaker. */
  readonly breakerThreshold: number;
  /** How long a breaker opened by failures stays open (ms). */
  readonly breakerCooldownMs: number;
  /** The longest an issuer's `Retry-After` keeps it open (ms). */
  readonly maxRetryAfterMs: number;
}

/** What a breaker knows besides its state: the statecharts keep these fields in their context. */
export interface BreakerFields {
  /** Failures since the last answer. */
  readonly consecutiveFailures: number;
  /** While open: when it ends. `null` when closed or half-open. */
  readonly openUntil: number | null;
  /** While open: why. */
  readonly openReason: BreakerOpenReason | null;
}

/** A failure as the breaker hears it: when it happened, and when the issuer said to come back (ms from then). */
export interface BreakerFailure {
  readonly at: number;
  readonly retryAfterMs: number | null;
}

/** A breaker that has never failed. */
export const CLOSED_BREAKER: BreakerFields = Object.freeze({ consecutiveFailures: 0, openUntil: null, openReason: null });

/**
 * The failure is the one that reaches the threshold.
 *
 * @example
 * ```ts
 * reachesThreshold({ ...CLOSED_BREAKER, consecutiveFailures: 2 }, { breakerThreshold: 3 }); // true
 * ```
 */
export function reachesThreshold(fields: BreakerFields, policy: Pick<BreakerPolicy, 'breakerThreshold'>): boolean {
  return fields.consecutiveFailures + 1 >= policy.breakerThreshold;
}

/**
 * The failure counted, the breaker staying closed.
 *
 * @example
 * ```ts
 * countedFailure(CLOSED_BREAKER).consecutiveFailures; // 1
 * ```
 */
export function countedFailure(fields: BreakerFields): BreakerFields {
  return { ...fields, consecutiveFailures: fields.consecutiveFailures + 1 };
}

/**
 * Opened by consecutive failures (the threshold, or a failed probe): for the cooldown from the failure.
 *
 * @example
 * ```ts
 * openedByFailures(fields, policy, { at: 1_000, retryAfterMs: null }).openUntil; // 1_000 + policy.breakerCooldownMs
 * ```
 */
export function openedByFailures(fields: BreakerFields, policy: BreakerPolicy, failure: BreakerFailure): BreakerFields {
  return { consecutiveFailures: fields.consecutiveFailures + 1, openUntil: failure.at + policy.breakerCooldownMs, openReason: 'failures' };
}

/**
 * Opened by a failure that said when to come back: until then (capped). A failure that also reaches
 * the threshold, and a failed probe (from `halfOpen`), open it for the cooldown too: the later end wins.
 *
 * @example
 * ```ts
 * openedByRetryAfter(CLOSED_BREAKER, policy, { at: 1_000, retryAfterMs: 7_000 }, 'closed').openUntil; // 8_000 (below the threshold)
 * ```
 */
export function openedByRetryAfter(fields: BreakerFields, policy: BreakerPolicy, failure: BreakerFailure, from: 'closed' | 'halfOpen'): BreakerFields {
  const cooldownToo = from === 'halfOpen' || reachesThreshold(fields, policy);
  return { consecutiveFailures: fields.consecutiveFailures + 1, openUntil: failure.at + retryAfterCooldownMs(policy, failure.retryAfterMs ?? 0, cooldownToo), openReason: 'retry-after' };
}

/**
 * While open: the failure (of an attempt sent before it opened) says to come back later than the
 * opening ends.
 *
 * @example
 * ```ts
 * retryAfterOutlastsOpening({ ...fields, openUntil: 10_000 }, policy, { at: 5_000, retryAfterMs: 30_000 }); // true
 * ```
 */
export function retryAfterOutlastsOpening(fields: BreakerFields, policy: BreakerPolicy, failure: BreakerFailure): boolean {
  return failure.retryAfterMs !== null && failure.at + retryAfterCooldownMs(policy, failure.retryAfterMs, false) > (fields.openUntil ?? -Infinity);
}

/**
 * While open: the opening lengthened to what a later `Retry-After` asked (capped), once
 * {@link retryAfterOutlastsOpening} says it ends later. The failure is older news than those that
 * opened it, so it is not counted.
 *
 * @example
 * ```ts
 * lengthenedByRetryAfter({ ...fields, openUntil: 10_000 }, policy, { at: 5_000, retryAfterMs: 30_000 }).openUntil; // 35_000
 * ```
 */
export function lengthenedByRetryAfter(fields: BreakerFields, policy: BreakerPolicy, failure: BreakerFailure): BreakerFields {
  return { ...fields, openUntil: failure.at + retryAfterCooldownMs(policy, failure.retryAfterMs ?? 0, false), openReason: 'retry-after' };
}

/**
 * The open breaker lets an attempt through at `now`: its end has come by the clock, whether or not
 * its timer has fired yet.
 *
 * @example
 * ```ts
 * cooldownElapsedAt({ ...fields, openUntil: 60_000 }, 59_999); // false
 * ```
 */
export function cooldownElapsedAt(fields: BreakerFields, now: number): boolean {
  return fields.openUntil !== null && now >= fields.openUntil;
}

/**
 * Every rule above in one step, for a breaker kept outside a statechart (the tabs'): where a
 * failure heard in `state` leaves the breaker.
 *
 * @example
 * ```ts
 * breakerAfterFailure('halfOpen', fields, policy, { at: now, retryAfterMs: null }).state; // 'open'
 * ```
 */
export function breakerAfterFailure(state: BreakerState, fields: BreakerFields, policy: BreakerPolicy, failure: BreakerFailure): { state: BreakerState; fields: BreakerFields } {
  if (state === 'open') return { state, fields: retryAfterOutlastsOpening(fields, policy, failure) ? lengthenedByRetryAfter(fields, policy, failure) : fields };
  if (failure.retryAfterMs !== null) return { state: 'open', fields: openedByRetryAfter(fields, policy, failure, state) };
  if (state === 'halfOpen' || reachesThreshold(fields, policy)) return { state: 'open', fields: openedByFailures(fields, policy, failure) };
  return { state, fields: countedFailure(fields) };
}

/**
 * Where an answer heard in `state` leaves the breaker: closed with the count cleared, unless it is
 * open (the answer is to an attempt sent before it opened).
 *
 * @example
 * ```ts
 * breakerAfterAnswer('halfOpen', fields); // { state: 'closed', fields: CLOSED_BREAKER }
 * ```
 */
export function breakerAfterAnswer(state: BreakerState, fields: BreakerFields): { state: BreakerState; fields: BreakerFields } {
  return state === 'open' ? { state, fields } : { state: 'closed', fields: CLOSED_BREAKER };
}

/** A breaker change, as both statecharts name the action that emits it. */
type Changed<From extends BreakerState, To extends BreakerState> = { readonly type: 'emitBreakerChanged'; readonly params: { readonly from: From; readonly to: To } };
const changed = <From extends BreakerState, To extends BreakerState>(from: From, to: To): Changed<From, To> => ({ type: 'emitBreakerChanged', params: { from, to } });

/** What opens the breaker from `from`: a `Retry-After`, or the threshold (from `closed`) / any counted failure (from `halfOpen`). */
function openings<From extends 'closed' | 'halfOpen'>(from: From) {
  return [
    { guard: 'failureSetsRetryAfter', target: 'open', actions: [{ type: 'openBreakerForRetryAfter', params: { from } }, changed(from, 'open')] },
    { guard: from === 'closed' ? ('failureReachesThreshold' as const) : ('failureCounts' as const), target: 'open', actions: ['openBreaker', changed(from, 'open')] },
  ] as const;
}

/**
 * The breaker's states as a statechart region, for any statechart whose `setup` names these guards
 * and actions (each a line applying the rules above to its own events):
 * guards `failureCounts`, `failureSetsRetryAfter`, `failureReachesThreshold`, `requestFindsCooldownElapsed`
 * and (with `heardWhileOpen`) `retryAfterOutlastsCooldown`; actions `countFailure`, `openBreaker`,
 * `openBreakerForRetryAfter` (params `from`), `lengthenOpening` (with `heardWhileOpen`), `resetFailures`, `endCooldown`, `emitBreakerChanged` (params `from`, `to`),
 * and the delay `untilCooldownEnds`.
 *
 * `events` names the statechart's own events for a failure, an answer, and an attempt asking to go
 * through. `heardWhileOpen` adds the transition for a failure heard while open (a statechart with
 * one attempt in flight never hears one); `onCooldownEnded` adds actions to the timer's transition
 * and `halfOpen` transitions to that state (how the owner keeps to one probe).
 *
 * @example
 * ```ts
 * setup({ guards, actions, delays }).createMachine({
 *   type: 'parallel',
 *   states: { issuer: breakerRegion({ failed: 'issuer.failed', answered: 'issuer.answered', requested: 'mint.requested', heardWhileOpen: true }) },
 * });
 * ```
 */
export function breakerRegion<
  const Failed extends string,
  const Answered extends string,
  const Requested extends string,
  const HeardWhileOpen extends boolean,
  const CooledDown extends readonly string[] = readonly [],
  const HalfOpenOn extends object = object,
>(events: {
  readonly failed: Failed;
  readonly answered: Answered;
  readonly requested: Requested;
  readonly heardWhileOpen: HeardWhileOpen;
  readonly onCooldownEnded?: CooledDown;
  readonly halfOpen?: HalfOpenOn;
}) {
  const { failed, answered, requested } = events;
  const onCooldownEnded = (events.onCooldownEnded ?? []) as unknown as CooledDown;
  // computed keys lose their literal types; each record below has exactly the key its type names
  const on = <K extends string, T>(key: K, transition: T) => ({ [key]: transition }) as Record<K, T>;
  const closed = { ...on(failed, [...openings('closed'), { guard: 'failureCounts', actions: 'countFailure' }] as const), ...on(answered, { actions: 'resetFailures' } as const) };
  // re-entered, so that the cooldown's timer is armed anew for the later end
  const lengthened = { guard: 'retryAfterOutlastsCooldown', target: 'open', reenter: true, actions: 'lengthenOpening' } as const;
  const open = {
    ...on(requested, { guard: 'requestFindsCooldownElapsed', target: 'halfOpen', actions: ['endCooldown', changed('open', 'halfOpen')] } as const),
    ...(events.heardWhileOpen ? on(failed, lengthened) : {}),
  } as Record<Requested, { readonly guard: 'requestFindsCooldownElapsed'; readonly target: 'halfOpen'; readonly actions: readonly ['endCooldown', Changed<'open', 'halfOpen'>] }>;
  const halfOpen = {
    ...(events.halfOpen ?? ({} as HalfOpenOn)),
    ...on(answered, { target: 'closed', actions: ['resetFailures', changed('halfOpen', 'closed')] } as const),
    ...on(failed, openings('halfOpen')),
  };
  return {
    initial: 'closed',
    states: {
      closed: { on: closed },
      open: {
        after: { untilCooldownEnds: { target: 'halfOpen', actions: [...onCooldownEnded, 'endCooldown', changed('open', 'halfOpen')] } },
        on: open as typeof open & (HeardWhileOpen extends true ? Record<Failed, typeof lengthened> : unknown),
      },
      halfOpen: { on: halfOpen },
    },
  } as const;
}
