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
