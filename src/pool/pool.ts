import type { Actor } from 'xstate';
import type { ObservedActor } from '../observed-actor.js';
import { credentialMachine } from '../../machines/credential.machine.js';
import type { BreakerChangedEvent, RefreshFailedEvent, RefreshSucceededEvent } from '../../machines/credential.types.js';
import { poolMachine, type PoolMachine } from '../../machines/pool.machine.js';
import type { IssuerBreakerChangedEvent, PoolPolicy } from '../../machines/pool.types.js';
import { isLiveSignal } from '../abort-signals.js';
import type { AuthToken, MintedToken } from '../auth-token.js';
import type { Mint, MintContext } from '../mint.js';
import { defaultClassifyFailure, type FailureBlame } from '../classify-failure.js';
import { armTimer, clockOption, disarmTimer, type Clock, type TimerHandle } from '../clock.js';
import { checkOptions } from '../check-options.js';
import { POLICY_OPTION_NAMES, resolveRefreshConfig, type RefreshConfig } from '../config.js';
import { CredentialError } from '../../machines/credential-error.js';
import { describeShape } from '../describe-shape.js';
import { createPoolActor } from '../environment.js';
import { redactedInspection, type InspectionObserver } from '../inspection.js';
import { Listeners } from '../listeners.js';
import {
  refusedSignal,
  sharedMintPolicy,
  unreadableOptions,
  validateInspect,
  type CredentialProvider,
  type CurrentTokenOptions,
  type InvalidateOptions,
  type KeyRest,
  type TokenSource,
} from '../provider.js';
import { isCoordination, type Coordination, type SharedMintPolicy } from '../coordination.js';
import { validateReporters, type CredentialReporters } from '../reporters.js';
import type { Secret, SecretValue } from '../../machines/secret.js';
import { IssuerGate } from './issuer-gate.js';
import { PoolKey, poolStopped, startKeyProvider, type KeyHost } from './pool-key.js';
import { WakeQueue } from './wake-queue.js';

/** Fetches a new token for one key. `signal` aborts when the pool gives up on this attempt. */
export type KeyMint<T extends SecretValue<T> = string> = (key: string, context: MintContext) => Promise<MintedToken<T>>;

/** Options of {@link createCredentialPool}: a provider's policy options, plus the pool's own. */
export interface CredentialPoolOptions<T extends SecretValue<T> = string> extends Partial<RefreshConfig> {
  /** Fetches a token for a key (its secret a string, or several named parts: `T`). Required. */
  mint: KeyMint<T>;
  /** Live keys at most (default 10,000); the least recently used idle key is evicted first. */
  maxKeys?: number;
  /** A key nobody asked for in this long is stopped and forgotten (ms; default 30 minutes; `Infinity`: never). */
  idleTimeoutMs?: number;
  /** Mints in flight at once across the pool (default 16); the rest wait in arrival order. */
  maxMintsInFlight?: number;
  /** Whose failure a failed mint is: `'issuer'` counts against the pool's issuer breaker, `'key'` against that key's. */
  classifyFailure?: (error: unknown) => FailureBlame;
  /** Time source and timers; defaults to `Date.now` with unref'd timers. */
  clock?: Clock;
  /** An XState inspection observer: sees the pool statechart and every key's, redacted. */
  inspect?: InspectionObserver;
  /** Telemetry: one set for every key (no key in them: bounded cardinality), or a function giving each key its own. */
  reporters?: CredentialReporters | ((key: string) => CredentialReporters);
  /**
   * Shares every key's credential with other processes (e.g. `redisCoordination` from
   * `credential-actor/redis`), each under its pool key: build pool keys with `credentialKey()` so
   * that a key names exactly one credential. Default: none.
   */
  coordination?: Coordination;
}

/** An event of one key, with its key. */
export type KeyedEvent<E> = E & { readonly key: string };

/** A key left the pool: evicted (over `maxKeys`), idle (`idleTimeoutMs`), or deleted. */
export interface KeyRemovedEvent {
  readonly type: 'key.removed';
  readonly key: string;
  readonly reason: 'evicted' | 'idle' | 'deleted';
}

/** What `pool.on()` can listen to. */
export type PoolEmittedEvent = KeyedEvent<RefreshSucceededEvent> | KeyedEvent<RefreshFailedEvent> | KeyedEvent<BreakerChangedEvent> | IssuerBreakerChangedEvent | KeyRemovedEvent;

/** A plain, secret-free summary of the pool. */
export interface CredentialPoolState {
  keys: number;
  /** Keys resting as a small record, with no actor (nothing happening, nothing due). */
  resting: number;
  maxKeys: number;
  issuer: { breaker: 'closed' | 'open' | 'halfOpen'; openUntil: number | null; openReason: 'failures' | 'retry-after' | null; consecutiveFailures: number };
  mintsInFlight: number;
  mintsQueued: number;
  status: 'running' | 'stopped';
}

type EmittedOf<T extends PoolEmittedEvent['type']> = Extract<PoolEmittedEvent, { type: T }>;

const POOL_OPTION_NAMES: readonly string[] = ['mint', 'clock', 'inspect', 'reporters', 'maxKeys', 'idleTimeoutMs', 'maxMintsInFlight', 'classifyFailure', 'coordination', ...POLICY_OPTION_NAMES];

/**
 * Creates a pool of credentials, one per key (a tenant, an audience, a scope), minted lazily on a
 * key's first request. Each key is its own credential actor (the provider's statechart), held in a
 * bounded map; what is pool-wide (one breaker for the issuer, a `Retry-After` cool-down, a cap on
 * mints in flight) is the pool statechart (`machines/pool.machine.ts`).
 *
 * Throws `INVALID_CONFIG` / `UNCONFIGURED` for bad options. Nothing is minted until a key is asked for.
 *
 * @example
 * ```ts
 * const pool = createCredentialPool({
 *   mint: (key, { signal }) => mintFor(JSON.parse(key), signal),
 *   maxKeys: 5_000,
 *   idleTimeoutMs: 15 * 60_000,
 * });
 * const token = await pool.currentToken(JSON.stringify(['tenant-42', 'orders:read', 'https://api.example']));
 * ```
 */
export function createCredentialPool(options: CredentialPoolOptions): CredentialPool;
/** A secret of several named parts (an AWS key triple): `T` is inferred from what the mint returns. */
export function createCredentialPool<T extends SecretValue<T>>(options: CredentialPoolOptions<T>): CredentialPool<T>;
export function createCredentialPool<T extends SecretValue<T> = string>(options: CredentialPoolOptions<T>): CredentialPool<T> {
  if (typeof options !== 'object' || options === null || typeof options.mint !== 'function') {
    throw new CredentialError('UNCONFIGURED', 'mint is required: a function (key, { signal }) => Promise<{ secret, expiresAt }>');
  }
  checkOptions(options, { owner: 'createCredentialPool', known: POOL_OPTION_NAMES });
  const config = resolveRefreshConfig(options, options.clock === undefined);
  const clock = clockOption(options.clock);
  const maxKeys = options.maxKeys ?? 10_000;
  const idleTimeoutMs = options.idleTimeoutMs ?? 30 * 60_000;
  const maxMintsInFlight = options.maxMintsInFlight ?? 16;
  requireThat('maxKeys', Number.isInteger(maxKeys) && maxKeys >= 1, 'must be an integer >= 1', maxKeys);
  requireThat('idleTimeoutMs', typeof idleTimeoutMs === 'number' && idleTimeoutMs > 0, 'must be a number > 0 (Infinity: never)', idleTimeoutMs);
  requireThat('maxMintsInFlight', Number.isInteger(maxMintsInFlight) && maxMintsInFlight >= 1, 'must be an integer >= 1', maxMintsInFlight);
  const classify = options.classifyFailure ?? defaultClassifyFailure;
  requireThat('classifyFailure', typeof classify === 'function', 'must be a function (error) => "issuer" | "key"', classify);
  validateInspect(options.inspect);
  const reporters = options.reporters;
  if (typeof reporters !== 'function') validateReporters(reporters);
  const mint = sharedKeyMint(options.mint, options.coordination, sharedMintPolicy(config, clock));
  return CredentialPool.create<T>({ mint: mint as KeyMint<SecretValue>, config, clock, maxKeys, idleTimeoutMs, maxMintsInFlight, classify, inspect: options.inspect, reporters });
}

/** What a pool is built from, its options checked (see {@link createCredentialPool}). */
interface PoolSetup {
  readonly mint: KeyMint<SecretValue>;
  readonly config: RefreshConfig;
  readonly clock: Clock;
  readonly maxKeys: number;
  readonly idleTimeoutMs: number;
  readonly maxMintsInFlight: number;
  readonly classify: (error: unknown) => FailureBlame;
  readonly inspect: InspectionObserver | undefined;
  readonly reporters: CredentialReporters | ((key: string) => CredentialReporters) | undefined;
}

/**
 * Many credentials, one per key, behind one issuer breaker. Build one with {@link createCredentialPool}.
 * `T` is what each key's secret holds: a string, or named parts.
 */
export class CredentialPool<T extends SecretValue<T> = string> {
  /** The pool statechart (issuer breaker, mints in flight), for `subscribe`, `getSnapshot` and inspection. */
  readonly actor: ObservedActor<PoolMachine>;
  readonly #actor: Actor<PoolMachine>;
  readonly #keys = new Map<string, PoolKey>();
  readonly #mint: KeyMint<SecretValue>;
  readonly #config: RefreshConfig;
  readonly #clock: Clock;
  readonly #maxKeys: number;
  readonly #idleTimeoutMs: number;
  readonly #classify: (error: unknown) => FailureBlame;
  readonly #inspect: InspectionObserver | undefined;
  readonly #reporters: CredentialReporters | ((key: string) => CredentialReporters) | undefined;
  readonly #gate: IssuerGate;
  /** How each key starts its actor and goes to rest. */
  readonly #host: KeyHost;
  /** The one timer that wakes resting proactive keys when their refresh falls due. */
  readonly #wakes: WakeQueue;
  readonly #listeners = new Listeners<PoolEmittedEvent>();
  #listening = false;
  #uses = 0;
  /** The use counter at each of the last five idle sweeps, newest last. */
  readonly #usesAtSweeps: number[] = [];
  #sweep: TimerHandle | null = null;
  #stopped = false;
  /** The one `stop()` under way or done: every caller of `stop()` waits for the same. */
  #stopping: Promise<void> | null = null;

  /** @internal Use {@link createCredentialPool}. */
  static create<T extends SecretValue<T>>(setup: PoolSetup): CredentialPool<T> {
    return new CredentialPool<T>(setup);
  }

  /** Use {@link createCredentialPool}. */
  private constructor(setup: PoolSetup) {
    this.#mint = setup.mint;
    this.#config = setup.config;
    this.#clock = setup.clock;
    this.#maxKeys = setup.maxKeys;
    this.#idleTimeoutMs = setup.idleTimeoutMs;
    this.#classify = setup.classify;
    this.#inspect = setup.inspect;
    this.#reporters = setup.reporters;
    const policy: PoolPolicy = {
      breakerThreshold: setup.config.breakerThreshold,
      breakerCooldownMs: setup.config.breakerCooldownMs,
      maxRetryAfterMs: setup.config.maxRetryAfterMs,
      maxMintsInFlight: setup.maxMintsInFlight,
    };
    this.#actor = createPoolActor(poolMachine, {
      policy,
      clock: setup.clock,
      ...(setup.inspect === undefined ? {} : { inspect: redactedInspection(setup.inspect) }),
    });
    this.#actor.subscribe({ error: () => void this.stop() });
    this.#actor.on('issuer.breaker.changed', (event) => this.#listeners.notify(event));
    this.#actor.start();
    this.actor = this.#actor;
    this.#gate = new IssuerGate(this.#actor, setup.clock, setup.maxMintsInFlight, setup.config.mintTimeoutMs);
    this.#host = { clock: setup.clock, start: (entry, resume) => this.#startKey(entry, resume), rested: (entry, rest) => this.#keyRested(entry, rest) };
    this.#wakes = new WakeQueue(setup.clock);
  }

  /**
   * The current token for `key`. A key's first request mints (one mint however many callers); a
   * fresh token is served at once, as by a provider. Rejects with `INVALID_KEY` for a key that is
   * not a non-empty string, `BREAKER_OPEN` when the token has expired and the key's breaker or the
   * issuer breaker is open, the mint's own error when the mint a caller waited on failed, `STOPPED`
   * after `stop()` or when the key is deleted while the caller waits.
   *
   * @example
   * ```ts
   * const token = await pool.currentToken(`tenant:${tenantId}`, { signal: AbortSignal.timeout(2_000) });
   * ```
   */
  currentToken(key: string, options?: CurrentTokenOptions<T>): Promise<AuthToken<T>> {
    const entry = this.#keys.get(key);
    if (entry === undefined) return this.#firstRequest(key, options);
    entry.lastUse = ++this.#uses;
    return entry.currentToken(options as CurrentTokenOptions<SecretValue> | undefined) as Promise<AuthToken<T>>;
  }

  /**
   * `invalidate()` of `key`'s cached token (after the upstream refused it); `false` for an unknown key.
   *
   * @example
   * ```ts
   * if (response.status === 401 && pool.invalidate(key, token)) return retryOnce();
   * ```
   */
  invalidate(key: string, token?: AuthToken<T> | Secret<T> | T, options?: InvalidateOptions): boolean {
    return this.#keys.get(key)?.invalidate(token as AuthToken<SecretValue> | Secret<SecretValue> | SecretValue | undefined, options) ?? false;
  }

  /**
   * `key`'s credential as a token source (`currentToken` and `invalidate` of that key), for what
   * takes one: `authorizedFetch`, the SDK adapters. Cheap: make one per request if the key varies.
   *
   * @example
   * ```ts
   * const api = authorizedFetch((request) => pool.source(new URL(request.url).hostname));
   * ```
   */
  source(key: string): TokenSource<T> {
    return {
      currentToken: (options) => this.currentToken(key, options),
      invalidate: (token, options) => this.invalidate(key, token, options),
    };
  }

  /**
   * Stops and forgets `key`: its timers cleared, its mint aborted, its waiting callers rejected
   * with `STOPPED`. Other keys are untouched. Returns whether it was there.
   *
   * @example
   * ```ts
   * pool.delete(`tenant:${offboardedTenant}`);
   * ```
   */
  delete(key: string): boolean {
    return this.#remove(key, 'deleted');
  }

  /** Live keys. */
  get size(): number {
    return this.#keys.size;
  }

  /**
   * The live keys, least recently admitted first.
   *
   * @example
   * ```ts
   * for (const key of pool.keys()) console.log(key);
   * ```
   */
  keys(): IterableIterator<string> {
    return this.#keys.keys();
  }

  /**
   * Listens to every key's events (each with its `key`), the issuer breaker's changes and keys
   * leaving the pool. Returns the function that stops listening.
   *
   * @example
   * ```ts
   * pool.on('issuer.breaker.changed', ({ from, to, reason }) => log.warn(`issuer ${from} -> ${to} (${reason})`));
   * pool.on('refresh.failed', ({ key, error }) => log.warn(`${key}: ${error}`));
   * ```
   */
  on<T extends PoolEmittedEvent['type']>(type: T, listener: (event: EmittedOf<T>) => void): () => void {
    if (!this.#listening) {
      this.#listening = true;
      for (const [key, entry] of this.#keys) if (entry.provider !== null) this.#forward(key, entry.provider);
    }
    return this.#listeners.add(type, listener as (event: PoolEmittedEvent) => void);
  }

  /**
   * Stops every key and the pool: mints aborted, queued mints refused (none reaches your mint after
   * this), timers cleared, waiting and later callers rejected with `STOPPED`. Idempotent: every
   * call resolves when the one stop is done.
   *
   * @example
   * ```ts
   * process.once('SIGTERM', () => pool.stop());
   * ```
   */
  stop(): Promise<void> {
    this.#stopping ??= this.#stopEverything();
    return this.#stopping;
  }

  async #stopEverything(): Promise<void> {
    this.#stopped = true;
    // first: a stopping key returns its permit, which must not start the next queued key's mint
    this.#gate.close(poolStopped());
    if (this.#sweep !== null) disarmTimer(this.#clock, this.#sweep);
    this.#sweep = null;
    this.#wakes.stop();
    const keys = [...this.#keys.values()];
    this.#keys.clear();
    await Promise.all(keys.map((entry) => entry.stop()));
    this.#actor.stop();
    this.#listeners.clear();
  }

  /**
   * `await using pool = createCredentialPool(...)` stops it at the end of the scope.
   *
   * @example
   * ```ts
   * await using pool = createCredentialPool({ mint });
   * ```
   */
  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }

  /**
   * A plain summary, without any secret.
   *
   * @example
   * ```ts
   * console.log(JSON.stringify(pool)); // {"keys":3,"maxKeys":10000,"issuer":{"breaker":"closed",...},...}
   * ```
   */
  toJSON(): CredentialPoolState {
    const { value, context } = this.#actor.getSnapshot();
    return {
      keys: this.#keys.size,
      resting: this.#resting(),
      maxKeys: this.#maxKeys,
      issuer: { breaker: value.issuer, openUntil: context.openUntil, openReason: context.openReason, consecutiveFailures: context.consecutiveFailures },
      mintsInFlight: this.#gate.permits.inFlight,
      mintsQueued: this.#gate.permits.queued,
      status: this.#stopped ? 'stopped' : 'running',
    };
  }

  /** Node's `util.inspect` shows the summary. */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `CredentialPool ${JSON.stringify(this.toJSON())}`;
  }

  /** A key's first request (or a bad key, or a stopped pool), kept out of the hot path above so that it stays small enough to inline. */
  #firstRequest(key: string, options: CurrentTokenOptions<T> | undefined): Promise<AuthToken<T>> {
    if (this.#stopped) return Promise.reject(poolStopped());
    if (typeof key !== 'string' || key.length === 0) {
      return Promise.reject(new CredentialError('INVALID_KEY', `a key must be a non-empty string, got ${describeShape(key)}`));
    }
    // a caller who has already given up admits nothing (and so evicts nothing)
    let signal: AbortSignal | undefined;
    try {
      signal = options?.signal;
    } catch (error) {
      return unreadableOptions(error);
    }
    if (signal !== undefined && !isLiveSignal(signal)) return refusedSignal(signal);
    return this.#admit(key).currentToken(options) as Promise<AuthToken<T>>;
  }

  /** A new key: a credential actor with no token yet, so its first request mints, through the issuer gate. */
  #admit(key: string): PoolKey {
    const entry = new PoolKey(key, this.#host, ++this.#uses);
    this.#keys.set(key, entry);
    if (this.#keys.size > this.#maxKeys) this.#evict(entry);
    if (this.#sweep === null && Number.isFinite(this.#idleTimeoutMs)) this.#armSweep();
    return entry;
  }

  /** A key's credential actor, started the first time and each time the key wakes from rest. */
  #startKey(entry: PoolKey, resume: KeyRest | undefined): CredentialProvider<SecretValue> {
    const { key } = entry;
    // a reporters factory is asked once per key, not once per waking
    if (entry.reporters === null) entry.reporters = typeof this.#reporters === 'function' ? this.#keyReporters(key) : this.#reporters;
    const reporters = entry.reporters;
    const mint = this.#mint;
    const provider = startKeyProvider({
      machine: credentialMachine,
      mint: (context) => mint(key, context),
      clock: this.#clock,
      // the statechart's mintTimeoutMs runs from the attempt's start: time queued for a permit counts against it
      config: this.#config,
      ...(this.#inspect === undefined ? {} : { inspect: this.#inspect }),
      ...(reporters === undefined ? {} : { reporters }),
      classify: this.#classify,
      gate: this.#gate.forKey(key),
      ...(resume === undefined ? {} : { resume }),
    });
    if (this.#listening) this.#forward(key, provider);
    return provider;
  }

  /** A key went to rest: one that refreshes by itself is woken when its refresh falls due; on demand, its next request wakes it. */
  #keyRested(entry: PoolKey, rest: KeyRest): void {
    if (this.#config.refresh !== 'proactive' || !Number.isFinite(rest.servingUntil)) return;
    entry.pendingWake?.cancel();
    entry.pendingWake = this.#wakes.add(rest.servingUntil, () => {
      entry.pendingWake = null;
      entry.wake(rest);
    });
  }

  #keyReporters(key: string): CredentialReporters | undefined {
    try {
      const reporters = (this.#reporters as (key: string) => CredentialReporters)(key);
      validateReporters(reporters);
      return reporters;
    } catch {
      return undefined; // a broken reporters factory costs that key its telemetry, never its token
    }
  }

  #forward(key: string, provider: CredentialProvider<SecretValue>): void {
    provider.on('refresh.succeeded', (event) => this.#listeners.notify({ ...event, key }));
    provider.on('refresh.failed', (event) => this.#listeners.notify({ ...event, key }));
    provider.on('breaker.changed', (event) => this.#listeners.notify({ ...event, key }));
  }

  /**
   * Brings the pool back to `maxKeys` when `newcomer` took it past: removes the least recently used
   * keys that have no mint in flight (so no waiter either), never the newcomer itself. One scan of
   * the map, only when the pool is over its bound and some other key is idle: the hot path pays one
   * counter write per request, not a reordering. With every other key busy, the pool stays over its
   * bound (by at most the keys minting at once) until the next admission finds idle keys to remove.
   */
  #evict(newcomer: PoolKey): void {
    const excess = this.#keys.size - this.#maxKeys;
    // the newcomer and the keys with an attempt under way are not candidates: is anyone else?
    if (excess <= 0 || this.#keys.size - 1 - this.#gate.attempts <= 0) return;
    const idle: [number, string][] = [];
    for (const [key, provider] of this.#keys) {
      if (provider !== newcomer && !isBusy(provider)) idle.push([provider.lastUse, key]);
    }
    if (excess === 1) {
      let oldest: [number, string] | undefined;
      for (const candidate of idle) if (oldest === undefined || candidate[0] < oldest[0]) oldest = candidate;
      if (oldest !== undefined) this.#remove(oldest[1], 'evicted');
      return;
    }
    idle.sort((a, b) => a[0] - b[0]);
    for (const [, key] of idle.slice(0, excess)) this.#remove(key, 'evicted');
  }

  #resting(): number {
    let resting = 0;
    for (const entry of this.#keys.values()) if (entry.resting) resting++;
    return resting;
  }

  #armSweep(): void {
    this.#sweep = armTimer(this.#clock, () => this.#sweepIdle(), this.#idleTimeoutMs / 4);
  }

  /**
   * Every quarter of `idleTimeoutMs`: a key not asked for since the sweep four sweeps ago (and not
   * busy) is removed, so a key goes between `idleTimeoutMs` and 1.25x that after its last request.
   * The hot path pays nothing for it: the use counter it already writes says when a key was asked.
   */
  #sweepIdle(): void {
    this.#sweep = null;
    if (this.#stopped) return;
    this.#usesAtSweeps.push(this.#uses);
    if (this.#usesAtSweeps.length > 5) this.#usesAtSweeps.shift();
    if (this.#usesAtSweeps.length === 5) {
      const usedBefore = this.#usesAtSweeps[0]!;
      for (const [key, provider] of [...this.#keys]) {
        if (provider.lastUse <= usedBefore && !isBusy(provider)) this.#remove(key, 'idle');
      }
    }
    if (this.#keys.size > 0) this.#armSweep();
  }

  #remove(key: string, reason: KeyRemovedEvent['reason']): boolean {
    const provider = this.#keys.get(key);
    if (provider === undefined) return false;
    this.#keys.delete(key);
    // its wake-up would hold the key, and its token, until its refresh instant
    provider.pendingWake?.cancel();
    provider.pendingWake = null;
    void provider.stop();
    if (this.#listening) this.#listeners.notify({ type: 'key.removed', key, reason });
    return true;
  }
}

/** Each key's mint shared through `coordination` under its pool key, or the user's mint as it is. */
function sharedKeyMint<T extends SecretValue<T>>(mint: KeyMint<T>, coordination: Coordination | undefined, policy: SharedMintPolicy): KeyMint<T> {
  if (coordination === undefined) return mint;
  if (!isCoordination(coordination)) throw new CredentialError('INVALID_CONFIG', `coordination must have share(), got ${describeShape(coordination)}`);
  coordination.check?.(policy);
  // a rotating refresh token is one session's: its record is shared under a provider's sharedKey, not per pool key
  if ((mint as { exclusive?: unknown }).exclusive === true) {
    throw new CredentialError(
      'INVALID_CONFIG',
      'createCredentialPool: a rotating refresh-token grant cannot be a pool’s key mint under a coordination; give each session its own provider with refreshTokenMint',
    );
  }
  return (key, context) => coordination.share(key, (keyContext: MintContext) => mint(key, keyContext).then(refuseKeyBound), policy)(context);
}

/**
 * A token bound to a key only this process holds (`token_type: DPoP`) is never handed to a
 * coordination: another process could not use it. A pool's key mint is known only by what it
 * returns, so the refusal comes at the mint, as its failure.
 */
function refuseKeyBound<T extends SecretValue<T>>(minted: MintedToken<T>): MintedToken<T> {
  if (minted.tokenType !== undefined && /^dpop$/i.test(minted.tokenType)) {
    throw new CredentialError(
      'INVALID_CONFIG',
      'createCredentialPool: the key mint returned a DPoP-bound token, bound to a key only this process holds; it cannot be shared through coordination: give the pool no coordination',
    );
  }
  return minted;
}

/** A key with a mint in flight (and so, perhaps, callers waiting on it) is never evicted. */
function isBusy(entry: PoolKey): boolean {
  return entry.busy;
}

function requireThat(field: string, ok: boolean, rule: string, value: unknown): void {
  if (!ok) throw new CredentialError('INVALID_CONFIG', `${field} ${rule}, got ${typeof value === 'number' ? String(value) : describeShape(value)}`);
}
