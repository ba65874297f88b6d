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
/** A wake-up in the queue; `cancel()` drops its call at once (and what the call holds: a removed key, its token). */
export interface WakeUp {
  cancel(): void;
}

/** One queued wake-up: its instant, and its call (`null` once cancelled). A class: its `cancel` is shared, not one closure a key. */
class Entry implements WakeUp {
  constructor(
    readonly at: number,
    public call: (() => void) | null,
    readonly queue: WakeQueue | null,
  ) {}

  cancel(): void {
    if (this.call === null) return;
    this.call = null;
    this.queue?.cancelled();
  }
}

export class WakeQueue {
  readonly #clock: Clock;
  /** A binary min-heap by instant. */
  #heap: Entry[] = [];
  /** Cancelled entries still in the heap: past half of it, the heap is rebuilt without them. */
  #cancelled = 0;
  #timer: TimerHandle | null = null;
  /** The instant the timer is armed for. */
  #armedFor = Infinity;
  #stopped = false;

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** Calls `call` at `at` (at once, on the timer, if `at` has passed), unless cancelled first. */
  add(at: number, call: () => void): WakeUp {
    if (this.#stopped) return new Entry(at, null, null);
    const entry = new Entry(at, call, this);
    this.#heap.push(entry);
    this.#up(this.#heap.length - 1);
    if (at < this.#armedFor) this.#arm();
    return entry;
  }

  /** How many wake-ups are queued (cancelled ones not yet dropped included). */
  get size(): number {
    return this.#heap.length;
  }

  /** Drops every wake-up and the timer. */
  stop(): void {
    this.#stopped = true;
    for (const entry of this.#heap) entry.call = null;
    this.#heap = [];
    this.#cancelled = 0;
    this.#disarm();
  }

  /** A queued wake-up was cancelled (its `cancel()` says so): past half the heap, cancelled ones are dropped, so removed keys cost nothing until their time. */
  cancelled(): void {
    this.#cancelled++;
    if (this.#cancelled * 2 <= this.#heap.length) return;
    this.#heap = this.#heap.filter((entry) => entry.call !== null);
    this.#cancelled = 0;
    for (let index = (this.#heap.length >> 1) - 1; index >= 0; index--) this.#down(index);
    this.#arm();
  }

  #arm(): void {
    this.#disarm();
    const next = this.#heap[0]?.at;
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
    while (!this.#stopped && this.#heap.length > 0 && this.#heap[0]!.at <= now) {
      const entry = this.#pop();
      const call = entry.call;
      if (call === null) {
        this.#cancelled--;
        continue;
      }
      entry.call = null;
      call();
    }
    if (!this.#stopped) this.#arm();
  }

  #pop(): Entry {
    const first = this.#heap[0]!;
    const last = this.#heap.pop()!;
    if (this.#heap.length > 0) {
      this.#heap[0] = last;
      this.#down(0);
    }
    return first;
  }

  #up(index: number): void {
    const heap = this.#heap;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      if (heap[parent]!.at <= heap[index]!.at) break;
      [heap[parent], heap[index]] = [heap[index]!, heap[parent]!];
      index = parent;
    }
  }

  #down(index: number): void {
    const heap = this.#heap;
    for (;;) {
      const left = 2 * index + 1;
      const right = left + 1;
      let least = index;
      if (left < heap.length && heap[left]!.at < heap[least]!.at) least = left;
      if (right < heap.length && heap[right]!.at < heap[least]!.at) least = right;
      if (least === index) return;
      [heap[least], heap[index]] = [heap[index]!, heap[least]!];
      index = least;
    }
  }
}
