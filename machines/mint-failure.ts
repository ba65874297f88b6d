/**
 * How the mint actor rejects: the mint's own error, untouched, and when it failed, so the breaker
 * can date its cooldown without reading a clock itself.
 *
 * @example
 * ```ts
 * throw new MintFailure(originalError, clock.now());
 * ```
 */
export class MintFailure extends Error {
  /** The clock reading when the mint failed. */
  readonly failedAt: number;

  /**
   * @param cause what the mint threw (any value, not only an `Error`).
   * @param failedAt the clock reading when it failed.
   * @example
   * ```ts
   * new MintFailure(new Error('503'), 1_000).cause; // Error: 503
   * ```
   */
  constructor(cause: unknown, failedAt: number) {
    super('mint failed', { cause });
    this.name = 'MintFailure';
    this.failedAt = failedAt;
  }
}
