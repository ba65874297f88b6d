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
  readonly #waiting: { grant(): void }[] = [];

  /** @param limit how many permits there are (>= 1). */
  constructor(readonly limit: number) {}

  /** Permits taken now. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Waiters in the queue. */
  get queued(): number {
    return this.#waiting.length;
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
    if (signal.aborted) return Promise.reject(signal.reason);
    if (this.#inFlight < this.limit) {
      this.#inFlight++;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const waiter = {
        grant: () => {
          cancel();
          resolve();
        },
      };
      const cancel = onAbort(signal, () => {
        const index = this.#waiting.indexOf(waiter);
        if (index >= 0) this.#waiting.splice(index, 1);
        reject(signal.reason);
      });
      this.#waiting.push(waiter);
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
    const next = this.#waiting.shift();
    if (next !== undefined) next.grant();
    else this.#inFlight = Math.max(0, this.#inFlight - 1);
  }
}
