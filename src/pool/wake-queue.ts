import { armTimer, disarmTimer, type Clock, type TimerHandle } from '../clock.js';

/**
 * Wake-ups at instants, on one timer: a binary heap by instant, the timer armed for the earliest.
 * A pool's resting keys that refresh by themselves are woken from here, so that 100,000 of them
 * cost one timer, not 100,000. A wake-up that no longer applies is the caller's to ignore (a key
 * woken earlier by a request ignores the one it queued when it rested).
 *
 * @example
 * ```ts
 * const wakes = new WakeQueue(clock);
 * wakes.add(rest.servingUntil, () => key.wake(rest));
 * ```
 */
export class WakeQueue {
  readonly #clock: Clock;
  /** A binary min-heap: `#at[i]` is the instant of `#calls[i]`. */
  #at: number[] = [];
  #calls: (() => void)[] = [];
  #timer: TimerHandle | null = null;
  /** The instant the timer is armed for. */
  #armedFor = Infinity;
  #stopped = false;

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** Calls `call` at `at` (at once, on the timer, if `at` has passed). */
  add(at: number, call: () => void): void {
    if (this.#stopped) return;
    let index = this.#at.length;
    this.#at.push(at);
    this.#calls.push(call);
    while (index > 0) {
      const parent = (index - 1) >> 1;
      if (this.#at[parent]! <= at) break;
      this.#swap(index, parent);
      index = parent;
    }
    if (at < this.#armedFor) this.#arm();
  }

  /** Drops every wake-up and the timer. */
  stop(): void {
    this.#stopped = true;
    this.#at = [];
    this.#calls = [];
    this.#disarm();
  }

  #arm(): void {
    this.#disarm();
    const next = this.#at[0];
    if (next === undefined) return;
    this.#armedFor = next;
    this.#timer = armTimer(this.#clock, () => this.#fire(), Math.max(0, next - this.#clock.now()));
  }

  #disarm(): void {
    if (this.#timer !== null) disarmTimer(this.#clock, this.#timer);
    this.#timer = null;
    this.#armedFor = Infinity;
  }

  #fire(): void {
    this.#timer = null;
    this.#armedFor = Infinity;
    const now = this.#clock.now();
    while (!this.#stopped && this.#at.length > 0 && this.#at[0]! <= now) this.#pop()();
    if (!this.#stopped) this.#arm();
  }

  #pop(): () => void {
    const call = this.#calls[0]!;
    const lastAt = this.#at.pop()!;
    const lastCall = this.#calls.pop()!;
    if (this.#at.length > 0) {
      this.#at[0] = lastAt;
      this.#calls[0] = lastCall;
      let index = 0;
      for (;;) {
        const left = 2 * index + 1;
        const right = left + 1;
        let least = index;
        if (left < this.#at.length && this.#at[left]! < this.#at[least]!) least = left;
        if (right < this.#at.length && this.#at[right]! < this.#at[least]!) least = right;
        if (least === index) break;
        this.#swap(index, least);
        index = least;
      }
    }
    return call;
  }

  #swap(one: number, other: number): void {
    [this.#at[one], this.#at[other]] = [this.#at[other]!, this.#at[one]!];
    [this.#calls[one], this.#calls[other]] = [this.#calls[other]!, this.#calls[one]!];
  }
}
