import { MAX_TIMER_DELAY_MS } from '../../src/clock.js';

/**
 * XState's default clock, `setTimeout`, as it behaves: a delay beyond 2^31-1 ms (an infinite one
 * included) fires after 1 ms. Without Node's TimeoutOverflowWarning in the test output; `overflowed`
 * counts the delays it could not hold.
 */
export function xstateDefaultClock() {
  const clock = {
    overflowed: 0,
    setTimeout(callback: () => void, ms: number) {
      if (ms > MAX_TIMER_DELAY_MS) clock.overflowed++;
      return setTimeout(callback, ms > MAX_TIMER_DELAY_MS ? 1 : ms);
    },
    clearTimeout(handle: unknown) {
      clearTimeout(handle as ReturnType<typeof setTimeout>);
    },
  };
  return clock;
}
