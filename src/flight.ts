import type { AuthToken } from './auth-token.js';

interface AbortableWaiter {
  resolve(token: AuthToken): void;
  reject(reason: unknown): void;
  release(): void;
}

/**
 * The callers waiting on one mint attempt. Callers without a signal share one promise, so a
 * cohort of any size costs one allocation; callers with a signal each get their own, settled
 * early by their abort, with the abort listener removed on every exit.
 */
export class Flight {
  /** The attempt these callers wait on. */
  readonly attempt: number;
  #shared: { promise: Promise<AuthToken>; resolve(token: AuthToken): void; reject(reason: unknown): void } | null = null;
  readonly #abortable = new Set<AbortableWaiter>();
  readonly #onAllAborted: (flight: Flight) => void;

  /**
   * @param attempt the attempt id callers wait on.
   * @param onAllAborted called when the last caller aborted and none is left.
   * @example
   * ```ts
   * const flight = new Flight(3, () => actor.send({ type: 'mint.abandoned', attempt: 3 }));
   * ```
   */
  constructor(attempt: number, onAllAborted: (flight: Flight) => void) {
    this.attempt = attempt;
    this.#onAllAborted = onAllAborted;
  }

  /**
   * A promise for the attempt's outcome; `signal` rejects only this caller, with its reason.
   *
   * @example
   * ```ts
   * return flight.join(options?.signal);
   * ```
   */
  join(signal: AbortSignal | undefined): Promise<AuthToken> {
    if (signal === undefined) {
      if (this.#shared === null) {
        let resolve!: (token: AuthToken) => void;
        let reject!: (reason: unknown) => void;
        const promise = new Promise<AuthToken>((res, rej) => {
          resolve = res;
          reject = rej;
        });
        this.#shared = { promise, resolve, reject };
      }
      return this.#shared.promise;
    }
    return new Promise<AuthToken>((resolve, reject) => {
      const onAbort = (): void => {
        this.#abortable.delete(waiter);
        reject(signal.reason);
        if (this.#shared === null && this.#abortable.size === 0) this.#onAllAborted(this);
      };
      const waiter: AbortableWaiter = { resolve, reject, release: () => signal.removeEventListener('abort', onAbort) };
      signal.addEventListener('abort', onAbort, { once: true });
      this.#abortable.add(waiter);
    });
  }

  /**
   * Resolves every waiter with `token`.
   *
   * @example
   * ```ts
   * flight.resolve(snapshot.context.token);
   * ```
   */
  resolve(token: AuthToken): void {
    this.#shared?.resolve(token);
    for (const waiter of this.#drain()) waiter.resolve(token);
  }

  /**
   * Rejects every waiter with `reason`.
   *
   * @example
   * ```ts
   * flight.reject(event.error);
   * ```
   */
  reject(reason: unknown): void {
    this.#shared?.reject(reason);
    for (const waiter of this.#drain()) waiter.reject(reason);
  }

  #drain(): AbortableWaiter[] {
    const waiters = [...this.#abortable];
    this.#abortable.clear();
    for (const waiter of waiters) waiter.release();
    return waiters;
  }
}
