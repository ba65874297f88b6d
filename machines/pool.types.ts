import type { BreakerOpenReason, BreakerState } from './credential.types.js';

/** The pool-wide policy: the issuer breaker's and the cap on mints in flight. */
export interface PoolPolicy {
  /** Consecutive issuer failures (across every key) that open the issuer breaker. */
  readonly breakerThreshold: number;
  /** How long the open issuer breaker refuses every key's mint before one probe goes through (ms). */
  readonly breakerCooldownMs: number;
  /** The longest an issuer's `Retry-After` keeps the issuer breaker open (ms). */
  readonly maxRetryAfterMs: number;
  /** Mints in flight at once across the pool; the rest wait, in arrival order. */
  readonly maxMintsInFlight: number;
}

/** The pool statechart's data. */
export interface PoolContext {
  readonly policy: PoolPolicy;
  /** Issuer failures since the issuer last answered. */
  readonly consecutiveFailures: number;
  /** While open: when the cooldown ends. */
  readonly openUntil: number | null;
  /** While open: why. */
  readonly openReason: BreakerOpenReason | null;
  /** Half-open: the one probe is in flight. */
  readonly probing: boolean;
}

/** What the pool facade tells its statechart; every event carries the clock reading it happened at. */
export type PoolEvent =
  /** A key's mint asks to go through (the late-timer case: a cooldown that has passed by the clock). */
  | { readonly type: 'mint.requested'; readonly now: number }
  /** Half-open: this mint is the probe. */
  | { readonly type: 'probe.started'; readonly now: number }
  /** Half-open: the probe was abandoned before the issuer answered (its callers gave up, or its key was stopped). */
  | { readonly type: 'probe.abandoned'; readonly now: number }
  /** Every permit is taken (the next mints queue) / one is free again. */
  | { readonly type: 'mints.saturated'; readonly now: number }
  | { readonly type: 'mints.available'; readonly now: number }
  /** The issuer failed a mint (network, timeout, 5xx, 429), perhaps saying when to come back. */
  | { readonly type: 'issuer.failed'; readonly at: number; readonly retryAfterMs: number | null; readonly key: string }
  /** The issuer answered a mint (with a token, or with a refusal of that key). */
  | { readonly type: 'issuer.answered'; readonly at: number; readonly key: string };

/** The issuer breaker changed; `key` is the key whose mint caused it (`null`: the cooldown ended). */
export interface IssuerBreakerChangedEvent {
  readonly type: 'issuer.breaker.changed';
  readonly from: BreakerState;
  readonly to: BreakerState;
  readonly openUntil?: number;
  readonly reason?: BreakerOpenReason;
  readonly key: string | null;
}

/** What the pool statechart emits. */
export type PoolEmittedEvent = IssuerBreakerChangedEvent;
