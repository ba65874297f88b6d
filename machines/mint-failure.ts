import type { FailureSummary } from './credential.types.js';
import { readThrown, summaryOf } from './thrown.js';

/**
 * Whose failure a mint failure is: the issuer's, one key's own, or nobody's (the attempt was
 * refused before it reached the issuer: a pool's issuer breaker was open, or a coordination could
 * not be reached for a grant that never runs alone). Nobody's failures are counted by no breaker.
 */
export type MintBlame = 'issuer' | 'key' | 'nobody';

/**
 * How the mint actor rejects: the mint's own error, untouched, when it failed (so the breaker can
 * date its cooldown without reading a clock itself), whose failure it is, and how long the issuer
 * asked us to wait, if it did.
 *
 * @example
 * ```ts
 * throw new MintFailure(originalError, clock.now(), { blame: 'issuer', retryAfterMs: 30_000 });
 * ```
 */
export class MintFailure extends Error {
  /** The clock reading when the mint failed. */
  readonly failedAt: number;
  /** Whose failure it is (see {@link MintBlame}). */
  readonly blame: MintBlame;
  /** The issuer's `Retry-After`, in ms; `null` when it said nothing. */
  readonly retryAfterMs: number | null;
  /** What may be shown of the cause, read once, defensively (the cause itself is passed on untouched). */
  readonly summary: FailureSummary;

  /**
   * @param cause what the mint threw (any value, not only an `Error`).
   * @param failedAt the clock reading when it failed.
   * @param details whose failure it is (default `'issuer'`) and the issuer's `Retry-After` (default none).
   * @example
   * ```ts
   * new MintFailure(new Error('503'), 1_000).cause; // Error: 503
   * ```
   */
  constructor(cause: unknown, failedAt: number, details: { blame?: MintBlame; retryAfterMs?: number | null; summary?: FailureSummary } = {}) {
    super('mint failed', { cause });
    this.name = 'MintFailure';
    this.failedAt = failedAt;
    this.blame = details.blame ?? 'issuer';
    this.retryAfterMs = details.retryAfterMs ?? null;
    this.summary = details.summary ?? summaryOf(readThrown(cause));
  }
}
