/**
 * Listeners by event type, each called in a microtask after the transition that emitted the
 * event, so a listener may call back into the provider, and inside a `try`, so a throwing
 * listener breaks neither the provider nor the process. A listener that returns a rejected
 * promise (an `async` listener that throws) is caught too: no unhandled rejection. A listener
 * removed before its turn (by an earlier listener, or by `clear()` on stop) is not called.
 */
export class Listeners<TEvent extends { type: string }> {
  // created with the first listener: most providers never get one
  #byType: Map<string, Set<(event: TEvent) => void>> | null = null;

  /**
   * Adds `listener` for events of `type`; returns the function that removes it.
   *
   * @example
   * ```ts
   * const off = listeners.add('refresh.failed', (event) => log(event.error));
   * off();
   * ```
   */
  add(type: string, listener: (event: TEvent) => void): () => void {
    this.#byType ??= new Map();
    let set = this.#byType.get(type);
    if (set === undefined) this.#byType.set(type, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
    };
  }

  /**
   * Delivers `event` to the listeners registered for its type when it is emitted.
   *
   * @example
   * ```ts
   * listeners.notify({ type: 'refresh.succeeded', remainingSeconds: 3600 });
   * ```
   */
  notify(event: TEvent): void {
    const set = this.#byType?.get(event.type);
    if (set === undefined || set.size === 0) return;
    const targets = [...set];
    queueMicrotask(() => {
      for (const listener of targets) {
        // Still registered now? An earlier listener may have removed it, or the provider stopped.
        if (this.#byType?.get(event.type)?.has(listener) !== true) continue;
        callSafely(listener, event);
      }
    });
  }

  /** Whether no listener is registered. */
  get empty(): boolean {
    if (this.#byType === null) return true;
    for (const set of this.#byType.values()) if (set.size > 0) return false;
    return true;
  }

  /**
   * Removes every listener.
   *
   * @example
   * ```ts
   * listeners.clear();
   * ```
   */
  clear(): void {
    this.#byType = null;
  }
}

/**
 * Calls a user's callback so that nothing it does can break the caller: a throw is swallowed, and
 * a returned promise that rejects is caught (an `async` callback that throws would otherwise be an
 * unhandled rejection, which kills a Node process run with the defaults).
 *
 * @example
 * ```ts
 * callSafely(reporter.onRefreshFailed, remainingSeconds);
 * ```
 */
export function callSafely<A extends unknown[]>(callback: (...args: A) => unknown, ...args: A): void {
  try {
    const result = callback(...args);
    if (isThenable(result)) result.then(undefined, ignore);
  } catch {
    // A callback's failure is its own; the provider keeps serving.
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (typeof value === 'object' || typeof value === 'function') && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

function ignore(): void {}
