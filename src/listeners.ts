/**
 * Listeners by event type, each called in a microtask after the transition that emitted the
 * event, so a listener may call back into the provider, and inside a `try`, so a throwing
 * listener breaks neither the provider nor the process.
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
        try {
          listener(event);
        } catch {
          // A listener's failure is its own; the provider keeps serving.
        }
      }
    });
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
