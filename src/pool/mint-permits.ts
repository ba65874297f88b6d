import { onAbort } from '../abort-signals.js';

/**
 * Permits for mints in flight across a pool: at most `limit` at once, the rest waiting in arrival
 * order. A waiter whose signal aborts leaves the queue (with the signal's reason); a permit is
 * handed straight to the next waiter when one is returned.
 *
 * @example
 * ```ts
 * const permits = new MintPermits(32);
 * await permits.acquire(signal);
 * try { return await mint(); } finally { permits.release(); }
 * ```
 */
export class MintPermits {
  #inFlight = 0;
  /** Waiters in arrival order, from `#head` on (a queue in an array: O(1) to take from the front). */
  #waiting: ({ grant(): void; refuse(reason: unknown): void } | null)[] = [];
  #head = 0;
  #queued = 0;
  /** Set by {@link MintPermits.close}: why no permit will be granted again. */
  #closedBy: { reason: unknown } | null = null;

  /**
   * @param limit how many permits there are (>= 1).
   * @param onSaturated told whenever every permit becomes taken (`true`) or one becomes free again
   *   (`false`), until the permits are closed: the one place a picture of them (the pool statechart's
   *   `mints` region) is derived from.
   */
  constructor(
    readonly limit: number,
    readonly onSaturated: (saturated: boolean) => void = () => {},
  ) {}

  /** Permits taken now. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Waiters in the queue. */
  get queued(): number {
    return this.#queued;
  }

  /**
   * Resolves when a permit is taken; rejects with `signal.reason` if it aborts first.
   *
   * @example
   * ```ts
   * await permits.acquire(signal);
   * ```
   */
  acquire(signal: AbortSignal): Promise<void> {
    if (this.#closedBy !== null) return Promise.reject(this.#closedBy.reason);
    if (signal.aborted) return Promise.reject(signal.reason);
    if (this.#inFlight < this.limit) {
      this.#inFlight++;
      if (this.#inFlight === this.limit) this.onSaturated(true);
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const waiter = {
        grant: () => {
          cancel();
          resolve();
        },
        refuse: (reason: unknown) => {
          cancel();
          reject(reason);
        },
      };
      const cancel = onAbort(signal, () => {
        const index = this.#waiting.indexOf(waiter, this.#head);
        if (index >= 0) {
          this.#waiting[index] = null; // skipped when its turn comes
          this.#queued--;
        }
        reject(signal.reason);
      });
      this.#waiting.push(waiter);
      this.#queued++;
    });
  }

  /**
   * Returns a permit: to the first waiter, or to the pool.
   *
   * @example
   * ```ts
   * permits.release();
   * ```
   */
  release(): void {
    while (this.#closedBy === null && this.#head < this.#waiting.length) {
      const next = this.#waiting[this.#head];
      // a granted waiter's slot is cleared: the queue must not keep its closure (and its caller's signal) alive
      this.#waiting[this.#head++] = null;
      if (next === null || next === undefined) continue;
      this.#queued--;
      this.#compact();
      next.grant();
      return;
    }
    this.#compact();
    if (this.#inFlight === 0) return;
    this.#inFlight--;
    // a permit handed to a waiter above leaves every permit taken: only this one frees one
    if (this.#closedBy === null && this.#inFlight === this.limit - 1) this.onSaturated(false);
  }

  /**
   * Grants no permit again: every waiter is refused with `reason` (they never reach the issuer), and
   * so is every later `acquire`. A pool's `stop()` closes its permits first, so that a stopping key
   * returning its permit cannot start the next queued key's mint.
   *
   * @example
   * ```ts
   * permits.close(new CredentialError('STOPPED', 'the credential pool was stopped'));
   * ```
   */
  close(reason: unknown): void {
    if (this.#closedBy !== null) return;
    this.#closedBy = { reason };
    const waiting = this.#waiting.slice(this.#head);
    this.#waiting = [];
    this.#head = 0;
    this.#queued = 0;
    for (const waiter of waiting) waiter?.refuse(reason);
  }

  /** Drops the taken front of the queue once it is most of the array, or all of it. */
  #compact(): void {
    if (this.#head === this.#waiting.length) {
      this.#waiting = [];
      this.#head = 0;
    } else if (this.#head > 1_024 && this.#head * 2 > this.#waiting.length) {
      this.#waiting = this.#waiting.slice(this.#head);
      this.#head = 0;
    }
  }
}
