/**
 * A browser for the tab simulation, on simulated time and a simulated network, run by the real
 * `browserCoordination` code: one broadcast broker per channel name (a message reaches every other
 * handle after a seeded delay, in the order the broker got it; one posted to a paused page is lost,
 * as Chromium loses it), Web Locks (`ifAvailable`; a tab's callback is a task of that tab, so a tab
 * paused between its request and its callback holds the lock until it resumes; a closed tab's locks
 * are released), an origin's `localStorage`, and tabs whose timers, lock callbacks and network
 * answers wait while they are paused and are dropped once they are closed.
 */
import { appendFileSync } from 'node:fs';
import type { BroadcastChannelLike, LockManagerLike } from '../../src/browser/index.js';
import type { Clock } from '../../src/index.js';
import type { ManualClock } from '../../src/testing/index.js';

/** Where SIM_TRACE says to write what happened (read once: the environment is slow to read on every message). */
export const TRACE_FILE = process.env.SIM_TRACE;

/** With SIM_TRACE set, a line of what happened, in SIM_TRACE's file (one schedule's replay reads in order). */
export function trace(line: string): void {
  if (TRACE_FILE !== undefined) appendFileSync(TRACE_FILE, `${line}\n`);
}

/** One tab: its own clock (timers that wait while it is paused), its lock manager, channel constructor and fetch. */
export class SimTab {
  paused = false;
  closed = false;
  readonly clock: Clock;
  readonly locks: LockManagerLike;
  readonly channel: { new (name: string): BroadcastChannelLike };
  readonly fetch: typeof fetch;
  /** The refresh tokens this tab has seen in a record it posted or was delivered, in clear, and when it first saw each. */
  readonly seen = new Map<string, number>();
  /** Requests it sent whose answers have not reached it yet. */
  pendingAnswers = 0;
  /** When it last resumed (a tab that resumed a moment ago may have lost the question it would have answered). */
  resumedAt = -Infinity;
  readonly #queued: (() => void)[] = [];

  constructor(
    readonly name: string,
    readonly browser: SimBrowser,
    network: typeof fetch,
  ) {
    const tab = this;
    const base = browser.clock;
    this.clock = {
      now: () => base.now(),
      setTimeout: (callback, ms) => {
        const timer = { cancelled: false, handle: undefined as unknown };
        timer.handle = base.setTimeout(() => tab.run(() => !timer.cancelled && callback()), ms);
        return timer;
      },
      clearTimeout: (handle) => {
        const timer = handle as { cancelled: boolean; handle: unknown };
        timer.cancelled = true;
        base.clearTimeout(timer.handle);
      },
    };
    this.locks = browser.locksFor(this);
    this.channel = browser.channelFor(this);
    this.fetch = (async (input: string | URL | Request, init?: RequestInit) => {
      if (TRACE_FILE !== undefined) trace(`${browser.clock.now() % 100_000} ${name} ${init?.method} ${new URLSearchParams(String(init?.body ?? '')).get('refresh_token') ?? ''}`);
      tab.pendingAnswers++;
      try {
        const headers = new Headers(init?.headers);
        headers.set('x-tab', name);
        const response = await network(input, { ...init, headers });
        // the answer is read by the page's script: while it is paused it waits, once it is closed it is lost
        return await new Promise<Response>((resolve) => tab.run(() => resolve(response)));
      } finally {
        tab.pendingAnswers--;
      }
    }) as typeof fetch;
  }

  /** Runs a task of this tab: now, after it resumes, or never (closed). */
  run(task: () => void): void {
    if (this.closed) return;
    if (this.paused) this.#queued.push(task);
    else task();
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    if (this.paused) this.resumedAt = this.browser.clock.now();
    this.paused = false;
    for (const task of this.#queued.splice(0)) this.run(task);
  }

  close(): void {
    this.closed = true;
    this.#queued.length = 0;
    this.browser.releaseLocksOf(this);
  }
}

interface Handle {
  readonly tab: SimTab;
  readonly listeners: ((event: { data: unknown }) => void)[];
  closed: boolean;
  /** When the last message to it is delivered: the broker's order is kept per receiver. */
  lastDeliveryAt: number;
  /**
   * The tab's first handle on the channel: the coordination reads messages on it (its second handle
   * only wakes its waiters), so only what this one is delivered counts as known to the tab.
   */
  readonly reads: boolean;
}

export class SimBrowser {
  readonly #brokers = new Map<string, Set<Handle>>();
  readonly #locks = new Map<string, SimTab>();
  /** The grant's mark each tab posted last without saying yet how it went (the refresh token it carries). */
  readonly #granting = new Map<SimTab, string>();
  /** Messages the broker dropped because their receiver was paused. */
  dropped = 0;
  /** The newest sign-in (the issuer's family number) whose refresh token any tab of the origin ever posted: the current family. */
  newestFamilyPosted = 0;
  /** Refresh tokens whose grant's tab closed between its mark and its outcome: nobody can know whether they were sent. */
  readonly unknowable = new Set<string>();
  /** The origin's `localStorage`, shared by its tabs (synchronous, as in a browser). */
  readonly storage = new Map<string, string>();
  readonly storageLike = { getItem: (key: string) => this.storage.get(key) ?? null, setItem: (key: string, value: string) => void this.storage.set(key, value) };

  constructor(
    readonly clock: ManualClock,
    readonly random: () => number,
    readonly maxDeliveryDelayMs = 5,
  ) {}

  channelFor(tab: SimTab): new (name: string) => BroadcastChannelLike {
    const browser = this;
    return class implements BroadcastChannelLike {
      readonly #handle: Handle;
      readonly #name: string;
      constructor(name: string) {
        this.#name = name;
        let handles = browser.#brokers.get(name);
        if (handles === undefined) browser.#brokers.set(name, (handles = new Set()));
        this.#handle = { tab, listeners: [], closed: false, lastDeliveryAt: 0, reads: ![...handles].some((handle) => handle.tab === tab) };
        handles.add(this.#handle);
      }
      postMessage(message: unknown): void {
        if (this.#handle.closed || tab.closed) return;
        browser.#post(this.#name, this.#handle, message);
      }
      addEventListener(_type: 'message', listener: (event: { data: unknown }) => void): void {
        this.#handle.listeners.push(listener);
      }
      close(): void {
        this.#handle.closed = true;
        browser.#brokers.get(this.#name)?.delete(this.#handle);
      }
    };
  }

  locksFor(tab: SimTab): LockManagerLike {
    return {
      request: <T>(name: string, _options: { ifAvailable: true }, callback: (lock: unknown) => Promise<T>): Promise<T> =>
        new Promise<T>((resolve, reject) => {
          if (tab.closed) return; // a closed page asks for nothing (its script goes on in this process only)
          const taken = this.#locks.has(name);
          if (!taken) this.#locks.set(name, tab);
          if (TRACE_FILE !== undefined) trace(`${this.clock.now() % 100_000} ${tab.name} LOCK ${taken ? `taken by ${this.#locks.get(name)?.name}` : 'got'}`);
          // the callback is a task of the tab, a moment later: a tab paused meanwhile holds the lock until it resumes
          this.clock.setTimeout(
            () => {
              tab.run(() => {
                callback(taken ? null : { name }).then(
                  (value) => {
                    if (!taken && this.#locks.get(name) === tab) this.#locks.delete(name);
                    if (TRACE_FILE !== undefined && !taken) trace(`${this.clock.now() % 100_000} ${tab.name} LOCK released`);
                    resolve(value);
                  },
                  (error: unknown) => {
                    if (!taken && this.#locks.get(name) === tab) this.#locks.delete(name);
                    reject(error);
                  },
                );
              });
            },
            Math.floor(this.random() * 3),
          );
        }),
    };
  }

  releaseLocksOf(tab: SimTab): void {
    const granting = this.#granting.get(tab);
    if (granting !== undefined) this.unknowable.add(granting);
    for (const [name, holder] of [...this.#locks]) if (holder === tab) this.#locks.delete(name);
  }

  #post(name: string, from: Handle, message: unknown): void {
    this.#observe(from.tab, message, true);
    const traced = message as { type?: string; record?: { status: string; value: string; generation: number; seq: number; family: string; formerFamilies?: string[] } };
    if (TRACE_FILE !== undefined && traced.type !== 'barrier' && traced.type !== undefined) {
      trace(
        `${this.clock.now() % 100_000} ${from.tab.name} posts ${traced.type}${traced.record === undefined ? '' : ` ${traced.record.family.slice(0, 4)} g${traced.record.generation}.${traced.record.seq} ${traced.record.status} ${traced.record.value} [${(traced.record.formerFamilies ?? []).map((f) => f.slice(0, 4)).join(',')}]`}`,
      );
    }
    for (const to of this.#brokers.get(name) ?? []) {
      if (to === from) continue;
      const at = Math.max(to.lastDeliveryAt, this.clock.now() + Math.floor(this.random() * (this.maxDeliveryDelayMs + 1)));
      to.lastDeliveryAt = at;
      const data = structuredClone(message);
      this.clock.setTimeout(() => {
        if (to.closed || to.tab.closed) return;
        if (to.tab.paused) {
          if (TRACE_FILE !== undefined) trace(`${this.clock.now() % 100_000} ${to.tab.name} DROPPED ${(data as { type?: string }).type}`);
          this.dropped++;
          return;
        }
        if (to.reads) this.#observe(to.tab, data, false);
        for (const listener of [...to.listeners]) listener({ data });
      }, at - this.clock.now());
    }
  }

  /** Notes the refresh tokens a tab posts or hears of (a record or a token message carries one in clear). */
  #observe(tab: SimTab, message: unknown, posted: boolean): void {
    const record = (message as { record?: { value?: unknown; status?: unknown } } | null)?.record;
    if (typeof record?.value !== 'string') return;
    this.newestFamilyPosted = Math.max(this.newestFamilyPosted, Number(record.value.split('-')[1]));
    if (!tab.seen.has(record.value)) tab.seen.set(record.value, this.clock.now());
    // a tab that posted a grant's mark and closes before it says more leaves that refresh token
    // unknowable: the others cannot tell whether it was sent
    if (!posted || (message as { type?: unknown }).type !== 'record') return;
    if (record.status === 'granting') this.#granting.set(tab, record.value);
    else this.#granting.delete(tab);
  }
}
