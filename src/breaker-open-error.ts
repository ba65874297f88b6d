import { CredentialError } from '../machines/credential-error.js';
import type { BreakerOpenReason, FailureSummary } from '../machines/credential.types.js';
import { describeError } from './inspection.js';

/** Which breaker refused: this credential's own, a pool's issuer breaker, the fleet's (Redis), or the tabs' (browserCoordination). */
export type BreakerScope = 'credential' | 'issuer' | 'fleet' | 'tabs';

/** What {@link BreakerOpenError} is built from. */
export interface BreakerOpenDetails {
  readonly scope: BreakerScope;
  /** When the breaker lets a probe through; `null` while a half-open probe is already in flight. */
  readonly openUntil: number | null;
  /** Why it opened: consecutive failures, or the issuer's `Retry-After` (`unknown` for the fleet's, which Redis keeps as a deadline only). */
  readonly reason: BreakerOpenReason | 'unknown';
  /** The clock reading the refusal was made at (for `retryAfterMs`). */
  readonly now: number;
  /** The failure that opened it (or the latest one), as its name, message and code only. */
  readonly lastFailure?: FailureSummary | null;
  /** How long until the probe, when it is known and `openUntil` is not (a half-open probe's bound). */
  readonly retryAfterMs?: number;
}

/**
 * `BREAKER_OPEN`: a caller was refused because a breaker is open and there is no usable token. It
 * carries what a gateway needs to answer `503` with a `Retry-After` and to log why: `openUntil`,
 * `retryAfterMs`, `reason`, `scope`, and the last failure as a redacted `cause` (its name, message
 * and code, never the original object, which may hold a response or a request).
 *
 * @example
 * ```ts
 * try {
 *   token = await provider.currentToken();
 * } catch (error) {
 *   if (error instanceof BreakerOpenError) {
 *     response.setHeader('Retry-After', Math.ceil(error.retryAfterMs / 1000));
 *     return response.status(503).end();
 *   }
 *   throw error;
 * }
 * ```
 */
export class BreakerOpenError extends CredentialError {
  /** Which breaker refused. */
  readonly scope: BreakerScope;
  /** When the breaker lets a probe through (epoch ms); `null` while a half-open probe is in flight. */
  readonly openUntil: number | null;
  /** How long from the refusal until a probe may run (ms, >= 0; 0 while a half-open probe is in flight): what a `Retry-After` would say. */
  readonly retryAfterMs: number;
  /** Why the breaker opened (`unknown` for the fleet's breaker: Redis keeps its deadline only). */
  readonly reason: BreakerOpenReason | 'unknown';

  /** @param details the breaker's state when it refused. */
  constructor(details: BreakerOpenDetails) {
    const retryAfterMs = Math.max(0, details.openUntil === null ? (details.retryAfterMs ?? 0) : details.openUntil - details.now);
    const cause = details.lastFailure === undefined || details.lastFailure === null ? undefined : redactedCause(details.lastFailure);
    super('BREAKER_OPEN', breakerMessage(details, retryAfterMs), cause === undefined ? undefined : { cause });
    this.name = 'BreakerOpenError';
    this.scope = details.scope;
    this.openUntil = details.openUntil;
    this.retryAfterMs = retryAfterMs;
    this.reason = details.reason;
  }

  /**
   * A plain summary for structured logs.
   *
   * @example
   * ```ts
   * logger.warn({ err: error.toJSON() }); // { name, code: 'BREAKER_OPEN', message, scope, openUntil, retryAfterMs, reason, cause }
   * ```
   */
  override toJSON(): ReturnType<CredentialError['toJSON']> & {
    scope: BreakerScope;
    openUntil: number | null;
    retryAfterMs: number;
    reason: BreakerOpenReason | 'unknown';
    cause?: { name: string; message: string; code?: string };
  } {
    return {
      ...super.toJSON(),
      scope: this.scope,
      openUntil: this.openUntil,
      retryAfterMs: this.retryAfterMs,
      reason: this.reason,
      ...(this.cause === undefined ? {} : { cause: describeError(this.cause) }),
    };
  }
}

const SUBJECT: Record<BreakerScope, string> = {
  credential: 'the mint breaker',
  issuer: "the pool's issuer breaker",
  fleet: "the fleet's breaker for this credential",
  tabs: "the tabs' breaker for this credential",
};

function breakerMessage(details: BreakerOpenDetails, retryAfterMs: number): string {
  const state =
    details.openUntil === null
      ? `${SUBJECT[details.scope]} is half-open and its one probe is in flight`
      : `${SUBJECT[details.scope]} is open until ${new Date(details.openUntil).toISOString()} (${retryAfterMs} ms)`;
  const why = details.reason === 'retry-after' ? ', after the issuer asked to wait (Retry-After)' : details.reason === 'failures' ? ', after consecutive failures' : '';
  return `${state}${why}${lastFailureText(details.lastFailure ?? null)}`;
}

/**
 * The last failure as the message shows it: one of this library's errors in full (an `OAuthError`
 * says which step, which URL and what the issuer said); another's by its name and code only (its
 * message is yours, and may carry anything: it stays in `cause`).
 */
function lastFailureText(failure: FailureSummary | null): string {
  if (failure === null) return '';
  if (failure.ours === true) return `; last failure: ${failure.message}`;
  return `; last failure: ${failure.name}${failure.code === undefined ? '' : ` ${failure.code}`}`;
}

/**
 * A failure's summary as a new Error with its name, message and code only: what a refusal's
 * `cause` shows (never the original, which may hold a response and its buffers).
 *
 * @example
 * ```ts
 * redactedCause({ name: 'AxiosError', message: 'Request failed with status code 503', code: 'ERR_BAD_RESPONSE' }); // an Error with those three
 * ```
 */
export function redactedCause({ name, message, code }: FailureSummary): Error {
  const cause = new Error(message);
  cause.name = name;
  if (code !== undefined) Object.assign(cause, { code });
  // its stack would be ours, not the failure's: say nothing rather than mislead
  cause.stack = `${name}: ${message}`;
  return cause;
}
