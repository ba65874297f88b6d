import { CredentialError } from '../machines/credential-error.js';

/**
 * Where the provider reads time and arms its timers. Inject one to control time in tests
 * (`ManualClock` from `credential-actor/testing`) or to share a monotonic source.
 */
export interface Clock {
  /** Current time in epoch milliseconds. */
  now(): number;
  /** Calls `callback` once after `ms` milliseconds; returns a handle for {@link Clock.clearTimeout}. */
  setTimeout(callback: () => void, ms: number): unknown;
  /** Cancels a timer armed by {@link Clock.setTimeout}. */
  clearTimeout(handle: unknown): void;
}

/** The largest delay `setTimeout` honours; a larger one fires at once in Node and browsers. */
export const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;

/**
 * `Date.now` with timers that never keep a Node process alive (they are `unref`'d where the
 * runtime supports it). The default clock.
 *
 * @example
 * ```ts
 * const provider = await createCredentialProvider({ mint, clock: systemClock });
 * ```
 */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout(callback, ms) {
    const handle: unknown = globalThis.setTimeout(callback, ms);
    (handle as { unref?: () => void }).unref?.();
    return handle;
  },
  clearTimeout(handle) {
    globalThis.clearTimeout(handle as Parameters<typeof globalThis.clearTimeout>[0]);
  },
};

/** The timer half of a clock, as XState's `createActor({ clock })` wants it. */
export interface TimerClock {
  setTimeout(callback: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

/** A re-armable timer: `current` is the underlying clock's handle for the chunk now waiting. */
export interface TimerHandle {
  current: unknown;
}

/**
 * Arms `callback` after `ms` on `clock`: an infinite delay arms nothing (a token with no expiry has
 * no timer), and a delay longer than {@link MAX_TIMER_DELAY_MS} is armed in chunks, re-armed until
 * it has fully elapsed, so a one-year token does not fire its timer at once.
 *
 * @example
 * ```ts
 * const handle = armTimer(systemClock, refresh, 365 * 24 * 3_600_000);
 * disarmTimer(systemClock, handle);
 * ```
 */
export function armTimer(clock: Clock, callback: () => void, ms: number): TimerHandle {
  const handle: TimerHandle = { current: undefined };
  const arm = (remainingMs: number): void => {
    handle.current = clock.setTimeout(() => (remainingMs > MAX_TIMER_DELAY_MS ? arm(remainingMs - MAX_TIMER_DELAY_MS) : callback()), Math.max(0, Math.min(remainingMs, MAX_TIMER_DELAY_MS)));
  };
  if (ms < Infinity) arm(ms);
  return handle;
}

/**
 * Cancels a timer armed by {@link armTimer}, whichever chunk it is in.
 *
 * @example
 * ```ts
 * disarmTimer(clock, handle);
 * ```
 */
export function disarmTimer(clock: Clock, handle: TimerHandle): void {
  if (handle.current !== undefined) clock.clearTimeout(handle.current);
  handle.current = undefined;
}

/**
 * Checks a `clock` option (default: {@link systemClock}), throwing `INVALID_CONFIG` unless it has
 * `now()`, `setTimeout()` and `clearTimeout()`.
 *
 * @example
 * ```ts
 * const clock = clockOption(options.clock);
 * ```
 */
export function clockOption(clock: unknown): Clock {
  if (clock === undefined) return systemClock;
  const candidate = clock as Partial<Clock> | null;
  if (typeof clock !== 'object' || candidate === null || typeof candidate.now !== 'function' || typeof candidate.setTimeout !== 'function' || typeof candidate.clearTimeout !== 'function') {
    throw new CredentialError('INVALID_CONFIG', 'clock must have now(), setTimeout() and clearTimeout()');
  }
  return clock as Clock;
}

/**
 * Runs `callback` after the event loop's pending I/O callbacks (`setImmediate` in Node; a zero
 * timer elsewhere): a deadline that fired late, after a stalled loop or a paused page, first lets an
 * answer already waiting in a socket be read, so an answer that arrived wins over a late timer.
 *
 * @example
 * ```ts
 * armTimer(clock, () => afterPendingIo(() => controller.abort()), deadlineMs);
 * ```
 */
export function afterPendingIo(callback: () => void): void {
  const immediate = (globalThis as { setImmediate?: (callback: () => void) => unknown }).setImmediate;
  if (immediate === undefined) globalThis.setTimeout(callback, 0);
  else immediate(callback);
}
