import type { Clock } from '../clock.js';

interface PendingTimer {
  /** Mutable so that `jump` can delay a timer in place: the handle given out stays the timer. */
  dueAt: number;
  readonly sequence: number;
  /** Dropped on cancel, so that a cancelled timer waiting in the heap keeps nothing of its caller alive. */
  callback: () => void;
  /** Cancelled timers stay in the heap until they reach its top (removal from the middle is O(n)). */
  cancelled: boolean;
}

/**
 * A clock that moves only when told to. Moving it fires every timer that falls due, in deadline
 * order (ties in the order they were armed), with `now()` reading each timer's own deadline while
 * it runs: exactly what a real clock would have shown had the process been perfectly on time.
 *
 * @example
 * ```ts
 * const clock = new ManualClock(0);
 * const provider = await createCredentialProvider({ mint, clock });
 * clock.advance(60_000); // fires the refresh timer, if it was due within the minute
 * ```
 */
export class ManualClock implements Clock {
  #now: number;
  #sequence = 0;
  /** A binary min-heap by deadline, then arming order: O(log n) to arm, fire and (lazily) cancel, for 100,000 timers as for one. */
  readonly #heap: PendingTimer[] = [];
  readonly #pending = new Set<PendingTimer>();

  /**
   * @param startMs the initial reading, epoch ms.
   * @example
   * ```ts
   * new ManualClock(Date.parse('2030-01-01T00:00:00Z'));
   * ```
   */
  constructor(startMs = 0) {
    this.#now = startMs;
  }

  /**
   * The current reading.
   *
   * @example
   * ```ts
   * new ManualClock(5).now(); // 5
   * ```
   */
  now(): number {
    return this.#now;
  }

  /**
   * Arms a timer `ms` from now (negative or NaN counts as 0, `Infinity` never fires).
   *
   * @example
   * ```ts
   * clock.setTimeout(() => console.log('tick'), 1_000);
   * ```
   */
  setTimeout(callback: () => void, ms: number): unknown {
    const timer: PendingTimer = { dueAt: this.#now + (ms > 0 ? ms : 0), sequence: this.#sequence++, callback, cancelled: false };
    this.#pending.add(timer);
    this.#heap.push(timer);
    siftUp(this.#heap, this.#heap.length - 1);
    return timer;
  }

  /**
   * Cancels a timer; unknown handles are ignored.
   *
   * @example
   * ```ts
   * clock.clearTimeout(clock.setTimeout(() => {}, 10));
   * ```
   */
  clearTimeout(handle: unknown): void {
    const timer = handle as PendingTimer;
    if (!this.#pending.delete(timer)) return;
    timer.cancelled = true;
    timer.callback = cancelledCallback;
    // mostly cancelled timers: rebuild, so that a long run of arm-and-cancel keeps the heap small
    if (this.#heap.length > 64 && this.#pending.size * 2 < this.#heap.length) {
      const live = this.#heap.filter((pending) => !pending.cancelled);
      this.#heap.length = 0;
      for (const pending of live) {
        this.#heap.push(pending);
        siftUp(this.#heap, this.#heap.length - 1);
      }
    }
  }

  /**
   * Moves time forward by `ms`, firing each timer that falls due on the way.
   *
   * @example
   * ```ts
   * clock.advance(30_000);
   * ```
   */
  advance(ms: number): void {
    this.set(this.#now + ms);
  }

  /**
   * Moves time forward by `ms` as a running process would: timer by timer, in deadline order,
   * letting every pending promise job (and what it triggers: a mint that settles, a retry armed in
   * reply) run between one timer and the next, as `@sinonjs/fake-timers`' `tickAsync` does.
   * Use it whenever promises react to timers within the span: a pool key's retries after refusals,
   * a mint timed out and tried again, anything that arms a timer from a promise callback. Use the
   * synchronous {@link ManualClock.advance} to fire a span's timers in one go, with nothing in between.
   *
   * @example
   * ```ts
   * await clock.advanceAsync(10 * 60_000); // ten minutes, each timer's consequences included
   * ```
   */
  async advanceAsync(ms: number): Promise<void> {
    const target = this.#now + ms;
    await settlePromiseJobs();
    for (let next = this.#peek(); next !== undefined && next.dueAt <= target; next = this.#peek()) {
      this.#fire(next);
      await settlePromiseJobs();
    }
    this.#now = Math.max(this.#now, target);
  }

  /**
   * Moves time to `epochMs`. Forward, it fires due timers in order; backward (a clock set back)
   * it fires nothing.
   *
   * @example
   * ```ts
   * clock.set(Date.parse('2030-01-01T01:00:00Z'));
   * ```
   */
  set(epochMs: number): void {
    for (let next = this.#peek(); next !== undefined && next.dueAt <= epochMs; next = this.#peek()) {
      this.#fire(next);
    }
    this.#now = epochMs;
  }

  /**
   * Jumps the wall clock forward by `ms` without firing anything, the way a laptop waking from
   * sleep sees it: `now()` leaps, while every pending timer fires that much later on the new time.
   *
   * @example
   * ```ts
   * clock.jump(3_600_000); // an hour of sleep; timers are now an hour late
   * ```
   */
  jump(ms: number): void {
    this.#now += ms;
    // In place: every handle given out earlier must still name its timer for `clearTimeout`.
    // Shifting every deadline by the same amount keeps the queue's order.
    for (const timer of this.#heap) timer.dueAt += ms;
  }

  /**
   * Moves the reading forward by `ms` without firing anything; timers that fell due stay pending,
   * overdue, and fire at the next `advance`, `set` or `runNext`: what a process sees after its event
   * loop was blocked, when a request is handled before the overdue timer callbacks run.
   *
   * @example
   * ```ts
   * clock.skip(5_000); // now() is 5 s later; a timer due in 1 s has not fired yet
   * ```
   */
  skip(ms: number): void {
    this.#now += ms;
  }

  /**
   * Fires the earliest pending timer alone (moving time to its deadline if that is later than now)
   * and returns whether there was one.
   *
   * @example
   * ```ts
   * while (clock.runNext()) {} // run every timer, however far away
   * ```
   */
  runNext(): boolean {
    const next = this.#peek();
    if (next === undefined) return false;
    this.#fire(next);
    return true;
  }

  /**
   * How many timers are armed; a stopped provider leaves none.
   *
   * @example
   * ```ts
   * await provider.stop();
   * clock.pendingTimers; // 0
   * ```
   */
  get pendingTimers(): number {
    return this.#pending.size;
  }

  /**
   * When the earliest pending timer is due, or `null` when none is.
   *
   * @example
   * ```ts
   * clock.set(clock.nextTimerAt() ?? clock.now());
   * ```
   */
  nextTimerAt(): number | null {
    return this.#peek()?.dueAt ?? null;
  }

  /** The earliest live timer, dropping cancelled ones from the top. */
  #peek(): PendingTimer | undefined {
    while (this.#heap.length > 0 && this.#heap[0]!.cancelled) popTop(this.#heap);
    return this.#heap[0];
  }

  /** Fires `timer` (the top of the heap) with `now()` reading its deadline if that is later. */
  #fire(timer: PendingTimer): void {
    popTop(this.#heap);
    this.#pending.delete(timer);
    if (timer.dueAt > this.#now) this.#now = timer.dueAt;
    timer.callback();
  }
}

function cancelledCallback(): void {}

function popTop(heap: PendingTimer[]): void {
  const last = heap.pop()!;
  if (heap.length === 0) return;
  heap[0] = last;
  siftDown(heap, 0);
}

function siftUp(heap: PendingTimer[], index: number): void {
  const timer = heap[index]!;
  while (index > 0) {
    const parent = (index - 1) >> 1;
    if (!isLater(heap[parent]!, timer)) break;
    heap[index] = heap[parent]!;
    index = parent;
  }
  heap[index] = timer;
}

function siftDown(heap: PendingTimer[], index: number): void {
  const timer = heap[index]!;
  for (;;) {
    const left = 2 * index + 1;
    if (left >= heap.length) break;
    const right = left + 1;
    const child = right < heap.length && isLater(heap[left]!, heap[right]!) ? right : left;
    if (!isLater(timer, heap[child]!)) break;
    heap[index] = heap[child]!;
    index = child;
  }
  heap[index] = timer;
}

function isLater(a: PendingTimer, b: PendingTimer): boolean {
  return a.dueAt > b.dueAt || (a.dueAt === b.dueAt && a.sequence > b.sequence);
}

/**
 * Resolves after every promise job queued now, and those they queue, have run: one turn of the host's
 * macrotask queue (`setImmediate` where there is one, else a zero-delay timer of the real clock).
 */
function settlePromiseJobs(): Promise<void> {
  const immediate = (globalThis as { setImmediate?: (callback: () => void) => unknown }).setImmediate;
  return new Promise((resolve) => (immediate === undefined ? globalThis.setTimeout(resolve, 0) : immediate(resolve)));
}
