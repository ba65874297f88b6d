import { CredentialError } from '../../machines/credential-error.js';
import type { SharedMintPhase } from '../../machines/credential.types.js';
import type { SecretValue } from '../../machines/secret.js';
import { onAbort, untilAborted } from '../abort-signals.js';
import { toAuthToken, type MintedToken } from '../auth-token.js';
import { checkOptions, requireOption } from '../check-options.js';
import { armTimer, disarmTimer, systemClock, type Clock } from '../clock.js';
import type { Coordination, SharedMintPolicy } from '../coordination.js';
import { Listeners } from '../listeners.js';
import { isExclusiveMint, type Mint, type MintContext } from '../mint.js';
import { isTabMessage, MESSAGE_VERSION, type SharedState, type SharedToken, type TabMessage } from './tab-messages.js';
import type { StoredCredential, TokenStore } from './token-store.js';

/** The part of `navigator.locks` this coordination uses. */
export interface LockManagerLike {
  request<T>(name: string, options: { mode: 'exclusive'; signal?: AbortSignal }, callback: () => Promise<T>): Promise<T>;
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
  channel?: new (name: string) => BroadcastChannelLike;
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
  state: SharedState | null;
  /** The state a tab announced a grant with and has not yet said how it went. */
  granting: string | null;
  spent: Set<string>;
  /** The shared token this tab last took as its own: another one is adoptable, this one is not. */
  held: string | null;
}

/**
 * Shares each credential among the tabs of one origin, passed as the `coordination` option of a
 * provider or a pool: one tab mints under an exclusive Web Lock, hands the token to the others over
 * a `BroadcastChannel`, and a tab opened later adopts the current token from a live tab without
 * minting. With a rotating refresh token (`refreshTokenMint`), exactly one grant per rotation runs
 * across all tabs, and a grant whose outcome is unknown (its tab was closed or crashed mid-request)
 * is never replayed: the next attempt fails with `REFRESH_TOKEN_UNUSABLE` (sign in again).
 *
 * Every lock wait is bounded by the attempt's signal (`mintTimeoutMs`, and callers giving up); the
 * lock is held for the mint alone; `steal` is never used. Without Web Locks or `BroadcastChannel` it
 * falls back to a provider per tab and says so once (`coordination.fallback`).
 *
 * @example
 * ```ts
 * const coordination = browserCoordination();
 * const provider = await createCredentialProvider({ mint, coordination, sharedKey: 'orders-api' });
 * ```
 */
export function browserCoordination(options: BrowserCoordinationOptions = {}): BrowserCoordination {
  checkOptions(options, { owner: OWNER, known: ['namespace', 'persist', 'adoptWaitMs', 'locks', 'channel'] });
  const { namespace = 'credential-actor', adoptWaitMs = 250, persist = false } = options;
  requireOption(OWNER, 'namespace', typeof namespace === 'string' && namespace.length > 0, 'must be a non-empty string', namespace);
  requireOption(OWNER, 'adoptWaitMs', typeof adoptWaitMs === 'number' && adoptWaitMs >= 0 && adoptWaitMs < Infinity, 'must be a finite number >= 0', adoptWaitMs);
  requireOption(OWNER, 'persist', typeof persist === 'boolean', 'must be a boolean', persist);
  const locks = options.locks ?? (globalThis as { navigator?: { locks?: LockManagerLike } }).navigator?.locks;
  const channel = options.channel ?? (globalThis as { BroadcastChannel?: new (name: string) => BroadcastChannelLike }).BroadcastChannel;
  const missing = locks === undefined ? 'navigator.locks' : channel === undefined ? 'BroadcastChannel' : null;
  return new BrowserCoordination({ namespace, adoptWaitMs, persist, locks, channel, missing });
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
  /** Who waits for a token by key, or for a barrier's echo by nonce. */
  readonly #waiters = new Map<string, Set<() => void>>();
  readonly #listeners = new Listeners<BrowserCoordinationEvent>();
  #store: Promise<TokenStore | null> | null;
  #fallbackSaid = false;
  #closed = false;
  /** The providers' clock (the first one's): a token's expiry is read off it. */
  #now: () => number = () => Date.now();

  /** @internal Use {@link browserCoordination}. */
  constructor(setup: {
    namespace: string;
    adoptWaitMs: number;
    persist: boolean;
    locks: LockManagerLike | undefined;
    channel: (new (name: string) => BroadcastChannelLike) | undefined;
    missing: string | null;
  }) {
    this.#namespace = setup.namespace;
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
    this.#now = policy.now;
    return async ({ signal, phase, claims }: MintContext): Promise<MintedToken<T>> =>
      (await this.#obtain(sharedKey, mint as Mint<SecretValue>, policy, clock, { signal, phase: phase ?? (() => {}), claims })) as MintedToken<T>;
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
    this.#channel?.close();
    this.#echo?.close();
    void this.#store?.then((store) => store?.close());
  }

  async #obtain(key: string, mint: Mint<SecretValue>, policy: SharedMintPolicy, clock: Clock, run: { signal: AbortSignal; phase: (phase: SharedMintPhase) => void; claims: string | undefined }): Promise<MintedToken<SecretValue>> {
    const { signal, phase, claims } = run;
    if (this.#closed) return mint({ signal, claims });
    const entry = this.#entry(key);
    if (entry.loaded !== null) await untilAborted(entry.loaded, signal);
    // a claims challenge asks for a token minted with the claims: another tab's token will not do
    if (claims === undefined && this.#adoptable(entry, policy.now())) return this.#adopt(entry, phase);
    /** Asks the live tabs for their token and state; the first answer (or `adoptWaitMs`) ends the wait. */
    const ask = () => {
      this.#post({ type: 'want', key });
      return this.#wait(key, signal, clock);
    };
    // no token yet (a tab just opened): ask the live tabs before minting one
    if (entry.token === null) {
      await ask();
      if (claims === undefined && this.#adoptable(entry, policy.now())) return this.#adopt(entry, phase);
    }
    phase('waitingOnHolder');
    return this.#locks!.request(`${this.#namespace}:${key}`, { mode: 'exclusive', signal }, async () => {
      await this.#barrier(signal);
      // A rotating refresh token is sent only as the newest a live tab knows: a tab that was frozen
      // or paused may not have the hand-overs made meanwhile (a resumed tab was seen to send a
      // rotated refresh token), so it asks first, holding the lock so that no other grant runs.
      if (isExclusiveMint(mint)) await ask();
      if (claims === undefined && this.#adoptable(entry, policy.now())) return this.#adopt(entry, phase);
      phase('holdingLease');
      return this.#mintHolding(key, entry, mint, policy, run);
    });
  }

  /** Holding the lock: mint once, and hand the token (and the next state) to every tab before letting go. */
  async #mintHolding(key: string, entry: Entry, mint: Mint<SecretValue>, policy: SharedMintPolicy, run: { signal: AbortSignal; claims: string | undefined }): Promise<MintedToken<SecretValue>> {
    const { signal, claims } = run;
    const exclusive = isExclusiveMint(mint);
    const stateId = entry.state?.id ?? 'initial';
    if (exclusive && (entry.spent.has(stateId) || entry.granting === stateId)) {
      // a tab ran a grant with this state and never said how it went (it was closed or crashed
      // mid-request): the refresh token may be spent, and sending it again would revoke the family
      entry.spent.add(stateId);
      entry.granting = null;
      // the issuer was not asked: no breaker counts it, so every caller hears this itself (no
      // retry can fix it), not a BREAKER_OPEN
      throw Object.assign(new CredentialError('REFRESH_TOKEN_UNUSABLE', UNKNOWN_OUTCOME), { issuerNotAsked: true as const });
    }
    const state = entry.state?.value ?? null;
    let minted: MintedToken<SecretValue>;
    let sent = false;
    try {
      if (exclusive) {
        entry.granting = stateId;
        // every other tab has it queued before the grant goes out: if this tab dies mid-grant, the
        // next holder's barrier brings it in before it could send the same refresh token
        await this.#publish({ type: 'granting', key, stateId }, signal);
        await this.#persist(key, entry);
      }
      sent = true;
      minted = await untilAborted(mint({ signal, state, claims }), signal);
    } catch (error) {
      if (exclusive) {
        // given up before the grant went out, the refresh token is unspent; after, it may be spent
        const spent = sent && (signal.aborted || (error as { stateSpent?: unknown } | null)?.stateSpent === true);
        entry.granting = null;
        if (spent) entry.spent.add(stateId);
        await this.#publish({ type: spent ? 'spent' : 'grant-failed', key, stateId }, signal).catch(() => {});
        await this.#persist(key, entry);
        if (spent && !signal.aborted) throw new CredentialError('REFRESH_TOKEN_UNUSABLE', UNKNOWN_OUTCOME, { cause: error });
      }
      throw error;
    }
    const nextState: SharedState | null =
      typeof minted.state === 'string' ? { id: crypto.randomUUID(), generation: (entry.state?.generation ?? 0) + 1, value: minted.state } : entry.state;
    if (exclusive) {
      entry.state = nextState;
      entry.granting = null;
      entry.spent.add(stateId); // used: a rotating refresh token is good once
    }
    const token = sharedTokenOf(minted, policy.now());
    if (token !== null) {
      entry.token = token;
      entry.held = token.id;
    }
    // published (every tab has it queued) before the lock is let go: the next holder's barrier brings it in
    if (token !== null || exclusive) await this.#publish({ type: 'token', key, token, state: nextState ?? undefined }, signal);
    await this.#persist(key, entry);
    return minted;
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
      entry = { loaded: null, token: null, state: null, granting: null, spent: new Set(), held: null };
      this.#entries.set(key, entry);
      if (this.#persisting) entry.loaded = this.#load(key, entry);
    }
    return entry;
  }

  /** Merges what IndexedDB holds for `key` into its entry, unless the tabs already said something newer. */
  async #load(key: string, entry: Entry): Promise<void> {
    const stored = await (await this.#openStore())?.load(key);
    if (stored == null) return;
    for (const id of stored.spent) entry.spent.add(id);
    if (isNewer(stored.token, entry.token)) entry.token = stored.token;
    if (stored.state !== null) this.#hearState(entry, stored.state);
    entry.granting ??= stored.granting;
  }

  /** The store, opened on first use (the module too: an app that does not persist does not ship it); `null` without persistence. */
  #openStore(): Promise<TokenStore | null> {
    this.#store ??= import('./token-store.js').then(({ openTokenStore }) => openTokenStore(this.#namespace, (error) => this.#notify(error)));
    return this.#store;
  }

  /** Writes the entry, sealed, when persistence is on (awaited inside the lock: the next holder reads it). */
  async #persist(key: string, entry: Entry): Promise<void> {
    await (await this.#openStore())?.save(key, { token: entry.token, state: entry.state, granting: entry.granting, spent: [...entry.spent].slice(-16) });
  }

  /**
   * Waits until `#wake(name)`: a token for key `name` from another tab (bounded by `adoptWaitMs` on
   * `clock`), or this tab's own barrier `name` coming back; or until the attempt gives up.
   */
  #wait(name: string, signal: AbortSignal, clock?: Clock): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let wakers = this.#waiters.get(name);
      if (wakers === undefined) this.#waiters.set(name, (wakers = new Set()));
      const done = (settle: () => void) => () => {
        if (clock !== undefined) disarmTimer(clock, timer!);
        cancel();
        wakers.delete(wake);
        if (wakers.size === 0) this.#waiters.delete(name);
        settle();
      };
      const wake = done(resolve);
      const timer = clock === undefined ? undefined : armTimer(clock, wake, this.#adoptWaitMs);
      const cancel = onAbort(signal, done(() => reject(signal.reason)));
      wakers.add(wake);
    });
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
    return this.#wait(this.#post({ type: 'barrier' }, this.#echo), signal);
  }

  /**
   * Posts `message` and resolves once it comes back on this tab's second handle: the broker hands
   * a message to every receiver at once, so by then every other tab has it queued, whatever
   * happens to this tab next (ordering across different pipes, such as a lock's release, is not
   * guaranteed; within one pipe it is).
   */
  #publish(message: TabMessage, signal: AbortSignal): Promise<void> {
    return this.#closed ? Promise.resolve() : this.#wait(this.#post(message), signal);
  }

  #receive(data: unknown): void {
    if (!isTabMessage(data)) return;
    if (data.type === 'barrier') return this.#wake(data.nonce);
    const entry = this.#entries.get(data.key);
    if (data.type === 'want') {
      if (entry !== undefined && isLive(entry.token, this.#now())) {
        this.#post({ type: 'token', key: data.key, token: entry.token, state: entry.state ?? undefined });
      }
      return;
    }
    const target = entry ?? this.#entry(data.key);
    switch (data.type) {
      case 'token':
        if (isNewer(data.token, target.token)) target.token = data.token;
        if (data.state !== undefined) this.#hearState(target, data.state);
        this.#wake(data.key);
        break;
      case 'granting':
        target.granting = data.stateId;
        break;
      case 'grant-failed':
        if (target.granting === data.stateId) target.granting = null;
        break;
      case 'spent':
        target.spent.add(data.stateId);
        if (target.granting === data.stateId) target.granting = null;
        break;
    }
  }

  /**
   * Keeps the newest state heard of: a later generation replaces the one held (which a grant has
   * used, so it is spent), an older one (a tab that was frozen, answering late) is ignored.
   */
  #hearState(entry: Entry, state: SharedState): void {
    if (entry.state !== null && state.generation <= entry.state.generation) return;
    entry.spent.add(entry.state?.id ?? 'initial');
    entry.state = state;
    entry.granting = null;
  }

  /** Posts `message` (on the first handle, unless told otherwise) with a fresh nonce, which it returns. */
  #post(message: TabMessage, via = this.#channel): string {
    const nonce = crypto.randomUUID();
    if (!this.#closed) via?.postMessage({ v: MESSAGE_VERSION, nonce, ...message });
    return nonce;
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

const OWNER = 'browserCoordination';


/** Why a rotating refresh token is not sent again (its grant's tab closed or crashed mid-request, or its answer was lost). */
const UNKNOWN_OUTCOME = 'a grant’s outcome is unknown, so its refresh token is not sent again: sign in again';




/** The token a mint returned, as tabs share it; `null` if it is not a usable token (the provider refuses it). */
function sharedTokenOf(minted: MintedToken<SecretValue>, now: number): SharedToken | null {
  try {
    const { secret, ...facts } = toAuthToken<SecretValue>(minted, now);
    return { id: crypto.randomUUID(), secret: secret.reveal(), ...facts };
  } catch {
    return null;
  }
}

/** Whether `token` is there and unexpired at `now`. */
function isLive(token: SharedToken | null, now: number): boolean {
  return token !== null && (token.expiresAt ?? Infinity) > now;
}

/** Whether `candidate` is newer than `current`: it expires later (no expiry counts as latest). */
function isNewer(candidate: SharedToken | null, current: SharedToken | null): candidate is SharedToken {
  if (candidate === null) return false;
  if (current === null) return true;
  return (candidate.expiresAt ?? Infinity) > (current.expiresAt ?? Infinity);
}
