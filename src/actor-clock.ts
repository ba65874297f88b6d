import { armTimer, disarmTimer, type Clock, type TimerClock, type TimerHandle } from './clock.js';

/**
 * XState's clock for a statechart's actor: the time its delays read, and its timers, armed through
 * `armTimer` (nothing for an infinite delay, a delay beyond 2^31-1 ms in chunks, unref'd on
 * `systemClock`). Every provider and pool creates its actors with one; pass one yourself when
 * you run `credentialMachine` or `poolMachine` with `createActor`. XState's default clock is
 * `setTimeout`, which fires a delay it cannot hold (no deadline, or more than 24.8 days away) after 1 ms.
 *
 * @example
 * ```ts
 * const actor = createActor(poolMachine, { input: { policy }, clock: new ActorClock(systemClock) }).start();
 * ```
 */
export class ActorClock implements TimerClock {
  /**
   * @param clock where the actor reads time and arms timers (`systemClock`, or a
   * `ManualClock` from `credential-actor/testing`).
   */
  constructor(readonly clock: Clock) {}

  /**
   * The clock's reading.
   *
   * @example
   * ```ts
   * new ActorClock(systemClock).now(); // Date.now()
   * ```
   */
  now(): number {
    return this.clock.now();
  }

  /**
   * Arms `callback` after `ms` on the clock: nothing for `Infinity`, chunks beyond 2^31-1 ms.
   *
   * @example
   * ```ts
   * const handle = actorClock.setTimeout(refresh, 40 * 24 * 3_600_000); // 40 days, not 1 ms
   * ```
   */
  setTimeout(callback: () => void, ms: number): TimerHandle {
    return armTimer(this.clock, callback, ms);
  }

  /**
   * Cancels a timer armed by {@link ActorClock.setTimeout}, whichever chunk it is in.
   *
   * @example
   * ```ts
   * actorClock.clearTimeout(handle);
   * ```
   */
  clearTimeout(handle: TimerHandle): void {
    disarmTimer(this.clock, handle);
  }
}
