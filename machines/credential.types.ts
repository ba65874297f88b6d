import type { DoneActorEvent, ErrorActorEvent } from 'xstate';
import type { RefreshPolicy } from './policy.js';
import type { Secret, SecretValue } from './secret.js';
import type { MintBlame } from './mint-failure.js';

/** Why a mint runs: a caller is blocked on an expired token (`demand`), or nobody is (`background`). */
export type AttemptKind = 'demand' | 'background';

/** The breaker's coarse state, as reporters and `breaker.changed` name it. */
export type BreakerState = 'closed' | 'open' | 'halfOpen';

/** Why a breaker opened: `breakerThreshold` consecutive failures, or a failure that said when to come back. */
export type BreakerOpenReason = 'failures' | 'retry-after';

/**
 * A cached credential: the secret, when it stops being valid (epoch ms; `null` never expires), and
 * the non-secret facts its issuer gave with it, served with it and shared with it.
 */
export interface AuthToken<T extends SecretValue<T> = string> {
  readonly secret: Secret<T>;
  readonly expiresAt: number | null;
  /** How to present it, as the issuer said (`Bearer`, `DPoP`); absent when the mint did not say. */
  readonly tokenType?: string;
  /** The scope the issuer granted (space-separated, as OAuth writes it); absent when the mint did not say. */
  readonly scope?: string;
  /**
   * The issuer's refresh hint (epoch ms; Entra ID's `refresh_in`): the refresh is scheduled by it,
   * within the policy's bounds (see `scheduledRefreshAt`).
   */
  readonly refreshAfter?: number;
}

/** What may be shown of a failure (its name, message and code, read once from what the mint threw): logs, the inspector, a refusal's `cause`. */
export interface FailureSummary {
  readonly name: string;
  readonly message: string;
  readonly code?: string;
  /** One of this library's own errors (a `CredentialError`): its message is safe to repeat in another's. */
  readonly ours?: true;
}

/** Everything the statechart knows; only data, so a snapshot can be persisted, cloned or inspected. */
export interface CredentialContext {
  readonly policy: RefreshPolicy;
  /** The cached token (never absent: construction mints it before the actor starts). */
  readonly token: AuthToken<SecretValue>;
  /** When the cached token was issued (the clock read just after its mint settled). */
  readonly issuedAt: number;
  /** When the cached token's refresh falls due (`scheduledRefreshAt`); `null` for a token with no expiry. */
  readonly refreshDueAt: number | null;
  /** The upstream refused the cached token (`invalidate()`): serve it no more. */
  readonly tokenRejected: boolean;
  /** When the last accepted invalidation happened, for its rate limit. */
  readonly lastInvalidatedAt: number | null;
  /** Mint failures since the last success. */
  readonly consecutiveFailures: number;
  /** While the breaker is open: when its cooldown ends. `null` when closed or half-open. */
  readonly openUntil: number | null;
  /** While the breaker is open: why (consecutive failures, or the issuer's `Retry-After`). */
  readonly openReason: BreakerOpenReason | null;
  /** Id of the latest mint attempt (0 is the construction mint). */
  readonly attempt: number;
  /** Why the latest attempt ran. */
  readonly attemptKind: AttemptKind | null;
  /** When the latest attempt started. */
  readonly attemptStartedAt: number | null;
  /** What the latest attempt last said it was doing (`MintContext.step`), for its `MINT_TIMEOUT` message. */
  readonly attemptStep: string | null;
  /** Proactive mode: when the next retry after a failed attempt runs. */
  readonly retryAt: number | null;
  /** The latest mint failure since the last success, as it may be shown (the `cause` of a `BREAKER_OPEN` refusal). */
  readonly lastFailure: FailureSummary | null;
}

/** What the statechart starts from: the construction mint's token and the policy. */
export interface CredentialInput {
  readonly policy: RefreshPolicy;
  readonly token: AuthToken<SecretValue>;
  /** The clock read just before the construction mint. */
  readonly issuedAt: number;
  /** The jitter sample for this token. */
  readonly jitter: number;
  /** No token yet (a pool's key before its first mint): `token` is a placeholder, never served. */
  readonly unminted?: boolean;
  /**
   * A pool's key waking from rest (see `src/pool/pool-key.ts`): its token's refresh instant as it was
   * scheduled when the token landed (the jitter sample in it), and its last accepted invalidation.
   * Without it, both are computed as for a token that has just landed.
   */
  readonly resumed?: { readonly refreshDueAt: number | null; readonly lastInvalidatedAt: number | null };
}

/** What the mint actor is given. */
export interface MintInput {
  readonly attempt: number;
  readonly startedAt: number;
  /** The statechart running the mint: a shared mint tells it its phases (`mint.phase`). */
  readonly parent?: { send(event: Extract<CredentialEvent, { readonly type: 'mint.phase' | 'mint.step' }>): void };
}

/**
 * Where a mint shared across processes is (see `coordination`): waiting for another process that
 * holds the lease, adopting the token another process shared, or holding the lease and minting.
 */
export type SharedMintPhase = 'waitingOnHolder' | 'adopting' | 'holdingLease';

/** What the mint actor resolves with: a checked token, when it landed, and its jitter sample. */
export interface MintOutput {
  readonly token: AuthToken<SecretValue>;
  readonly settledAt: number;
  readonly jitter: number;
}

/** Events the embedding facade sends. Each carries the clock reading it was made at. */
export type CredentialRequestEvent =
  /** A caller found the token due or expired (the facade serves a fresh token without any event). */
  | { readonly type: 'token.requested'; readonly now: number }
  /** The upstream refused the cached token; `force`: dropped whatever the rate limit (a new sign-in replaced its session). */
  | { readonly type: 'token.invalidated'; readonly now: number; readonly force?: boolean }
  /** Every caller waiting on attempt `attempt` gave up. */
  | { readonly type: 'mint.abandoned'; readonly attempt: number }
  /** Attempt `attempt`, shared across processes, reached `phase` (sent by the mint actor). */
  | { readonly type: 'mint.phase'; readonly phase: SharedMintPhase; readonly attempt: number }
  /** The mint in flight says what it is doing now (`MintContext.step`). */
  | { readonly type: 'mint.step'; readonly step: string; readonly attempt: number };

/** Events the statechart raises to itself: one vocabulary for mint outcomes and deadlines. */
export type CredentialInternalEvent =
  | { readonly type: 'mint.succeeded'; readonly output: MintOutput }
  | {
      readonly type: 'mint.failed';
      readonly error: unknown;
      readonly at: number;
      /** Whose failure it is: a pool's key counts only its own. */
      readonly blame: MintBlame;
      /** The issuer's `Retry-After` (ms), or `null`. */
      readonly retryAfterMs: number | null;
      /** What may be shown of it. */
      readonly summary: FailureSummary;
    }
  | { readonly type: 'refresh.due'; readonly at: number }
  | { readonly type: 'breaker.cooledDown'; readonly at: number };

/** The invoked mint's own outcome events, as XState delivers them. */
export type MintActorEvent = DoneActorEvent<MintOutput, 'mint'> | ErrorActorEvent<unknown, 'mint'>;

export type CredentialEvent = CredentialRequestEvent | CredentialInternalEvent | MintActorEvent;

/** A refresh attempt landed a token; `remainingSeconds` is its life (`null`: no expiry). */
export interface RefreshSucceededEvent {
  readonly type: 'refresh.succeeded';
  readonly remainingSeconds: number | null;
}

/** A refresh attempt failed; `remainingSeconds` is the still-cached token's life (0 when unusable). */
export interface RefreshFailedEvent {
  readonly type: 'refresh.failed';
  readonly remainingSeconds: number | null;
  readonly error: unknown;
}

/** The breaker's coarse state changed. `openUntil` and `reason` are set when it opened. */
export interface BreakerChangedEvent {
  readonly type: 'breaker.changed';
  readonly from: BreakerState;
  readonly to: BreakerState;
  readonly openUntil?: number;
  readonly reason?: BreakerOpenReason;
}

/** What the statechart emits (observe with `provider.on(type, listener)`). */
export type CredentialEmittedEvent = RefreshSucceededEvent | RefreshFailedEvent | BreakerChangedEvent;
