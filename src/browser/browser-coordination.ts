import { CredentialError, isCredentialError } from '../../machines/credential-error.js';
import type { SharedMintPhase } from '../../machines/credential.types.js';
import { isNewerRecord, isRecordVersion } from '../../machines/refresh-token-order.js';
import type { Secret, SecretValue } from '../../machines/secret.js';
import { onAbort, untilAborted } from '../abort-signals.js';
import { toAuthToken, type MintedToken } from '../auth-token.js';
import { checkOptions, requireOption } from '../check-options.js';
import { defaultClassifyFailure } from '../classify-failure.js';
import { armTimer, disarmTimer, systemClock, type Clock } from '../clock.js';
import type { Coordination, SharedMintPolicy } from '../coordination.js';
import { Listeners } from '../listeners.js';
import { isExclusiveMint, isIssuerNotAsked, type ExclusiveMint, type Mint, type MintContext } from '../mint.js';
import type { GrantBeginning, GrantRunner, GrantVersion } from '../refresh-token-grant.js';
import type { PlainRecord } from '../refresh-token-record.js';
import { retryAfterOf } from '../retry-after.js';
import { TabBreaker } from './tab-breaker.js';
import { isTabMessage, MESSAGE_VERSION, type SharedToken, type TabMessage } from './tab-messages.js';
import type { TokenStore } from './token-store.js';

/**
 * The part of `navigator.locks` this coordination uses: an exclusive lock taken only if it is free
 * (`ifAvailable`; the callback gets `null` otherwise), so that no tab ever waits in a lock's queue
 * behind a tab that is paused or frozen.
 */
export interface LockManagerLike {
  request<T>(name: string, options: { mode: 'exclusive'; ifAvailable: true }, callback: (lock: unknown) => Promise<T>): Promise<T>;
}

/** The part of a `BroadcastChannel` this coordination uses. */
export interface BroadcastChannelLike {
  postMessage(message: unknown): void;
  addEventListener(type: 'message', listener: (event: { data: unknown }) => void): void;
  close(): void;
}

/** Options of {@link browserCoordination}. */
export interface BrowserCoordinationOptions {
  /** Names the channel, the locks and the database: tabs share with the tabs of the same namespace (default `credential-actor`). */
  namespace?: string;
  /**
   * Keep each shared token, and the rotating refresh token, across reloads: sealed in IndexedDB with
   * a non-extractable WebCrypto key (see the docs for what that does and does not protect against).
   * Default `false`: in memory only, shared among live tabs; nothing is written to IndexedDB or
   * `localStorage`.
   */
  persist?: boolean;
  /** How long a tab that has no token yet waits for a live tab to hand it one before it mints (ms; default 250). */
  adoptWaitMs?: number;
  /** The lock manager (default `navigator.locks`); for tests and unusual hosts. */
  locks?: LockManagerLike;
  /** The channel constructor (default `BroadcastChannel`); for tests and unusual hosts. */
  channel?: { new (name: string): BroadcastChannelLike };
  /** Where the refresh token's version marker is kept (default `localStorage`; see {@link StorageLike}); for tests and unusual hosts. */
  storage?: StorageLike | null;
}

/**
 * The part of `localStorage` this coordination uses: one small marker per credential of the newest
 * refresh-token version a tab of the origin saw (its family's fingerprint, its generation and the
 * families it replaced; no token, no refresh token), so that a tab opened when no tab that knew it
 * is left does not send a sign-in's refresh token that was rotated away (its issuer would revoke
 * the family): it asks the user to sign in again instead.
 */
export interface StorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

/** What a browser coordination tells its listeners. */
export type BrowserCoordinationEvent =
  /** Web Locks or `BroadcastChannel` is missing: each tab mints on its own (said once, at the first provider). */
  | { readonly type: 'coordination.fallback'; readonly reason: string }
  /** Persistence failed (IndexedDB refused, or a stored value did not open): the tabs share in memory only meanwhile. */
  | { readonly type: 'coordination.persistence-failed'; readonly error: CredentialError };

type EventOf<T extends BrowserCoordinationEvent['type']> = Extract<BrowserCoordinationEvent, { type: T }>;

/** What one tab knows of one shared key. */
interface Entry {
  /** With persistence: what was stored, merged in once IndexedDB answers. */
  loaded: Promise<void> | null;
  token: SharedToken | null;
  /** The refresh token's record (a rotating refresh-token grant), as tabs post it: the newest this tab heard of (or only the marker's version, with no refresh token: `fromMarker`). */
  record: PlainRecord | null;
  /** The shared token this tab last took as its own: another one is adoptable, this one is not. */
  held: string | null;
  readonly breaker: TabBreaker;
  /** The key's grant runner (an exclusive mint), made at its first grant. */
  runner: GrantRunner | null;
}

/** How often a tab that found the lock taken looks again, when no message wakes it first (ms). */
const LOCK_POLL_MS = 100;

/** The lock callback's answer when another tab holds the lock. */
const TAKEN = Symbol('taken');

/**
 * Shares each credential among the tabs of one origin, passed as the `coordination` option of a
 * provider or a pool: one tab mints under an exclusive Web Lock, hands the token to the others over
 * a `BroadcastChannel`, and a tab opened later adopts the current token from a live tab without
 * minting. With a rotating refresh token (`refreshTokenMint`) the tabs keep one record of it, by
 * the refresh-token statechart's rules: the tab holding the lock marks it `granting` in every tab
 * before it sends the grant (then lets go of the lock), every outcome reaches every tab as soon as
 * it is known, a grant in flight is waited for, a grant whose answer was lost is never replayed
 * (`REFRESH_TOKEN_UNUSABLE`: sign in again), and a new sign-in in any tab replaces the family in all.
 *
 * One breaker per credential for all the tabs: about `breakerThreshold` attempts reach a failing
 * issuer from every tab together, then one probe per cooldown. A lock is only ever taken if it is
 * free (a tab never waits in a lock's queue behind a paused tab); a tab that finds it taken waits
 * for the other tab's news, or looks again shortly. Without Web Locks or `BroadcastChannel` it falls
 * back to a provider per tab and says so once (`coordination.fallback`).
 *
 * @example
 * ```ts
 * const coordination = browserCoordination();
 * const provider = await createCredentialProvider({ mint, coordination, sharedKey: 'orders-api' });
 * ```
 */
export function browserCoordination(options: BrowserCoordinationOptions = {}): BrowserCoordination {
  checkOptions(options, { owner: OWNER, known: ['namespace', 'persist', 'adoptWaitMs', 'locks', 'channel', 'storage'] });
  const { namespace = 'credential-actor', adoptWaitMs = 250, persist = false } = options;
  requireOption(OWNER, 'namespace', typeof namespace === 'string' && namespace.length > 0, 'must be a non-empty string', namespace);
  requireOption(OWNER, 'adoptWaitMs', typeof adoptWaitMs === 'number' && adoptWaitMs >= 0 && adoptWaitMs < Infinity, 'must be a finite number >= 0', adoptWaitMs);
  requireOption(OWNER, 'persist', typeof persist === 'boolean', 'must be a boolean', persist);
  const locks = options.locks ?? (globalThis as { navigator?: { locks?: LockManagerLike } }).navigator?.locks;
  const channel = options.channel ?? (globalThis as { BroadcastChannel?: new (name: string) => BroadcastChannelLike }).BroadcastChannel;
  const missing = locks === undefined ? 'navigator.locks' : channel === undefined ? 'BroadcastChannel' : null;
  const storage = options.storage === undefined ? defaultStorage() : options.storage;
  return BrowserCoordination.create({ namespace, adoptWaitMs, persist, locks, channel, missing, storage });
}

/** What a coordination is built from, its options checked (see {@link browserCoordination}). */
interface BrowserCoordinationSetup {
  readonly namespace: string;
  readonly adoptWaitMs: number;
  readonly persist: boolean;
  readonly locks: LockManagerLike | undefined;
  readonly channel: (new (name: string) => BroadcastChannelLike) | undefined;
  readonly missing: string | null;
  readonly storage: StorageLike | null;
}

/** Tabs' shared credentials. Build one with {@link browserCoordination}. */
export class BrowserCoordination implements Coordination {
  /** `'shared'`: the tabs share; `'per-tab'`: an API was missing and each tab mints alone. */
  readonly mode: 'shared' | 'per-tab';
  readonly #namespace: string;
  readonly #adoptWaitMs: number;
  readonly #locks: LockManagerLike | undefined;
  readonly #channel: BroadcastChannelLike | null;
  /** A second handle on the channel: a message this tab posts reaches it after every earlier message of every tab. */
  readonly #echo: BroadcastChannelLike | null;
  readonly #missing: string | null;
  readonly #entries = new Map<string, Entry>();
  readonly #persisting: boolean;
  readonly #storage: StorageLike | null;
  /** Who waits for news of a key by key, or for a barrier's echo by nonce. */
  readonly #waiters = new Map<string, Set<() => void>>();
  readonly #listeners = new Listeners<BrowserCoordinationEvent>();
  #store: Promise<TokenStore | null> | null;
  #fallbackSaid = false;
  #closed = false;
  /** The providers' policy (the first one's): its clock reads expiries, its knobs drive the tabs' breaker. */
  #policy: SharedMintPolicy | null = null;

  /** @internal Use {@link browserCoordination}. */
  static create(setup: BrowserCoordinationSetup): BrowserCoordination {
    return new BrowserCoordination(setup);
  }

  /** Use {@link browserCoordination}. */
  private constructor(setup: BrowserCoordinationSetup) {
    this.#namespace = setup.namespace;
    this.#storage = setup.storage;
    this.#adoptWaitMs = setup.adoptWaitMs;
    this.#locks = setup.locks;
    this.#missing = setup.missing;
    this.mode = setup.missing === null ? 'shared' : 'per-tab';
    if (this.mode === 'shared') {
      this.#channel = new setup.channel!(`${setup.namespace}:tabs`);
      this.#echo = new setup.channel!(`${setup.namespace}:tabs`);
      this.#channel.addEventListener('message', (event) => this.#receive(event.data));
      // the second handle hears this tab's own posts: each one's nonce says it has gone round
      this.#echo.addEventListener('message', (event) => this.#wake(String((event.data as { nonce?: unknown } | null)?.nonce)));
    } else {
      this.#channel = null;
      this.#echo = null;
    }
    this.#persisting = setup.persist && this.mode === 'shared';
    this.#store = this.#persisting ? null : Promise.resolve(null);
  }

  /**
   * The mint a provider runs for `sharedKey`: adopt a newer token another tab shared, or ask the
   * live tabs, or mint under the lock and hand the token to every tab. Called by
   * `createCredentialProvider` / `createCredentialPool`.
   *
   * @example
   * ```ts
   * const shared = coordination.share('orders-api', mint, policy);
   * ```
   */
  share<T extends SecretValue<T>>(sharedKey: string, mint: Mint<T>, policy: SharedMintPolicy): Mint<T> {
    if (this.mode === 'per-tab') {
      this.#sayFallback();
      return mint;
    }
    const clock = policy.clock ?? systemClock;
    this.#policy ??= policy;
    return async ({ signal, phase, claims, step }: MintContext): Promise<MintedToken<T>> =>
      (await this.#obtain(sharedKey, mint as Mint<SecretValue>, policy, clock, { signal, phase: phase ?? (() => {}), claims, step })) as MintedToken<T>;
  }

  /**
   * Replaces the refresh token of `sharedKey` with a new sign-in's in every tab (a provider's
   * `signIn()` calls it): the old family is never used again by any tab.
   *
   * @example
   * ```ts
   * await coordination.signIn('orders-api', mint, new Secret(refreshTokenFromSignIn), policy);
   * ```
   */
  async signIn(sharedKey: string, mint: ExclusiveMint<SecretValue>, refreshToken: Secret, policy: SharedMintPolicy): Promise<void> {
    if (this.mode === 'per-tab') return mint.signIn(refreshToken);
    this.#policy ??= policy;
    const entry = this.#entry(sharedKey);
    if (entry.loaded !== null) await entry.loaded;
    await (await this.#runnerOf(sharedKey, entry, mint, policy.clock ?? systemClock)).signIn(refreshToken);
  }

  /**
   * Listens to `coordination.fallback` or `coordination.persistence-failed`. Returns the function
   * that stops listening; a throwing listener is ignored.
   *
   * @example
   * ```ts
   * coordination.on('coordination.fallback', ({ reason }) => console.warn(`tabs do not share tokens: ${reason}`));
   * ```
   */
  on<K extends BrowserCoordinationEvent['type']>(type: K, listener: (event: EventOf<K>) => void): () => void {
    return this.#listeners.add(type, listener as (event: BrowserCoordinationEvent) => void);
  }

  /**
   * Stops listening to the other tabs and closes the database. Providers still using it mint alone.
   *
   * @example
   * ```ts
   * window.addEventListener('pagehide', () => coordination.close());
   * ```
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    // nothing more arrives: whoever waits on the channel goes on without it
    for (const name of [...this.#waiters.keys()]) this.#wake(name);
    for (const entry of this.#entries.values()) entry.runner?.close();
    this.#channel?.close();
    this.#echo?.close();
    void this.#store?.then((store) => store?.close());
  }

  async #obtain(key: string, mint: Mint<SecretValue>, policy: SharedMintPolicy, clock: Clock, run: Run): Promise<MintedToken<SecretValue>> {
    const { signal, phase, claims } = run;
    if (this.#closed) return mint(alone(run));
    const entry = this.#entry(key);
    if (entry.loaded !== null) await untilAborted(entry.loaded, signal);
    // a claims challenge asks for a token minted with the claims: another tab's token will not do
    if (claims === undefined && this.#adoptable(entry, policy.now())) return this.#adopt(entry, phase);
    // no token yet (a tab just opened): ask the live tabs before minting one
    if (entry.token === null) {
      await this.#ask(key, signal, clock);
      if (claims === undefined && this.#adoptable(entry, policy.now())) return this.#adopt(entry, phase);
    }
    for (;;) {
      entry.breaker.refuseIfOpen(policy.now());
      phase('waitingOnHolder');
      // another tab's grant in flight: its outcome comes as a message (or its deadline passes); no lock needed to wait
      const grant = entry.record?.status === 'granting' && entry.runner?.inFlight !== true ? entry.record.grant : null;
      if (grant !== null && grant.deadline > policy.now()) {
        await this.#wait(key, signal, clock, grant.deadline - policy.now());
        if (claims === undefined && this.#adoptable(entry, policy.now())) return this.#adopt(entry, phase);
        continue;
      }
      const outcome = await this.#locks!.request<typeof TAKEN | UnderLock>(`${this.#namespace}:${key}`, { mode: 'exclusive', ifAvailable: true }, (lock) =>
        lock === null ? Promise.resolve(TAKEN) : this.#underLock(key, entry, mint, policy, clock, run),
      );
      if (outcome === TAKEN) {
        // another tab holds the lock: its news wakes this one, or it looks again shortly
        await this.#wait(key, signal, clock, LOCK_POLL_MS);
        if (claims === undefined && this.#adoptable(entry, policy.now())) return this.#adopt(entry, phase);
        continue;
      }
      if ('minted' in outcome) return outcome.minted;
      // an exclusive grant: marked in every tab under the lock, sent now that the lock is let go
      const beginning = outcome.beginning;
      if (beginning.kind === 'minted') return beginning.token;
      if (beginning.kind === 'wait') {
        // another tab's grant may still answer: its outcome wakes this one
        await this.#wait(key, signal, clock, Math.max(1, beginning.until - policy.now()));
        if (claims === undefined && this.#adoptable(entry, policy.now())) return this.#adopt(entry, phase);
        continue;
      }
      if (signal.aborted) {
        beginning.abandon();
        throw signal.reason;
      }
      return untilAborted(beginning.send(), signal);
    }
  }

  /** Holding the lock: adopt what the tabs already have, or mint once (an exclusive grant: mark it), and hand the token to every tab. */
  async #underLock(key: string, entry: Entry, mint: Mint<SecretValue>, policy: SharedMintPolicy, clock: Clock, run: Run): Promise<UnderLock> {
    const { signal, phase, claims } = run;
    await this.#barrier(signal);
    const exclusive = isExclusiveMint(mint);
    if (exclusive) {
      // The record is read as the newest any tab knows: a tab that was paused may have missed
      // hand-overs (its channel drops what is posted meanwhile), so it asks the live tabs, and with
      // persistence reads what a tab since closed left in IndexedDB.
      await this.#ask(key, signal, clock);
      if (this.#persisting) await this.#load(key, entry);
      // and the origin's marker: a tab that closed after a rotation left its version there
      this.#hearRecord(entry, (await import('./tab-grants.js')).markedRecord(this.#storage, `${this.#namespace}:${key}`));
      // a usable refresh token only another tab knows: it may be paused for a moment (its answers were
      // lost); asked a few more times before this tab concludes that nobody does
      for (let round = 0; round < 4 && entry.record?.status === 'usable' && entry.record.value === null; round++) await this.#ask(key, signal, clock);
      // a grant answered since this tab's token was minted: its tab hands its token over right after
      // the record, which may have come first (by the channel, or from the marker); waited for a
      // moment, or this tab would grant again, a window early
      if (this.#tokenOnItsWay(entry)) await this.#awaitToken(key, entry, signal, clock);
    }
    if (claims === undefined && this.#adoptable(entry, policy.now())) return { minted: this.#adopt(entry, phase) };
    entry.breaker.refuseIfOpen(policy.now());
    phase('holdingLease');
    if (exclusive) return { beginning: await (await this.#runnerOf(key, entry, mint, clock)).begin({ signal, claims }) };
    let minted: MintedToken<SecretValue>;
    try {
      minted = await untilAborted(mint(alone(run)), signal);
    } catch (error) {
      if (!signal.aborted) await this.#failed(key, error);
      throw error;
    }
    await this.#handOver(key, entry, minted);
    return { minted };
  }

  /**
   * Whether the record says a grant was answered (its generation) after the one that minted this
   * tab's newest token: that grant's tab has a newer token, handed over right after the record.
   */
  #tokenOnItsWay(entry: Entry): boolean {
    const record = entry.record;
    // generation 0 is a sign-in's: no grant, no token; and with the refresh token unknown here (only
    // the marker's version heard) this tab cannot grant: nothing to wait for
    if (record?.status !== 'usable' || record.generation === 0 || record.value === null) return false;
    const made = entry.token?.grantedAt;
    return made === undefined || made.family !== record.family || made.generation < record.generation;
  }

  /**
   * Asks the tabs once and waits (at most twice `adoptWaitMs`: the hand-over follows the record's
   * echo) until the token of the record's grant arrives. Its tab may have closed between the record
   * and the hand-over: then this tab grants.
   */
  async #awaitToken(key: string, entry: Entry, signal: AbortSignal, clock: Clock): Promise<void> {
    const until = clock.now() + 2 * this.#adoptWaitMs;
    this.#post({ type: 'want', key });
    while (this.#tokenOnItsWay(entry) && clock.now() < until) await this.#wait(key, signal, clock, until - clock.now());
  }

  /**
   * The token of an answered mint, to every tab (published, so every tab has it queued, before the
   * lock is let go), labelled with the record version its grant made; the breaker closes.
   */
  async #handOver(key: string, entry: Entry, minted: MintedToken<SecretValue>, made?: GrantVersion): Promise<void> {
    const policy = this.#policy;
    const shared = sharedTokenOf(minted, policy?.now() ?? Date.now());
    const token = shared === null || made === undefined ? shared : { ...shared, grantedAt: { family: made.family, generation: made.generation } };
    if (token !== null) {
      entry.token = token;
      entry.held = token.id;
    }
    entry.breaker.answered(policy?.now() ?? 0);
    await this.#publish({ type: 'token', key, token, record: entry.record ?? undefined }, NEVER);
    this.#post({ type: 'answered', key });
    await this.#persist(key, entry);
  }

  /** A mint failed: the issuer's failures count against the tabs' breaker, in every tab. */
  async #failed(key: string, error: unknown): Promise<void> {
    const policy = this.#policy;
    if (policy === null || isIssuerNotAsked(error) || isCredentialError(error, 'REFRESH_TOKEN_UNUSABLE') || defaultClassifyFailure(error) !== 'issuer') return;
    const at = policy.now();
    const retryAfterMs = retryAfterOf(error);
    const id = crypto.randomUUID();
    this.#entry(key).breaker.failed(id, at, retryAfterMs, policy);
    await this.#publish({ type: 'failure', key, id, at, retryAfterMs }, NEVER);
  }

  /** The key's grant runner (its module loads at the first refresh-token grant: see `tab-grants.ts`). */
  async #runnerOf(key: string, entry: Entry, mint: Mint<SecretValue>, clock: Clock): Promise<GrantRunner> {
    if (entry.runner !== null) return entry.runner;
    const { tabGrantRunner, mark } = await import('./tab-grants.js');
    entry.runner ??= tabGrantRunner({
      slot: entry,
      mint: mint as ExclusiveMint<SecretValue>,
      clock,
      // to every tab (echo-confirmed: a grant is marked everywhere before it is sent), and to IndexedDB
      changed: async () => {
        mark(this.#storage, `${this.#namespace}:${key}`, entry.record);
        if (entry.record !== null) await this.#publish({ type: 'record', key, record: entry.record }, NEVER);
        await this.#persist(key, entry);
      },
      // every answered grant's token reaches every tab, also one answered after its attempt was given up
      answered: (minted, made) => void this.#handOver(key, entry, minted, made),
      failed: (error) => void this.#failed(key, error),
    });
    return entry.runner;
  }

  #adoptable(entry: Entry, now: number): boolean {
    return isLive(entry.token, now) && entry.token!.id !== entry.held;
  }

  #adopt(entry: Entry, phase: (phase: SharedMintPhase) => void): MintedToken<SecretValue> {
    phase('adopting');
    const { id, ...token } = entry.token!;
    entry.held = id;
    return token;
  }

  /** This tab's entry for `key` (what it hears of a key before it uses it is kept); with persistence, loaded from IndexedDB. */
  #entry(key: string): Entry {
    let entry = this.#entries.get(key);
    if (entry === undefined) {
      entry = { loaded: null, token: null, record: null, held: null, breaker: new TabBreaker(), runner: null };
      this.#entries.set(key, entry);
      if (this.#persisting) entry.loaded = this.#load(key, entry);
    }
    return entry;
  }

  /** Merges what IndexedDB holds for `key` into its entry, unless the tabs already said something newer. */
  async #load(key: string, entry: Entry): Promise<void> {
    const stored = await (await this.#openStore())?.load(key);
    if (stored == null) return;
    if (isNewer(stored.token, entry.token)) entry.token = stored.token;
    this.#hearRecord(entry, stored.record);
  }

  /** The store, opened on first use (the module too: an app that does not persist does not ship it); `null` without persistence. */
  #openStore(): Promise<TokenStore | null> {
    this.#store ??= import('./token-store.js').then(({ openTokenStore }) => openTokenStore(this.#namespace, (error) => this.#notify(error)));
    return this.#store;
  }

  /** Writes the entry, sealed, when persistence is on (awaited: a grant is marked in IndexedDB before it is sent). */
  async #persist(key: string, entry: Entry): Promise<void> {
    if (!this.#persisting) return;
    await (await this.#openStore())?.save(key, { token: entry.token, record: entry.record });
  }

  /**
   * Asks the live tabs for their token and record; the first answer (or `adoptWaitMs`) ends the wait.
   * A wait that ended long past its time (this tab was paused or frozen, and the answers posted
   * meanwhile were lost to it) is asked again, up to twice.
   */
  async #ask(key: string, signal: AbortSignal, clock: Clock): Promise<void> {
    for (let round = 0; round < 3; round++) {
      const askedAt = clock.now();
      this.#post({ type: 'want', key });
      await this.#wait(key, signal, clock, this.#adoptWaitMs);
      if (clock.now() - askedAt <= 2 * this.#adoptWaitMs + 100) return;
    }
  }

  /**
   * Waits until `#wake(name)`: news of key `name` from another tab (bounded by `ms` on `clock`), or
   * this tab's own post `name` coming back; or until the attempt gives up. Resolves `true` when
   * woken, `false` when its time ran out.
   */
  #wait(name: string, signal: AbortSignal, clock: Clock, ms: number): Promise<boolean> {
    return new Promise<boolean>((resolve, reject) => {
      let wakers = this.#waiters.get(name);
      if (wakers === undefined) this.#waiters.set(name, (wakers = new Set()));
      const done = (settle: () => void) => () => {
        disarmTimer(clock, timer);
        cancel();
        wakers.delete(wake);
        if (wakers.size === 0) this.#waiters.delete(name);
        settle();
      };
      const wake = done(() => resolve(true));
      const timer = armTimer(
        clock,
        done(() => resolve(false)),
        ms,
      );
      const cancel = onAbort(
        signal,
        done(() => reject(signal.reason)),
      );
      wakers.add(wake);
    });
  }

  /**
   * Posts (with `post`, which returns the nonce) and resolves once the post comes back on this tab's
   * own other handle; posted again if it does not come back in time (this tab was paused meanwhile,
   * and a paused page loses what reaches it, its own echo too), a few times at most.
   */
  async #echoed(post: () => string, signal: AbortSignal): Promise<void> {
    const clock = this.#policy?.clock ?? systemClock;
    for (let round = 0; round < 5 && !this.#closed; round++) {
      if (await this.#wait(post(), signal, clock, 2 * this.#adoptWaitMs + 250)) return;
    }
  }

  #wake(name: string): void {
    for (const wake of [...(this.#waiters.get(name) ?? [])]) wake();
  }

  /**
   * Resolves once every message any tab published before this call has reached this tab. The
   * barrier is posted on the second handle and awaited on the first, which receives the other
   * tabs' messages: one pipe from the browser's broker, first in, first out.
   */
  #barrier(signal: AbortSignal): Promise<void> {
    return this.#echoed(() => this.#post({ type: 'barrier' }, this.#echo), signal);
  }

  /**
   * Posts `message` and resolves once it comes back on this tab's second handle: the broker hands
   * a message to every receiver at once, so by then every other tab has it queued, whatever
   * happens to this tab next (ordering across different pipes, such as a lock's release, is not
   * guaranteed; within one pipe it is).
   */
  #publish(message: TabMessage, signal: AbortSignal): Promise<void> {
    return this.#echoed(() => this.#post(message), signal);
  }

  #receive(data: unknown): void {
    if (!isTabMessage(data)) return;
    if (data.type === 'barrier') return this.#wake(data.nonce);
    const entry = this.#entries.get(data.key);
    if (data.type === 'want') {
      // answered whatever the state of the access token: a refresh token's record matters most when none is live
      if (entry !== undefined && (entry.token !== null || entry.record !== null)) {
        const token = isLive(entry.token, this.#now()) ? entry.token : null;
        this.#post({ type: 'token', key: data.key, token, record: entry.record ?? undefined });
      }
      return;
    }
    const target = entry ?? this.#entry(data.key);
    switch (data.type) {
      case 'token':
        if (isNewer(data.token, target.token)) target.token = data.token;
        this.#hearRecord(target, data.record);
        break;
      case 'record':
        this.#hearRecord(target, data.record);
        break;
      case 'failure':
        if (this.#policy !== null) target.breaker.failed(data.id, data.at, data.retryAfterMs, this.#policy);
        break;
      case 'answered':
        // before a policy is known no failure was applied: the breaker is closed whatever the instant
        target.breaker.answered(this.#policy?.now() ?? 0);
        break;
    }
    this.#wake(data.key);
  }

  /** Keeps the newer of the record held and the one heard of (a tab that was paused may answer late, with an older one). */
  #hearRecord(entry: Entry, plain: PlainRecord | null | undefined): void {
    // only the origin's own scripts post here: the message's version is checked, and the record's own
    // version, which orders it; its content is checked in full where a grant reads it (tab-grants.ts)
    if (!isRecordVersion(plain)) return;
    const current = entry.record;
    // a generation has one refresh token: a record that knows only the version (the marker's) takes the
    // value from one of the same generation that knows it, whichever of the two is newer
    const sameGeneration = current !== null && current.family === plain.family && current.generation === plain.generation;
    if (isNewerRecord(plain, current)) entry.record = plain.value === null && sameGeneration && current.value !== null ? { ...plain, value: current.value } : plain;
    else if (sameGeneration && current.value === null && plain.value !== null && current.refusal === null) entry.record = { ...current, value: plain.value };
  }

  /** Posts `message` (on the first handle, unless told otherwise) with a fresh nonce, which it returns. */
  #post(message: TabMessage, via = this.#channel): string {
    const nonce = crypto.randomUUID();
    if (!this.#closed) via?.postMessage({ v: MESSAGE_VERSION, nonce, ...message });
    return nonce;
  }

  #now(): number {
    return this.#policy?.now() ?? Date.now();
  }

  #sayFallback(): void {
    if (this.#fallbackSaid) return;
    this.#fallbackSaid = true;
    const reason = `no ${this.#missing}: each tab mints alone`;
    // after the provider's construction returns, so that listeners added with it hear it
    queueMicrotask(() => this.#notify({ type: 'coordination.fallback', reason }));
  }

  #notify(event: BrowserCoordinationEvent): void {
    this.#listeners.notify(event);
  }
}

/** What a tab did under the lock: minted (or adopted), or marked an exclusive grant to send once the lock is let go. */
type UnderLock = { readonly minted: MintedToken<SecretValue> } | { readonly beginning: GrantBeginning };

/** What one attempt carries. */
interface Run {
  readonly signal: AbortSignal;
  readonly phase: (phase: SharedMintPhase) => void;
  readonly claims: string | undefined;
  readonly step: ((doing: string) => void) | undefined;
}

/** The context the user's mint runs with when this tab mints: the attempt's signal, claims and step. */
function alone(run: Run): MintContext {
  return { signal: run.signal, ...(run.claims === undefined ? {} : { claims: run.claims }), ...(run.step === undefined ? {} : { step: run.step }) };
}

/** A signal that never aborts: a hand-over is published whatever becomes of the attempt that made it. */
const NEVER = new AbortController().signal;

const OWNER = 'browserCoordination';

/** The token a mint returned, as tabs share it; `null` if it is not a usable token (the provider refuses it). */
function sharedTokenOf(minted: MintedToken<SecretValue>, now: number): SharedToken | null {
  try {
    const { secret, ...facts } = toAuthToken<SecretValue>(minted, now);
    return { id: crypto.randomUUID(), secret: secret.reveal(), mintedAt: now, ...facts };
  } catch {
    return null;
  }
}

/** The page's `localStorage`, where it is there and usable (a sandboxed frame may refuse it). */
function defaultStorage(): StorageLike | null {
  try {
    return (globalThis as { localStorage?: StorageLike }).localStorage ?? null;
  } catch {
    return null;
  }
}

/** Whether `token` is there and unexpired at `now`. */
function isLive(token: SharedToken | null, now: number): boolean {
  return token !== null && (token.expiresAt ?? Infinity) > now;
}

/**
 * Whether `candidate` is newer than `current`: it expires later (no expiry counts as latest), or
 * expires together with it and was minted later. Issuers write `exp` from an issue time rounded
 * down, so two tokens of one unit expire together; expiry alone would keep the older and make the
 * next tab under the lock mint again.
 */
function isNewer(candidate: SharedToken | null, current: SharedToken | null): candidate is SharedToken {
  if (candidate === null) return false;
  if (current === null) return true;
  const candidateExpiry = candidate.expiresAt ?? Infinity;
  const currentExpiry = current.expiresAt ?? Infinity;
  // a token stored by an earlier release has no mintedAt: it orders first
  return candidateExpiry > currentExpiry || (candidateExpiry === currentExpiry && (candidate.mintedAt ?? 0) > (current.mintedAt ?? 0));
}
