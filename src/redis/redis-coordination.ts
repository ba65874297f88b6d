import { retryAfterCooldownMs } from '../../machines/policy.js';
import { onAbort } from '../abort-signals.js';
import { systemClock } from '../clock.js';
import type { MintedToken } from '../auth-token.js';
import { defaultClassifyFailure, type FailureBlame } from '../classify-failure.js';
import type { Coordination, SharedMintPolicy } from '../coordination.js';
import { CredentialError } from '../../machines/credential-error.js';
import { describeShape } from '../describe-shape.js';
import { callSafely } from '../listeners.js';
import { isExclusiveMint, type Mint } from '../mint.js';
import type { SharedMintPhase } from '../../machines/credential.types.js';
import { retryAfterOf } from '../retry-after.js';
import { Secret } from '../../machines/secret.js';
import { FleetBreakerOpenError } from './fleet-breaker-open-error.js';
import { redisConnectionOf, type RedisConnection } from './redis-client.js';
import { ACQUIRE, PUBLISH_TOKEN, RECORD_FAILURE, RELEASE, SPEND_STATE } from './scripts.js';
import { sealedIdOf, TokenSealer, type EncryptionKey } from './sealed-token.js';

/** Options of {@link redisCoordination}. */
export interface RedisCoordinationOptions {
  /** The app's Redis client (`redis` v5/v6 or `ioredis`), connected. Create it with the offline queue off (see the README). */
  client: object;
  /** A second connection of the same client (`client.duplicate()`), connected: one subscriber for the whole namespace. */
  subscriber: object;
  /** Sealing key(s): the first seals, all open (rotation). */
  encryptionKey: EncryptionKey | readonly EncryptionKey[];
  /** Namespace of every key and of the one channel (default `credential-actor`). */
  prefix?: string;
  /** How long a lease holder may mint before another process may take over (ms); must exceed the provider's `mintTimeoutMs` (default: that plus 5 s). */
  leaseMs?: number;
  /** A process waiting on a lease holder looks again at least this often (pub/sub can lose messages; default 500 ms). */
  pollMs?: number;
  /** Every Redis call's bound (ms, default 500): past it, the process mints alone. */
  commandTimeoutMs?: number;
  /** The lease holder's bound on one issuer attempt (ms, default half of `mintTimeoutMs`): a hung attempt gives way to the next holder while callers can still wait. */
  attemptTimeoutMs?: number;
  /** Whose failure a failed mint is: only the issuer's count toward the fleet's breaker (default: as the pool's). */
  classifyFailure?: (error: unknown) => FailureBlame;
}

/** What a coordination tells its listeners. */
export type CoordinationEvent =
  /** Redis did not answer in time: each process mints alone (still one mint per process per window). */
  | { readonly type: 'coordination.degraded'; readonly error: CredentialError }
  /** Redis answers again: sharing resumes. */
  | { readonly type: 'coordination.restored' }
  /** A shared value did not open (wrong key, tampered): treated as no shared token. */
  | { readonly type: 'coordination.value-rejected'; readonly error: CredentialError };

type EventOf<T extends CoordinationEvent['type']> = Extract<CoordinationEvent, { type: T }>;

/** How many credentials' held tokens a process remembers (the oldest entry goes first). */
const MAX_REMEMBERED_TOKENS = 100_000;

/**
 * Shares each credential across a fleet through Redis: one lease holder mints per refresh window,
 * the others adopt its token. See the README's protocol section.
 *
 * @example
 * ```ts
 * const client = await createClient({ url, disableOfflineQueue: true }).connect();
 * const subscriber = await client.duplicate().connect();
 * const coordination = redisCoordination({ client, subscriber, encryptionKey: { id: 'k1', key: keyBytes } });
 * const provider = await createCredentialProvider({ mint, coordination, sharedKey: credentialKey({ issuer, clientId, scopes }) });
 * ```
 */
export function redisCoordination(options: RedisCoordinationOptions): RedisCoordination {
  if (typeof options !== 'object' || options === null) throw new CredentialError('INVALID_CONFIG', `redisCoordination needs options, got ${describeShape(options)}`);
  const connection = redisConnectionOf(options.client, options.subscriber);
  const keys = Array.isArray(options.encryptionKey) ? options.encryptionKey : [options.encryptionKey as EncryptionKey];
  const sealer = new TokenSealer(keys as readonly EncryptionKey[]);
  const prefix = options.prefix ?? 'credential-actor';
  if (typeof prefix !== 'string' || prefix.length === 0 || /[{}\s]/.test(prefix)) {
    throw new CredentialError('INVALID_CONFIG', 'prefix must be a non-empty string without braces or spaces');
  }
  for (const name of ['leaseMs', 'pollMs', 'commandTimeoutMs', 'attemptTimeoutMs'] as const) {
    const value = options[name];
    if (value !== undefined && !(typeof value === 'number' && Number.isFinite(value) && value > 0)) {
      throw new CredentialError('INVALID_CONFIG', `${name} must be a finite number > 0, got ${typeof value === 'number' ? String(value) : describeShape(value)}`);
    }
  }
  const classify = options.classifyFailure ?? defaultClassifyFailure;
  if (typeof classify !== 'function') throw new CredentialError('INVALID_CONFIG', 'classifyFailure must be a function');
  return new RedisCoordination({ connection, sealer, prefix, options, classify });
}

/** A fleet's shared credentials on Redis. Build one with {@link redisCoordination}. */
export class RedisCoordination implements Coordination {
  readonly #connection: RedisConnection;
  readonly #sealer: TokenSealer;
  readonly #prefix: string;
  readonly #channel: string;
  /** This process, as lease owner. */
  readonly #owner = crypto.randomUUID();
  readonly #leaseMs: number | undefined;
  readonly #pollMs: number;
  readonly #commandTimeoutMs: number;
  readonly #attemptTimeoutMs: number | undefined;
  readonly #classify: (error: unknown) => FailureBlame;
  /** The sealed token this process holds, by credential (its IV): a shared token is adopted only if it is another. */
  readonly #held = new Map<string, string>();
  readonly #waiters = new Map<string, Set<() => void>>();
  readonly #listeners = new Set<{ type: string; listener: (event: CoordinationEvent) => void }>();
  #subscription: Promise<void> | null = null;
  #degraded = false;
  #closed = false;

  /** @internal Use {@link redisCoordination}. */
  constructor(setup: { connection: RedisConnection; sealer: TokenSealer; prefix: string; options: RedisCoordinationOptions; classify: (error: unknown) => FailureBlame }) {
    this.#connection = setup.connection;
    this.#sealer = setup.sealer;
    this.#prefix = setup.prefix;
    this.#channel = `${setup.prefix}:published`;
    this.#leaseMs = setup.options.leaseMs;
    this.#pollMs = setup.options.pollMs ?? 500;
    this.#commandTimeoutMs = setup.options.commandTimeoutMs ?? 500;
    this.#attemptTimeoutMs = setup.options.attemptTimeoutMs;
    this.#classify = setup.classify;
  }

  /** Whether Redis is being bypassed (it did not answer in time). */
  get degraded(): boolean {
    return this.#degraded;
  }

  /**
   * The mint a provider runs for `sharedKey`: adopt a newer shared token, or mint under the lease
   * and share, or wait for the holder. Called by `createCredentialProvider` / `createCredentialPool`.
   * Throws `INVALID_CONFIG` when `leaseMs` does not outlive the provider's `mintTimeoutMs`.
   *
   * @example
   * ```ts
   * const shared = coordination.share(sharedKey, mint, policy);
   * ```
   */
  share(sharedKey: string, mint: Mint, policy: SharedMintPolicy): Mint {
    this.check(policy);
    const leaseMs = this.#leaseMs ?? policy.mintTimeoutMs + 5_000;
    const attemptTimeoutMs = this.#attemptTimeoutMs ?? Math.max(1, Math.floor(policy.mintTimeoutMs / 2));
    // WebCrypto's digest is asynchronous: computed once, at the first mint
    const named = credentialName(sharedKey).then((credential) => {
      const tag = `${this.#prefix}:{${credential}}`;
      return { credential, keys: [`${tag}:token`, `${tag}:lease`, `${tag}:fence`, `${tag}:failures`, `${tag}:open`, `${tag}:state`] };
    });
    return async ({ signal, phase }) => this.#obtain({ ...(await named), mint, policy, leaseMs, attemptTimeoutMs, signal, phase: phase ?? (() => {}) });
  }

  /**
   * Throws `INVALID_CONFIG` when `leaseMs` does not outlive the provider's `mintTimeoutMs` (a slow
   * live holder would be duplicated).
   *
   * @example
   * ```ts
   * coordination.check({ ...policy, mintTimeoutMs: 30_000 });
   * ```
   */
  check(policy: SharedMintPolicy): void {
    const leaseMs = this.#leaseMs ?? policy.mintTimeoutMs + 5_000;
    if (leaseMs <= policy.mintTimeoutMs) {
      throw new CredentialError('INVALID_CONFIG', `leaseMs (${leaseMs}) must exceed mintTimeoutMs (${policy.mintTimeoutMs}): a slow live holder must never be duplicated`);
    }
  }

  /**
   * Listens to `coordination.degraded`, `coordination.restored` or `coordination.value-rejected`;
   * returns the function that stops listening. A throwing listener is ignored.
   *
   * @example
   * ```ts
   * coordination.on('coordination.degraded', ({ error }) => log.warn(`minting alone: ${error.message}`));
   * ```
   */
  on<T extends CoordinationEvent['type']>(type: T, listener: (event: EventOf<T>) => void): () => void {
    const entry = { type, listener: listener as (event: CoordinationEvent) => void };
    this.#listeners.add(entry);
    return () => {
      this.#listeners.delete(entry);
    };
  }

  /**
   * Unsubscribes from the channel and wakes every waiter (they mint alone). Does not close your clients.
   *
   * @example
   * ```ts
   * await coordination.close(); await subscriber.quit(); await client.quit();
   * ```
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const wakers of this.#waiters.values()) for (const wake of wakers) wake();
    this.#waiters.clear();
    this.#listeners.clear();
    if (this.#subscription !== null) await this.#subscription.then(() => this.#connection.unsubscribe(this.#channel)).catch(() => {});
  }

  /**
   * A plain summary: no key material, no token.
   *
   * @example
   * ```ts
   * JSON.stringify(coordination); // {"prefix":"credential-actor","degraded":false,...}
   * ```
   */
  toJSON(): { prefix: string; degraded: boolean; pollMs: number; commandTimeoutMs: number } {
    return { prefix: this.#prefix, degraded: this.#degraded, pollMs: this.#pollMs, commandTimeoutMs: this.#commandTimeoutMs };
  }

  /** Node's `util.inspect` shows the summary. */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `RedisCoordination ${JSON.stringify(this.toJSON())}`;
  }

  async #obtain(run: {
    credential: string;
    keys: string[];
    mint: Mint;
    policy: SharedMintPolicy;
    leaseMs: number;
    attemptTimeoutMs: number;
    signal: AbortSignal;
    phase: (phase: SharedMintPhase) => void;
  }): Promise<MintedToken> {
    const { credential, keys, mint, policy, signal, phase } = run;
    for (;;) {
      if (signal.aborted) throw signal.reason;
      if (this.#closed) {
        if (isExclusiveMint(mint)) throw new CredentialError('COORDINATION_UNAVAILABLE', 'the coordination was closed, and a refresh-token grant is never made without it');
        return mint({ signal });
      }
      const askedAt = policy.now();
      let found: unknown;
      try {
        found = await this.#call(ACQUIRE, keys, [this.#owner, String(run.leaseMs), this.#held.get(credential) ?? '']);
      } catch (error) {
        this.#degrade(error);
        // an exclusive mint (a rotating refresh token) never runs alone: another process may hold its state
        if (isExclusiveMint(mint)) throw new CredentialError('COORDINATION_UNAVAILABLE', 'Redis is unavailable, and a refresh-token grant is never made without it', { cause: error });
        return mint({ signal }); // alone: the provider's statechart keeps it to one mint in flight
      }
      this.#restore();
      const [kind, first, second] = Array.isArray(found) ? (found as unknown[]) : [];
      if (kind === 'token') {
        phase('adopting');
        try {
          const content = await this.#sealer.open(String(first), credential);
          this.#remember(credential, content.id);
          // the remaining life as Redis counts it, from before we asked: never another host's clock
          return { secret: content.secret, expiresAt: content.expires ? askedAt + Number(second) : null };
        } catch (error) {
          this.#notify({ type: 'coordination.value-rejected', error: error as CredentialError });
          this.#remember(credential, sealedIdOf(String(first))); // no shared token: the next round takes the lease
          continue;
        }
      }
      if (kind === 'open') throw new FleetBreakerOpenError(Number(first));
      if (kind === 'wait') {
        phase('waitingOnHolder');
        await this.#awaitPublication(credential, Math.min(this.#pollMs, Number(first) + 1), signal);
        continue;
      }
      if (kind !== 'lease') {
        this.#degrade(new CredentialError('COORDINATION_UNAVAILABLE', `unexpected answer from Redis: ${describeShape(found)}`));
        if (isExclusiveMint(mint)) throw new CredentialError('COORDINATION_UNAVAILABLE', 'Redis answered in a way this version does not know; a refresh-token grant is not made');
        return mint({ signal });
      }
      phase('holdingLease');
      const fence = Number(first);
      const state = await this.#openState(credential, keys, fence, String(second ?? ''));
      const outcome = await this.#mintAsHolder({ ...run, fence, state });
      if (outcome !== 'gave-way') return outcome;
    }
  }

  /** Holding the lease: mint once (bounded by `attemptTimeoutMs`), share the token, or record the failure. */
  async #mintAsHolder(run: {
    credential: string;
    keys: string[];
    mint: Mint;
    policy: SharedMintPolicy;
    attemptTimeoutMs: number;
    signal: AbortSignal;
    phase: (phase: SharedMintPhase) => void;
    fence: number;
    state: string | null;
  }): Promise<MintedToken | 'gave-way'> {
    const { credential, keys, policy, signal, fence } = run;
    const ownerFence = `${this.#owner}:${fence}`;
    const attempt = new AbortController();
    const cancel = onAbort(signal, () => attempt.abort(signal.reason));
    let timedOut = false;
    // An exclusive grant is never given up for another holder (its refresh token would be spent
    // either way): only the provider's own mintTimeoutMs bounds it.
    const attemptTimeoutMs = isExclusiveMint(run.mint) ? Infinity : run.attemptTimeoutMs;
    const timer = !Number.isFinite(attemptTimeoutMs) ? null : systemClock.setTimeout(() => {
      timedOut = true;
      attempt.abort(new CredentialError('MINT_TIMEOUT', `the lease holder's attempt did not settle within ${run.attemptTimeoutMs} ms`));
    }, attemptTimeoutMs);
    let minted: MintedToken;
    try {
      minted = await settledOrAborted(run.mint({ signal: attempt.signal, state: run.state }), attempt.signal);
    } catch (error) {
      if (isExclusiveMint(run.mint) && (timedOut || signal.aborted || (error as { stateSpent?: unknown } | null)?.stateSpent === true)) {
        // the grant may have reached the issuer and spent the refresh token: no process may send it again
        const spent = await this.#sealer.seal({ secret: JSON.stringify({ spent: true }), expires: false }, credential, fence, 'state');
        await this.#quietly(SPEND_STATE, keys, [ownerFence, spent, this.#channel, credential]);
        throw signal.aborted ? error : new CredentialError('REFRESH_TOKEN_UNUSABLE', 'the refresh-token grant’s outcome is unknown: its refresh token is not used again; sign in again', { cause: error });
      }
      if (signal.aborted) {
        await this.#quietly(RELEASE, keys, [ownerFence, this.#channel, credential]);
        throw error;
      }
      if (timedOut || this.#blame(error) === 'issuer') {
        const retryAfterMs = retryAfterOf(error);
        await this.#quietly(RECORD_FAILURE, keys, [
          ownerFence,
          String(policy.breakerThreshold),
          String(policy.breakerCooldownMs),
          String(retryAfterMs === null ? 0 : retryAfterCooldownMs(policy, retryAfterMs)),
          String(2 * policy.breakerCooldownMs + policy.mintTimeoutMs),
          this.#channel,
          credential,
        ]);
      } else {
        await this.#quietly(RELEASE, keys, [ownerFence, this.#channel, credential]);
      }
      if (timedOut) return 'gave-way'; // the next holder (perhaps this process again) tries, while callers can still wait
      throw error;
    } finally {
      if (timer !== null) systemClock.clearTimeout(timer);
      cancel();
    }
    await this.#share(credential, keys, ownerFence, fence, minted, policy);
    return minted;
  }

  /** Seals and publishes a freshly minted token; one that is not a usable token is not shared (the provider refuses it). */
  async #share(credential: string, keys: string[], ownerFence: string, fence: number, minted: MintedToken, policy: SharedMintPolicy): Promise<void> {
    const secret = typeof minted?.secret === 'string' ? minted.secret : minted?.secret instanceof Secret ? minted.secret.reveal() : null;
    const expiresAt = minted?.expiresAt instanceof Date ? minted.expiresAt.getTime() : minted?.expiresAt;
    const ttlMs = typeof expiresAt === 'number' ? Math.floor(expiresAt - policy.now()) : expiresAt === null ? 0 : -1;
    if (secret === null || secret.length === 0 || ttlMs < 0 || (typeof expiresAt === 'number' && ttlMs === 0)) {
      await this.#quietly(RELEASE, keys, [ownerFence, this.#channel, credential]);
      return;
    }
    try {
      const sealed = await this.#sealer.seal({ secret, expires: expiresAt !== null }, credential, fence);
      const state = typeof minted.state === 'string' ? await this.#sealer.seal({ secret: JSON.stringify({ value: minted.state }), expires: false }, credential, fence, 'state') : '';
      await this.#call(PUBLISH_TOKEN, keys, [ownerFence, String(fence), sealed, String(ttlMs), this.#channel, credential, state]);
      this.#remember(credential, sealedIdOf(sealed));
    } catch (error) {
      this.#degrade(error); // the token is still served here; the others mint alone or find it later
    }
  }

  /**
   * The shared state the lease came with (a refresh token), opened: `null` when there is none yet.
   * A spent state (a grant whose outcome was unknown) releases the lease and refuses:
   * `REFRESH_TOKEN_UNUSABLE`. A state that does not open counts as none (reported).
   */
  async #openState(credential: string, keys: string[], fence: number, sealed: string): Promise<string | null> {
    if (sealed === '') return null;
    let content: { value?: unknown; spent?: unknown };
    try {
      content = JSON.parse((await this.#sealer.open(sealed, credential, 'state')).secret) as { value?: unknown; spent?: unknown };
    } catch (error) {
      this.#notify({ type: 'coordination.value-rejected', error: error instanceof CredentialError ? error : new CredentialError('SHARED_TOKEN_REJECTED', 'the shared state is not readable') });
      return null;
    }
    if (content.spent === true) {
      await this.#quietly(RELEASE, keys, [`${this.#owner}:${fence}`, this.#channel, credential]);
      throw new CredentialError('REFRESH_TOKEN_UNUSABLE', 'a refresh-token grant’s outcome was unknown, so the fleet’s refresh token may be spent: sign in again');
    }
    return typeof content.value === 'string' ? content.value : null;
  }

  #blame(error: unknown): FailureBlame {
    try {
      return this.#classify(error) === 'key' ? 'key' : 'issuer';
    } catch {
      return 'issuer';
    }
  }

  /** Waits for the credential's publication, a poll interval, or the caller giving up. */
  async #awaitPublication(credential: string, ms: number, signal: AbortSignal): Promise<void> {
    this.#subscribe();
    await new Promise<void>((resolve, reject) => {
      let wakers = this.#waiters.get(credential);
      if (wakers === undefined) this.#waiters.set(credential, (wakers = new Set()));
      const done = () => {
        systemClock.clearTimeout(timer);
        cancel();
        wakers.delete(wake);
        if (wakers.size === 0 && this.#waiters.get(credential) === wakers) this.#waiters.delete(credential);
      };
      const wake = () => {
        done();
        resolve();
      };
      const timer = systemClock.setTimeout(wake, ms);
      const cancel = onAbort(signal, () => {
        done();
        reject(signal.reason);
      });
      wakers.add(wake);
    });
  }

  /** One subscription for the namespace, made when a process first waits; if it fails, polls still find the token. */
  #subscribe(): void {
    if (this.#subscription !== null || this.#closed) return;
    this.#subscription = this.#connection
      .subscribe(this.#channel, (credential) => {
        const wakers = this.#waiters.get(credential);
        if (wakers !== undefined) for (const wake of [...wakers]) wake();
      })
      .catch(() => {
        this.#subscription = null; // retried at the next wait
      });
  }

  /** A Redis call under `commandTimeoutMs`; late answers are dropped. */
  #call(script: string, keys: readonly string[], args: readonly string[]): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const timer = systemClock.setTimeout(
        () => reject(new CredentialError('COORDINATION_UNAVAILABLE', `Redis did not answer within ${this.#commandTimeoutMs} ms`)),
        this.#commandTimeoutMs,
      );
      this.#connection.evaluate(script, keys, args).then(
        (value) => {
          systemClock.clearTimeout(timer);
          resolve(value);
        },
        (error: unknown) => {
          systemClock.clearTimeout(timer);
          reject(new CredentialError('COORDINATION_UNAVAILABLE', `Redis refused the call: ${error instanceof Error ? error.message : describeShape(error)}`));
        },
      );
    });
  }

  /** A call whose failure only degrades (a release, a failure record): the lease lapses by itself. */
  async #quietly(script: string, keys: readonly string[], args: readonly string[]): Promise<void> {
    try {
      await this.#call(script, keys, args);
      this.#restore();
    } catch (error) {
      this.#degrade(error);
    }
  }

  #remember(credential: string, id: string): void {
    this.#held.delete(credential);
    this.#held.set(credential, id);
    if (this.#held.size > MAX_REMEMBERED_TOKENS) this.#held.delete(this.#held.keys().next().value!);
  }

  #degrade(error: unknown): void {
    if (this.#degraded) return;
    this.#degraded = true;
    const reason = error instanceof CredentialError ? error : new CredentialError('COORDINATION_UNAVAILABLE', 'Redis is unavailable');
    this.#notify({ type: 'coordination.degraded', error: reason });
  }

  #restore(): void {
    if (!this.#degraded) return;
    this.#degraded = false;
    this.#notify({ type: 'coordination.restored' });
  }

  #notify(event: CoordinationEvent): void {
    for (const { type, listener } of [...this.#listeners]) if (type === event.type) callSafely(listener, event);
  }
}

/** The credential's name in Redis: the first 128 bits of SHA-256 of its shared key, in hex. */
async function credentialName(sharedKey: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(sharedKey)));
  return Array.from(digest.subarray(0, 16), (byte) => byte.toString(16).padStart(2, '0')).join('');
}

/** `promise`, or the signal's reason as soon as it aborts (a user's mint that ignores its signal must not hold the lease). */
function settledOrAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const cancel = onAbort(signal, () => reject(signal.reason));
    promise.then(
      (value) => {
        cancel();
        resolve(value);
      },
      (error: unknown) => {
        cancel();
        reject(error);
      },
    );
  });
}
