interface Subscription {
  readonly callbacks: Set<() => void>;
  readonly listener: () => void;
}

const subscriptions = new WeakMap<AbortSignal, Subscription>();

/**
 * Calls `callback` once when `signal` aborts; returns the function that cancels it. However many
 * callbacks, flights and providers share one signal (an app's per-request signal passed to twenty
 * providers), the signal carries one `abort` listener of ours, removed with the last callback: no
 * `MaxListenersExceededWarning`, and no listener that outlives its caller.
 *
 * @example
 * ```ts
 * const cancel = onAbort(signal, () => reject(signal.reason));
 * cancel(); // settled first: nothing stays on the signal
 * ```
 */
export function onAbort(signal: AbortSignal, callback: () => void): () => void {
  let subscription = subscriptions.get(signal);
  if (subscription === undefined) {
    const callbacks = new Set<() => void>();
    const listener = (): void => {
      subscriptions.delete(signal);
      for (const call of [...callbacks]) call();
      callbacks.clear();
    };
    subscription = { callbacks, listener };
    subscriptions.set(signal, subscription);
    signal.addEventListener('abort', listener, { once: true });
  }
  const { callbacks, listener } = subscription;
  callbacks.add(callback);
  return () => {
    if (!callbacks.delete(callback) || callbacks.size > 0) return;
    signal.removeEventListener('abort', listener);
    if (subscriptions.get(signal) === subscription) subscriptions.delete(signal);
  };
}

/**
 * `promise`, or the signal's reason as soon as it aborts: a user's mint that ignores its signal
 * must not hold a permit, a lease or a caller after the attempt was given up.
 *
 * @example
 * ```ts
 * const minted = await untilAborted(mint({ signal }), signal);
 * ```
 */
export function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    promise.catch(() => {}); // its late rejection is nobody's business now
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const cancel = onAbort(signal, () => {
      promise.catch(() => {});
      reject(signal.reason);
    });
    promise.then(
      (value) => {
        cancel();
        resolve(value);
      },
      (error: unknown) => {
        cancel();
        reject(error);
      },
    );
  });
}

/**
 * Whether `value` is an `AbortSignal` (or quacks like one: a signal from another realm), so that a
 * bogus `signal` option is refused the same way on every path instead of throwing deep inside.
 *
 * @example
 * ```ts
 * isAbortSignal(AbortSignal.timeout(1_000)); // true
 * isAbortSignal({}); // false
 * ```
 */
export function isAbortSignal(value: unknown): value is AbortSignal {
  try {
    return (
      typeof value === 'object' &&
      value !== null &&
      typeof (value as AbortSignal).aborted === 'boolean' &&
      typeof (value as AbortSignal).addEventListener === 'function' &&
      typeof (value as AbortSignal).removeEventListener === 'function'
    );
  } catch {
    return false; // a getter that throws: not a signal anything can wait on
  }
}

/**
 * Whether `value` is an `AbortSignal` that has not aborted: the check every `currentToken()` with a
 * signal makes first (small enough to inline on the hot path).
 *
 * @example
 * ```ts
 * if (signal !== undefined && !isLiveSignal(signal)) return refusedSignal(signal);
 * ```
 */
export function isLiveSignal(value: unknown): boolean {
  try {
    return isAbortSignal(value) && !value.aborted;
  } catch {
    return false; // refused by `refusedSignal`, as a rejected promise
  }
}
