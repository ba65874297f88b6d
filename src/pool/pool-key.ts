import type { WakeUp } from './wake-queue.js';
import type { AuthToken } from '../../machines/credential.types.js';
import type { SecretValue } from '../../machines/secret.js';
import type { Secret } from '../../machines/secret.js';
import type { Clock } from '../clock.js';
import { isLiveSignal } from '../abort-signals.js';
import { CredentialError } from '../../machines/credential-error.js';
import {
  CredentialProvider,
  refusedSignal,
  unreadableOptions,
  type CredentialActorSetup,
  type CredentialReporters,
  type CurrentTokenOptions,
  type InvalidateOptions,
  type KeyRest,
} from '../provider.js';

/** What a key needs from its pool. */
export interface KeyHost {
  readonly clock: Clock;
  /** Starts the key's credential actor: with no token (its first request mints), or from its rest. */
  start(key: PoolKey, resume: KeyRest | undefined): CredentialProvider<SecretValue>;
  /** The key went to rest (the pool wakes it when its refresh falls due, if the policy refreshes by itself). */
  rested(key: PoolKey, rest: KeyRest): void;
}

/**
 * A pool's key: a credential actor while something happens, a small record while nothing does.
 *
 * Awake, the key is a provider like any other. When its statechart has nothing to do (a fresh
 * token, its breaker closed with no failure, no mint, retry, waiter or claims challenge: see
 * `CredentialProvider.restState`), it rests: the actor is stopped and the key keeps only its token
 * and the instants the statechart needs to resume (about 0.5 KB instead of about 7.7 KB). A request
 * before the refresh instant is served from the record, as the awake provider would serve it (the
 * same promise, no event). Anything else (a request past that instant, an invalidation, a signal or
 * `rejected` option, the pool's timer at the refresh instant of a proactive key) wakes it: a new
 * actor starts from the record, exactly where the old one stopped, and handles it.
 *
 * Also the pool's use counter at its last request (the least recently used key has the smallest).
 * Not exported from the package: keys are made by the pool only.
 */
export class PoolKey {
  /** @internal The pool's use counter at this key's last request (the pool's to write). */
  lastUse: number;
  /** @internal The pool's wake-up of this resting key, to cancel when the key is removed (the pool's to write). */
  pendingWake: WakeUp | null = null;
  /** @internal The key's reporters, asked of the pool's factory once (`null`: not yet asked). */
  reporters: CredentialReporters | undefined | null = null;
  #provider: CredentialProvider<SecretValue> | null = null;
  #rest: KeyRest | null = null;
  #restCheckQueued = false;
  #stopped = false;
  readonly #host: KeyHost;

  /** @internal Made by the pool only. */
  constructor(
    readonly key: string,
    host: KeyHost,
    use: number,
  ) {
    this.lastUse = use;
    this.#host = host;
    this.#awaken(undefined);
  }

  /** The current token, as a provider's `currentToken` (from the record while the key rests and nothing is due). */
  currentToken(options?: CurrentTokenOptions<SecretValue>): Promise<AuthToken<SecretValue>> {
    const rest = this.#rest;
    if (rest === null) return this.#provider?.currentToken(options) ?? Promise.reject(poolStopped());
    if (options !== undefined) {
      // as the provider reads them: a live signal is served from the record too (apps pass one on every request)
      let signal: AbortSignal | undefined;
      let rejected: unknown;
      try {
        signal = options.signal;
        rejected = options.rejected;
      } catch (error) {
        return unreadableOptions(error);
      }
      if (signal !== undefined && !isLiveSignal(signal)) return refusedSignal(signal);
      if (rejected !== undefined) return this.#awaken(rest).currentToken(options);
    }
    if (this.#host.clock.now() < rest.servingUntil) return rest.served;
    return this.#awaken(rest).currentToken(options);
  }

  /** As a provider's `invalidate`. */
  invalidate(token?: AuthToken<SecretValue> | Secret<SecretValue> | SecretValue, options?: InvalidateOptions): boolean {
    if (this.#stopped) return false;
    return (this.#provider ?? this.#awaken(this.#rest!)).invalidate(token, options);
  }

  /** The pool's timer: a resting proactive key's refresh instant has come (a key no longer resting on `rest` ignores it). */
  wake(rest: KeyRest): void {
    if (this.#rest === rest && !this.#stopped) this.#awaken(rest);
  }

  /** A mint is in flight (and so, perhaps, callers wait on it): never evicted. */
  get busy(): boolean {
    return this.#provider !== null && this.#provider.actor.getSnapshot().value.flight === 'minting';
  }

  /** Resting: no actor, only the record. */
  get resting(): boolean {
    return this.#rest !== null;
  }

  /** The awake key's provider (for the pool to forward its events to), `null` while it rests. */
  get provider(): CredentialProvider<SecretValue> | null {
    return this.#provider;
  }

  /** Stops the key for good: as a provider's `stop`. */
  stop(): Promise<void> {
    this.#stopped = true;
    this.#rest = null;
    const provider = this.#provider;
    this.#provider = null;
    return provider === null ? Promise.resolve() : provider.stop();
  }

  #awaken(rest: KeyRest | undefined): CredentialProvider<SecretValue> {
    const provider = this.#host.start(this, rest);
    this.#provider = provider;
    this.#rest = null;
    // every transition may leave it with nothing to do; so may a request it serves with none
    provider.actor.subscribe(() => this.#queueRestCheck());
    this.#queueRestCheck();
    return provider;
  }

  /** Checks once the current turn of work is over (a transition's emitted events, its callers' promises) whether the key may rest. */
  #queueRestCheck(): void {
    if (this.#restCheckQueued) return;
    this.#restCheckQueued = true;
    queueMicrotask(() => {
      this.#restCheckQueued = false;
      const provider = this.#provider;
      if (provider === null || this.#stopped) return;
      const rest = provider.restState();
      if (rest === null) return;
      this.#provider = null;
      this.#rest = rest;
      void provider.stop();
      this.#host.rested(this, rest);
    });
  }
}

/**
 * A pool key's credential actor: with no token yet (its first request mints), or woken from its
 * rest; counting only its own failures (the issuer's count against the pool's breaker).
 *
 * @example
 * ```ts
 * const provider = startKeyProvider({ machine: credentialMachine, mint, clock, config, gate });
 * ```
 */
export function startKeyProvider(setup: Omit<CredentialActorSetup, 'breakerCounts'>): CredentialProvider<SecretValue> {
  return CredentialProvider.create<SecretValue>({ ...setup, breakerCounts: 'key-failures' });
}

/** What a stopped pool's callers get. */
export function poolStopped(): CredentialError {
  return new CredentialError('STOPPED', 'the credential pool was stopped');
}
