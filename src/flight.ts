import { CredentialError } from '../machines/credential-error.js';
import { onAbort } from './abort-signals.js';
import type { AuthToken, SecretValue } from './auth-token.js';

interface Waiter {
  resolve(token: AuthToken<SecretValue>): void;
  reject(reason: unknown): void;
}

/** The callers sharing one signal: one abort listener for all of them. */
interface SignalGroup {
  readonly waiters: Waiter[];
  /** Cancels the group's abort callback. */
  readonly cancel: () => void;
}

/**
 * The callers waiting on one mint attempt. Callers without a signal share one promise, so a
 * cohort of any size costs one allocation; callers with a signal each get their own, settled
 * early by their abort. Abort callbacks go through {@link onAbort}: a signal carries one listener
 * of ours however many calls, flights and providers share it, and it is removed when they settle.
 */
export class Flight {
  /** The attempt these callers wait on. */
  readonly attempt: number;
  #shared: { promise: Promise<AuthToken<SecretValue>>; resolve(token: AuthToken<SecretValue>): void; reject(reason: unknown): void } | null = null;
  readonly #bySignal = new Map<AbortSignal, SignalGroup>();
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
  join(signal: AbortSignal | undefined): Promise<AuthToken<SecretValue>> {
    if (signal === undefined) {
      if (this.#shared === null) {
        let resolve!: (token: AuthToken<SecretValue>) => void;
        let reject!: (reason: unknown) => void;
        const promise = new Promise<AuthToken<SecretValue>>((res, rej) => {
          resolve = res;
          reject = rej;
        });
        this.#shared = { promise, resolve, reject };
      }
      return this.#shared.promise;
    }
    let group = this.#bySignal.get(signal);
    if (group === undefined) {
      const waiters: Waiter[] = [];
      let cancel: () => void;
      try {
        cancel = onAbort(signal, () => {
          this.#bySignal.delete(signal);
          const reason = reasonOf(signal);
          for (const waiter of waiters) waiter.reject(reason);
          if (this.#shared === null && this.#bySignal.size === 0) this.#onAllAborted(this);
        });
      } catch (error) {
        // a signal-like object whose addEventListener throws: this caller is refused, the attempt goes on
        return Promise.reject(new CredentialError('INVALID_ARGUMENT', 'signal threw when listened to (addEventListener)', { cause: error }));
      }
      group = { waiters, cancel };
      this.#bySignal.set(signal, group);
    }
    const { waiters } = group;
    return new Promise<AuthToken<SecretValue>>((resolve, reject) => {
      waiters.push({ resolve, reject });
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
  resolve(token: AuthToken<SecretValue>): void {
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

  #drain(): Waiter[] {
    const waiters: Waiter[] = [];
    for (const group of this.#bySignal.values()) {
      group.cancel();
      for (const waiter of group.waiters) waiters.push(waiter);
    }
    this.#bySignal.clear();
    return waiters;
  }
}

/** An aborted signal's reason; one whose `reason` getter throws is refused for what it is. */
function reasonOf(signal: AbortSignal): unknown {
  try {
    return signal.reason;
  } catch (error) {
    return new CredentialError('INVALID_ARGUMENT', 'signal threw when read (its reason)', { cause: error });
  }
}
