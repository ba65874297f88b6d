import { retryAfterCooldownMs } from '../../machines/policy.js';
import { MintFailure } from '../../machines/mint-failure.js';
import { onAbort, untilAborted } from '../abort-signals.js';
import { afterPendingIo, armTimer, disarmTimer, systemClock, type Clock } from '../clock.js';
import { toAuthToken, type AuthToken, type MintedToken } from '../auth-token.js';
import { defaultClassifyFailure, type FailureBlame } from '../classify-failure.js';
import type { Coordination, SharedMintPolicy } from '../coordination.js';
import { CredentialError, isCredentialError, mintTimeoutError } from '../../machines/credential-error.js';
import { describeShape } from '../describe-shape.js';
import { callSafely } from '../listeners.js';
import { isExclusiveMint, isIssuerNotAsked, type ExclusiveMint, type Mint, type MintContext } from '../mint.js';
import type { SharedMintPhase } from '../../machines/credential.types.js';
import { retryAfterOf } from '../retry-after.js';
import type { Secret, SecretValue } from '../../machines/secret.js';
import { FleetBreakerOpenError } from './fleet-breaker-open-error.js';
import { redisConnectionOf, type RedisClient, type RedisConnection } from './redis-client.js';
import { ACQUIRE, PUBLISH_TOKEN, RECORD_FAILURE, RELEASE, RELEASE_ORPHAN } from './scripts.js';
import { RedisRecordHolder } from './redis-record-holder.js';
import { GrantRunner, type GrantStep } from '../refresh-token-grant.js';
import { checkOptions } from '../check-options.js';
import { sealedIdOf, TokenSealer, type EncryptionKey } from '../sealed-token.js';

/** Options of {@link redisCoordination}. */
export interface RedisCoordinationOptions {
  /** The app's Redis client (`redis` v5/v6 or `ioredis`), connected. Create it with the offline queue off (see the README). */
  client: RedisClient;
  /** A second connection of the same client (`client.duplicate()`), connected: one subscriber for the whole namespace. Not the client itself. */
  subscriber: RedisClient;
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
  checkOptions(options, {
    owner: 'redisCoordination',
    known: ['client', 'subscriber', 'encryptionKey', 'prefix', 'leaseMs', 'pollMs', 'commandTimeoutMs', 'attemptTimeoutMs', 'classifyFailure'],
  });
  const connection = redisConnectionOf(options.client, options.subscriber);
  if (options.encryptionKey === undefined || options.encryptionKey === null) {
    throw new CredentialError('INVALID_CONFIG', 'encryptionKey is required: { id, key } with 32 random bytes (or a list of them, the sealing key first)');
  }
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
  return RedisCoordination.create({ connection, sealer, prefix, options, classify });
}

/** What a coordination is built from, its options checked (see {@link redisCoordination}). */
interface RedisCoordinationSetup {
  readonly connection: RedisConnection;
  readonly sealer: TokenSealer;
  readonly prefix: string;
  readonly options: RedisCoordinationOptions;
  readonly classify: (error: unknown) => FailureBlame;
}

/** A fleet's shared credentials on Redis. Build one with {@link redisCoordination}. */
export class RedisCoordination implements Coordination {
  readonly #connection: RedisConnection;
  readonly #sealer: TokenSealer;
  readonly #prefix: string;
  readonly #channel: string;
  /** This process, as lease owner (each attempt owns its lease as `process/attempt`). */
  readonly #owner = crypto.randomUUID();
  #attempts = 0;
  /** Attempts of this process holding a lease now, by credential: a lease of ours with none is an orphan. */
  readonly #holding = new Map<string, number>();
  /** Attempts of this process waiting for Redis's answer to their lease request, by credential. */
  readonly #asking = new Map<string, number>();
  /** The IV of a stored value this process could not authenticate, by credential: it may overwrite it. */
  readonly #unreadable = new Map<string, string>();
  readonly #leaseMs: number | undefined;
  readonly #pollMs: number;
  readonly #commandTimeoutMs: number;
  readonly #attemptTimeoutMs: number | undefined;
  readonly #classify: (error: unknown) => FailureBlame;
  readonly #waiters = new Map<string, Set<() => void>>();
  /** Each refresh-token credential's grant runner in this process: one grant in flight per credential, joined by its other attempts. */
  readonly #grants = new Map<string, Grants>();
  readonly #listeners = new Set<{ type: string; listener: (event: CoordinationEvent) => void }>();
  #subscription: Promise<void> | null = null;
  #degraded = false;
  #closed = false;

  /** @internal Use {@link redisCoordination}. */
  static create(setup: RedisCoordinationSetup): RedisCoordination {
    return new RedisCoordination(setup);
  }

  /** Use {@link redisCoordination}. */
  private constructor(setup: RedisCoordinationSetup) {
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
  share<T extends SecretValue<T>>(sharedKey: string, mint: Mint<T>, policy: SharedMintPolicy): Mint<T> {
    this.check(policy);
    const leaseMs = this.#leaseMs ?? policy.mintTimeoutMs + 5_000;
    const attemptTimeoutMs = this.#attemptTimeoutMs ?? Math.max(1, Math.floor(policy.mintTimeoutMs / 2));
    const clock = policy.clock ?? systemClock;
    // WebCrypto's digest is asynchronous: computed once, at the first mint
    const named = this.#named(sharedKey);
    // the shared token this provider holds: each provider's own, so that providers of one process
    // sharing a credential adopt each other's token rather than each taking the lease in turn
    const held: HeldToken = { id: '' };
    return async ({ signal, phase, claims, step }) =>
      (await this.#obtain({
        ...(await named),
        held,
        mint: mint as Mint<SecretValue>,
        claims,
        step,
        policy,
        clock,
        leaseMs,
        attemptTimeoutMs,
        signal,
        phase: phase ?? (() => {}),
        owner: `${this.#owner}/${++this.#attempts}`,
      })) as MintedToken<T>;
  }

  /**
   * Replaces the refresh token of `sharedKey` with a new sign-in's for the whole fleet (a provider's
   * `signIn()` calls it): written to Redis at once, whatever the record's state, so no process uses
   * the old family again.
   *
   * @example
   * ```ts
   * await coordination.signIn(sharedKey, mint, new Secret(refreshTokenFromSignIn), policy);
   * ```
   */
  async signIn(sharedKey: string, mint: ExclusiveMint<SecretValue>, refreshToken: Secret, policy: SharedMintPolicy): Promise<void> {
    const { credential, keys } = await this.#named(sharedKey);
    const { runner } = this.#grantsOf({ credential, keys, mint, policy, clock: policy.clock ?? systemClock, owner: `${this.#owner}/sign-in` });
    await runner.signIn(refreshToken);
  }

  /** A credential's name in Redis and its keys, which share one hash tag (one Cluster slot). */
  async #named(sharedKey: string): Promise<{ credential: string; keys: string[] }> {
    const credential = await credentialName(sharedKey);
    const tag = `${this.#prefix}:{${credential}}`;
    return { credential, keys: [`${tag}:token`, `${tag}:lease`, `${tag}:fence`, `${tag}:failures`, `${tag}:open`, `${tag}:state`] };
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

  async #obtain(run: SharedRun): Promise<MintedToken<SecretValue>> {
    const { credential, keys, mint, policy, signal, phase } = run;
    for (;;) {
      if (signal.aborted) throw signal.reason;
      if (this.#closed) {
        if (isExclusiveMint(mint)) throw refusedAlone(policy, 'the coordination was closed, and a refresh-token grant is never made without it');
        return mint(alone(run));
      }
      const askedAt = policy.now();
      let found: unknown;
      // another attempt of this process holding the lease, or asking for it ahead of this one on the
      // same connection: then a lease of ours is theirs, not an orphan (see ACQUIRE)
      const holding = (this.#holding.get(credential) ?? 0) + (this.#asking.get(credential) ?? 0) > 0 ? '1' : '0';
      this.#asking.set(credential, (this.#asking.get(credential) ?? 0) + 1);
      try {
        found = await this.#call(ACQUIRE, keys, [run.owner, String(run.leaseMs), run.held.id, this.#owner, holding], run.clock);
      } catch (error) {
        this.#degrade(error);
        // The request may still run once Redis answers (a stall): its lease would be an orphan. The
        // release goes out on the same connection, so Redis runs it right after the request.
        this.#connection.evaluate(RELEASE_ORPHAN, keys, [run.owner]).catch(() => {});
        // an exclusive mint (a rotating refresh token) never runs alone: another process may hold its state
        if (isExclusiveMint(mint)) throw refusedAlone(policy, 'Redis is unavailable, and a refresh-token grant is never made without it', error);
        return mint(alone(run)); // alone: the provider's statechart keeps it to one mint in flight
      } finally {
        const asking = (this.#asking.get(credential) ?? 1) - 1;
        if (asking > 0) this.#asking.set(credential, asking);
        else this.#asking.delete(credential);
      }
      this.#restore();
      const [kind, first, second] = Array.isArray(found) ? (found as unknown[]) : [];
      if (kind === 'token') {
        phase('adopting');
        try {
          const content = await this.#sealer.open(String(first), credential);
          run.held.id = content.id;
          // the remaining life as Redis counts it, from before we asked, and never later than the
          // expiry the mint gave: another host's clock is never trusted more than our own
          const { tokenType, scope, refreshAfter } = content;
          const expiresAt = content.expires ? Math.min(askedAt + Number(second), content.expiresAt ?? Infinity) : null;
          // a token published late (its holder stalled or partitioned) may have expired on the way: no token
          if (expiresAt !== null && expiresAt <= policy.now()) continue;
          return { secret: content.secret, expiresAt, ...definedFacts({ tokenType, scope, refreshAfter }) };
        } catch (error) {
          this.#notify({ type: 'coordination.value-rejected', error: error as CredentialError });
          const id = sealedIdOf(String(first));
          run.held.id = id; // no shared token: the next round takes the lease
          this.#unreadable.set(credential, id); // and may replace it, whatever fence it claims
          continue;
        }
      }
      if (kind === 'open') throw new FleetBreakerOpenError(Number(first), run.clock.now());
      if (kind === 'wait') {
        phase('waitingOnHolder');
        await this.#awaitPublication(credential, Math.min(this.#pollMs, Number(first) + 1), signal, run.clock);
        continue;
      }
      if (kind !== 'lease') {
        this.#degrade(new CredentialError('COORDINATION_UNAVAILABLE', `unexpected answer from Redis: ${describeShape(found)}`));
        if (isExclusiveMint(mint)) throw refusedAlone(policy, 'Redis answered in a way this version does not know; a refresh-token grant is not made');
        return mint(alone(run));
      }
      phase('holdingLease');
      const fence = Number(first);
      this.#holding.set(credential, (this.#holding.get(credential) ?? 0) + 1);
      try {
        const outcome = isExclusiveMint(mint) ? await this.#grantUnderLease(run, fence, String(second ?? '')) : await this.#mintAsHolder({ ...run, fence });
        if (outcome !== 'gave-way') return outcome;
      } finally {
        const holding = (this.#holding.get(credential) ?? 1) - 1;
        if (holding > 0) this.#holding.set(credential, holding);
        else this.#holding.delete(credential);
      }
    }
  }

  /**
   * Holding the lease for a refresh-token grant: the credential's grant runner decides with the
   * fleet's record, marks it `granting` in Redis under the lease before the grant is sent, and
   * writes each outcome as soon as it is known, until it lands (also after the lease lapsed, or
   * after this attempt was given up: the grant runs to its answer). While another process's grant
   * may still answer, the lease is let go and this attempt waits for it.
   */
  async #grantUnderLease(run: SharedRun, fence: number, stored: string): Promise<MintedToken<SecretValue> | 'gave-way'> {
    const { credential, keys, signal, clock, policy } = run;
    const ownerFence = `${run.owner}:${fence}`;
    const grants = this.#grantsOf(run);
    const { runner, holder } = grants;
    grants.held = run.held; // the token this grant shares is the one this provider holds
    holder.lease = { ownerFence, fence };
    let step: GrantStep;
    try {
      step = await runner.step({ signal, claims: run.claims, held: await holder.open(stored) });
    } catch (error) {
      if (isCredentialError(error, 'COORDINATION_UNAVAILABLE') && !signal.aborted) {
        // the mark did not reach Redis: nothing was sent
        this.#degrade(error);
        throw refusedAlone(policy, 'Redis did not take the grant’s mark, so the refresh token was not sent', error);
      }
      if (!signal.aborted && !isIssuerNotAsked(error) && this.#blame(error) === 'issuer') {
        const retryAfterMs = retryAfterOf(error);
        await this.#recordFailure(run, ownerFence, retryAfterMs);
      } else {
        await this.#quietly(RELEASE, keys, [ownerFence, this.#channel, credential], clock);
      }
      throw error;
    } finally {
      holder.lease = null;
    }
    if (step.kind === 'minted') return step.token;
    // another process's grant may still answer: let go of the lease, and look again when it says how it went
    await this.#quietly(RELEASE, keys, [ownerFence, this.#channel, credential], clock);
    run.phase('waitingOnHolder');
    await this.#awaitPublication(credential, Math.max(1, Math.min(this.#pollMs, step.until - clock.now())), signal, clock);
    return 'gave-way';
  }

  /** The grant runner and record holder of a credential in this process (made at its first grant). */
  #grantsOf(run: Pick<SharedRun, 'credential' | 'keys' | 'mint' | 'policy' | 'clock' | 'owner'>): Grants {
    const { credential, keys, clock } = run;
    let grants = this.#grants.get(credential);
    if (grants === undefined) {
      const entry: { held: HeldToken } = { held: { id: '' } };
      const holder = new RedisRecordHolder({ call: (script, scriptKeys, args) => this.#call(script, scriptKeys, args, clock), sealer: this.#sealer, credential, keys, channel: this.#channel });
      const runner = new GrantRunner({
        mint: run.mint as ExclusiveMint<SecretValue>,
        holder,
        clock,
        retryWriteMs: this.#pollMs,
        // the token of every answered grant is shared, also one that answered after its attempt was given up
        answered: (minted) => {
          const lease = holder.beganUnder;
          if (lease !== null) void this.#share({ ...run, held: entry.held, fence: lease.fence }, lease.ownerFence, minted);
        },
      });
      grants = Object.assign(entry, { runner, holder });
      this.#grants.set(credential, grants);
    }
    return grants;
  }

  /** Holding the lease: mint once (bounded by `attemptTimeoutMs`), share the token, or record the failure. */
  async #mintAsHolder(run: SharedRun & { fence: number }): Promise<MintedToken<SecretValue> | 'gave-way'> {
    const { credential, keys, policy, signal, fence, clock } = run;
    const ownerFence = `${run.owner}:${fence}`;
    const attempt = new AbortController();
    const cancel = onAbort(signal, () => attempt.abort(signal.reason));
    let timedOut = false;
    const timer = armTimer(
      clock,
      () => {
        timedOut = true;
        attempt.abort(mintTimeoutError(run.attemptTimeoutMs, 'the lease holder’s attempt'));
      },
      run.attemptTimeoutMs,
    );
    let minted: MintedToken<SecretValue>;
    try {
      minted = await untilAborted(run.mint(alone({ ...run, signal: attempt.signal })), attempt.signal);
    } catch (error) {
      if (signal.aborted) {
        await this.#quietly(RELEASE, keys, [ownerFence, this.#channel, credential], clock);
        throw error;
      }
      if (timedOut || this.#blame(error) === 'issuer') {
        await this.#recordFailure(run, ownerFence, retryAfterOf(error));
      } else {
        await this.#quietly(RELEASE, keys, [ownerFence, this.#channel, credential], clock);
      }
      if (timedOut) return 'gave-way'; // the next holder (perhaps this process again) tries, while callers can still wait
      throw error;
    } finally {
      disarmTimer(clock, timer);
      cancel();
    }
    await this.#share(run, ownerFence, minted);
    return minted;
  }

  /** Seals and publishes a freshly minted token; one that is not a usable token is not shared (the provider refuses it). */
  async #share(run: Pick<SharedRun, 'credential' | 'keys' | 'policy' | 'clock' | 'held'> & { fence: number }, ownerFence: string, minted: MintedToken<SecretValue>): Promise<void> {
    const { credential, keys, fence, policy, clock } = run;
    const now = policy.now();
    // checked as the provider checks it (and refuses it): a token that is not usable is not shared
    let token: AuthToken<SecretValue> | null = null;
    try {
      token = toAuthToken<SecretValue>(minted, now);
    } catch {
      token = null;
    }
    const expiresAt = token?.expiresAt;
    const ttlMs = typeof expiresAt === 'number' ? Math.floor(expiresAt - now) : 0;
    if (token === null || (typeof expiresAt === 'number' && ttlMs <= 0)) {
      await this.#quietly(RELEASE, keys, [ownerFence, this.#channel, credential], clock);
      return;
    }
    try {
      const { tokenType, scope, refreshAfter } = token;
      const content = { secret: token.secret.reveal(), expires: expiresAt !== null, ...(typeof expiresAt === 'number' ? { expiresAt } : {}) };
      const sealed = await this.#sealer.seal({ ...content, ...definedFacts({ tokenType, scope, refreshAfter }) }, credential, fence);
      await this.#call(PUBLISH_TOKEN, keys, [ownerFence, String(fence), sealed, String(ttlMs), this.#channel, credential, '', this.#unreadable.get(credential) ?? ''], clock);
      run.held.id = sealedIdOf(sealed);
      this.#unreadable.delete(credential);
    } catch (error) {
      this.#degrade(error); // the token is still served here; the others mint alone or find it later
    }
  }

  /** One more issuer failure for the fleet's breaker (its lease released in the same step). */
  async #recordFailure(run: SharedRun, ownerFence: string, retryAfterMs: number | null): Promise<void> {
    const { policy, keys, credential, clock } = run;
    await this.#quietly(
      RECORD_FAILURE,
      keys,
      [
        ownerFence,
        String(policy.breakerThreshold),
        String(policy.breakerCooldownMs),
        // what the issuer asked (capped); the script makes it at least the cooldown when the failure reaches the threshold
        String(retryAfterMs === null ? -1 : retryAfterCooldownMs(policy, retryAfterMs, false)),
        this.#channel,
        credential,
      ],
      clock,
    );
  }

  #blame(error: unknown): FailureBlame {
    // a refusal the mint made before asking the issuer (a spent refresh token) is not the issuer's
    if (isIssuerNotAsked(error)) return 'key';
    try {
      return this.#classify(error) === 'key' ? 'key' : 'issuer';
    } catch {
      return 'issuer';
    }
  }

  /** Waits for the credential's publication, a poll interval, or the caller giving up. */
  async #awaitPublication(credential: string, ms: number, signal: AbortSignal, clock: Clock): Promise<void> {
    this.#subscribe();
    await new Promise<void>((resolve, reject) => {
      let wakers = this.#waiters.get(credential);
      if (wakers === undefined) this.#waiters.set(credential, (wakers = new Set()));
      const done = () => {
        disarmTimer(clock, timer);
        cancel();
        wakers.delete(wake);
        if (wakers.size === 0 && this.#waiters.get(credential) === wakers) this.#waiters.delete(credential);
      };
      const wake = () => {
        done();
        resolve();
      };
      const timer = armTimer(clock, wake, ms);
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

  /**
   * A Redis call under `commandTimeoutMs`; late answers are dropped. When the timer fires, the reply
   * may be sitting in the socket already (the event loop stalled past the bound: timers run before
   * I/O): it gets one turn of the loop's I/O phase before the call counts as unanswered.
   */
  #call(script: string, keys: readonly string[], args: readonly string[], clock: Clock): Promise<unknown> {
    return new Promise((resolve, reject) => {
      let settled = false;
      const timer = armTimer(
        clock,
        () =>
          afterPendingIo(() => {
            if (settled) return;
            settled = true;
            reject(new CredentialError('COORDINATION_UNAVAILABLE', `Redis did not answer within ${this.#commandTimeoutMs} ms`));
          }),
        this.#commandTimeoutMs,
      );
      this.#connection.evaluate(script, keys, args).then(
        (value) => {
          disarmTimer(clock, timer);
          if (settled) return;
          settled = true;
          resolve(value);
        },
        (error: unknown) => {
          disarmTimer(clock, timer);
          if (settled) return;
          settled = true;
          reject(new CredentialError('COORDINATION_UNAVAILABLE', `Redis refused the call: ${error instanceof Error ? error.message : describeShape(error)}`));
        },
      );
    });
  }

  /** A call whose failure only degrades (a release, a failure record): the lease lapses by itself. */
  async #quietly(script: string, keys: readonly string[], args: readonly string[], clock: Clock): Promise<void> {
    try {
      await this.#call(script, keys, args, clock);
      this.#restore();
    } catch (error) {
      this.#degrade(error);
    }
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

/** The facts a token carries, without the absent ones (an optional property is absent, never `undefined`). */
function definedFacts(facts: Pick<AuthToken, 'tokenType' | 'scope' | 'refreshAfter'>): Pick<AuthToken, 'tokenType' | 'scope' | 'refreshAfter'> {
  const defined: { -readonly [F in keyof typeof facts]: (typeof facts)[F] } = {};
  if (facts.tokenType !== undefined) defined.tokenType = facts.tokenType;
  if (facts.scope !== undefined) defined.scope = facts.scope;
  if (facts.refreshAfter !== undefined) defined.refreshAfter = facts.refreshAfter;
  return defined;
}

/** The context of a mint run alone (no Redis, or no sharing for it): the attempt's signal and claims. */
function alone(run: SharedRun): MintContext {
  return { signal: run.signal, ...(run.claims === undefined ? {} : { claims: run.claims }), ...(run.step === undefined ? {} : { step: run.step }) };
}

/** What one shared mint attempt carries through the protocol. */
/** A refresh-token credential's grant runner in this process, its record holder, and the token holder of the attempt whose grant runs. */
interface Grants {
  readonly runner: GrantRunner;
  readonly holder: RedisRecordHolder;
  held: HeldToken;
}

/** The shared token one provider holds (its sealed value's IV): a shared token is adopted only if it is another. */
interface HeldToken {
  id: string;
}

interface SharedRun {
  readonly credential: string;
  readonly held: HeldToken;
  readonly keys: string[];
  readonly mint: Mint<SecretValue>;
  /** The claims challenge the provider gave this attempt (see `MintContext.claims`). */
  readonly claims: string | undefined;
  /** Where the user's mint says what it is doing (see `MintContext.step`). */
  readonly step: ((doing: string) => void) | undefined;
  readonly policy: SharedMintPolicy;
  /** The provider's clock: every timer of this attempt is armed on it (unref'd, chunked past 2^31-1 ms). */
  readonly clock: Clock;
  readonly leaseMs: number;
  readonly attemptTimeoutMs: number;
  readonly signal: AbortSignal;
  readonly phase: (phase: SharedMintPhase) => void;
  /** This attempt, as lease owner: `process/attempt`. */
  readonly owner: string;
}

/**
 * A grant that never runs alone, refused because the coordination cannot be reached: nobody's
 * failure (the issuer was not asked), so the provider's breaker does not open on it and callers keep
 * getting `COORDINATION_UNAVAILABLE`, which says what is wrong, rather than `BREAKER_OPEN`.
 */
function refusedAlone(policy: SharedMintPolicy, message: string, cause?: unknown): MintFailure {
  const error = new CredentialError('COORDINATION_UNAVAILABLE', message, cause === undefined ? undefined : { cause });
  return new MintFailure(error, policy.now(), { blame: 'nobody' });
}
