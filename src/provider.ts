import { createActor, type Actor, type InspectionEvent, type Observer, type SnapshotFrom } from 'xstate';
import type { ObservedActor } from './observed-actor.js';
import { credentialMachine, type CredentialMachine } from '../machines/credential.machine.js';
import type { CredentialContext, CredentialEmittedEvent } from '../machines/credential.types.js';
import type { MintBlame } from '../machines/mint-failure.js';
import { invalidationAllowedAt, isTokenUnusableAt, quietUntil, type RefreshPolicy } from '../machines/policy.js';
import { isAbortSignal, isLiveSignal } from './abort-signals.js';
import type { AuthToken } from './auth-token.js';
import { defaultClassifyFailure } from './classify-failure.js';
import { clockOption, type Clock } from './clock.js';
import { BreakerOpenError } from './breaker-open-error.js';
import { checkOptions } from './check-options.js';
import { POLICY_OPTION_NAMES, policyOf, resolveRefreshConfig, type RefreshConfig } from './config.js';
import { CredentialError } from '../machines/credential-error.js';
import { Flight } from './flight.js';
import { redactedInspection, type InspectionObserver } from './inspection.js';
import { Listeners } from './listeners.js';
import { reporterListeners, validateReporters, type CredentialReporters } from './reporters.js';
import { describeShape } from './describe-shape.js';
import { createCredentialActor } from './environment.js';
import { checkExclusiveMint, isExclusiveMint, isKeyBoundMint, type ExclusiveMint, type Mint, type MintGate } from './mint.js';
import { Secret, type SecretValue } from '../machines/secret.js';
import { isCoordination, type Coordination, type SharedMintPolicy } from './coordination.js';

export type { CredentialReporters } from './reporters.js';

// `Symbol.asyncDispose`'s type without the `esnext.disposable` lib or Node's types (a browser-only
// TypeScript setup): the published declarations must compile there. It merges with either when present.
declare global {
  interface SymbolConstructor {
    readonly asyncDispose: unique symbol;
  }
}

/** Options of {@link createCredentialProvider}; every policy knob defaults as in `defaultRefreshConfig`. */
export interface CredentialProviderOptions<T extends SecretValue<T> = string> extends Partial<RefreshConfig> {
  /** Fetches a new token (its secret a string, or several named parts: `T`). Required. */
  mint: Mint<T>;
  /** Time source and timers; defaults to `Date.now` with unref'd timers. */
  clock?: Clock;
  /**
   * An XState inspection observer (e.g. a Stately inspector's `inspect`), passed to `createActor`
   * behind a redacting wrapper: tokens reach it as `<REDACTED>` and errors as name, message, code.
   */
  inspect?: InspectionObserver;
  /** Telemetry observers, called after the transition that caused them, breaker change first. */
  reporters?: CredentialReporters;
  /**
   * Shares this credential with other processes (e.g. `redisCoordination` from
   * `credential-actor/redis`): one mint per refresh window across the fleet. Needs `sharedKey`.
   * Default: none, the provider is alone with its issuer (nothing beyond this process is needed).
   */
  coordination?: Coordination;
  /** The name of this credential across the fleet (see `credentialKey` in `credential-actor/redis`); with `coordination` only. */
  sharedKey?: string;
  /**
   * When the first token is minted. `'eager'` (the default): `createCredentialProvider` mints it and
   * rejects if it fails, so a misconfigured client id or secret stops the deploy at start-up, not at
   * the first request. `'lazy'`: it resolves at once and the first `currentToken()` mints, so an
   * issuer that blips while the app starts does not fail the start (the pool's keys always start so).
   */
  firstMint?: 'eager' | 'lazy';
}

/** Options of {@link CredentialProvider.currentToken}. */
export interface CurrentTokenOptions<T extends SecretValue<T> = string> {
  /** Aborting rejects this call only (with the signal's reason), never the shared mint. */
  signal?: AbortSignal;
  /**
   * The token the upstream just refused (HTTP 401): the answer is a newer token. While `rejected`
   * is still the cached token it is invalidated (once, however many callers bring it) and every
   * such caller waits for the one mint that replaces it; a caller whose token was already replaced
   * gets the newer one at once. `TOKEN_REFUSED` when the newest token is refused again within
   * `invalidateMinIntervalMs` of the last refusal (the issuer keeps minting tokens the upstream
   * refuses: nothing new would come of minting again so soon).
   */
  rejected?: AuthToken<T> | Secret<T> | T;
  /** With `rejected`: the claims challenge the upstream sent with its refusal (see `InvalidateOptions.claims`). */
  claims?: string;
}

/**
 * What code that sends a token needs of a provider: `currentToken()` (with `{ rejected }` after a
 * 401) and `invalidate()`. Type your code against it, not the `CredentialProvider` class: a provider
 * satisfies it, and so does what `replayScenario` (`credential-actor/testing`) hands your code.
 *
 * @example
 * ```ts
 * async function callApi(tokens: TokenSource, url: string): Promise<Response> {
 *   const token = await tokens.currentToken();
 *   return fetch(url, { headers: { authorization: `Bearer ${token.secret.reveal()}` } });
 * }
 * ```
 */
export interface TokenSource<T extends SecretValue<T> = string> {
  currentToken(options?: CurrentTokenOptions<T>): Promise<AuthToken<T>>;
  invalidate(rejected?: AuthToken<T> | Secret<T> | T, options?: InvalidateOptions): boolean;
}

/** Options of {@link CredentialProvider.invalidate}. */
export interface InvalidateOptions {
  /**
   * The claims challenge the resource sent with its refusal (the decoded `claims` of a
   * `WWW-Authenticate: Bearer error="insufficient_claims"`): the next mint gets it.
   */
  claims?: string;
}

/** A plain, secret-free summary of the provider's state. */
export interface CredentialProviderState {
  validity: 'fresh' | 'refreshDue' | 'expired';
  breaker: 'closed' | 'open' | 'halfOpen';
  flight: 'idle' | 'minting';
  expiresAt: number | null;
  refreshDueAt: number | null;
  consecutiveFailures: number;
  openUntil: number | null;
  status: 'running' | 'stopped';
}

type CredentialSnapshot = SnapshotFrom<CredentialMachine>;
type EmittedOf<T extends CredentialEmittedEvent['type']> = Extract<CredentialEmittedEvent, { type: T }>;

/**
 * Mints a first token, then returns a provider that keeps it fresh. Rejects with the mint's own
 * error (or `INVALID_TOKEN`, `MINTED_TOKEN_ALREADY_EXPIRED`, `MINT_TIMEOUT`) if that first mint
 * fails, leaving nothing running, and with `UNCONFIGURED` / `INVALID_CONFIG` for bad options.
 * With `firstMint: 'lazy'` it resolves without minting, and the first `currentToken()` mints.
 *
 * @example
 * ```ts
 * const provider = await createCredentialProvider({
 *   mint: async ({ signal }) => {
 *     const response = await fetch(tokenUrl, { method: 'POST', signal });
 *     const { access_token, expires_in } = await response.json();
 *     return { secret: access_token, expiresAt: Date.now() + expires_in * 1000 };
 *   },
 * });
 * const token = await provider.currentToken();
 * ```
 */
export function createCredentialProvider(options: CredentialProviderOptions): Promise<CredentialProvider>;
/** A secret of several named parts (an AWS key triple): `T` is inferred from what the mint returns. */
export function createCredentialProvider<T extends SecretValue<T>>(options: CredentialProviderOptions<T>): Promise<CredentialProvider<T>>;
export function createCredentialProvider<T extends SecretValue<T> = string>(options: CredentialProviderOptions<T>): Promise<CredentialProvider<T>> {
  return createCredentialProviderWith(credentialMachine, options);
}

/**
 * As {@link createCredentialProvider}, on a variant of the statechart (built from
 * `credentialMachine` with `.provide()`). A test hook, like the original's `refreshingProviderWith`:
 * it lets a test run the real provider on a deliberately broken machine. Not part of the public API.
 *
 * @internal
 * @example
 * ```ts
 * const broken = credentialMachine.provide({ guards: { failureReachesThreshold: () => false } });
 * const provider = await createCredentialProviderWith(broken, { mint, clock });
 * ```
 */
export async function createCredentialProviderWith<T extends SecretValue<T> = string>(machine: CredentialMachine, options: CredentialProviderOptions<T>): Promise<CredentialProvider<T>> {
  if (typeof options !== 'object' || options === null || typeof options.mint !== 'function') {
    throw new CredentialError('UNCONFIGURED', 'mint is required: a function ({ signal }) => Promise<{ secret, expiresAt }>');
  }
  checkOptions(options, { owner: 'createCredentialProvider', known: PROVIDER_OPTION_NAMES });
  checkExclusiveMint(options.mint as Mint<SecretValue>);
  const config = resolveRefreshConfig(options, options.clock === undefined);
  const clock = clockOption(options.clock);
  validateInspect(options.inspect);
  validateReporters(options.reporters);
  const mint = sharedMint(options, config, clock);
  const firstMint = options.firstMint ?? 'eager';
  if (firstMint !== 'eager' && firstMint !== 'lazy') {
    throw new CredentialError('INVALID_CONFIG', `createCredentialProvider: firstMint must be 'eager' or 'lazy', got ${describeShape(firstMint)}`);
  }
  const signIn = signInOf(options, config, clock);
  const provider = CredentialProvider.create<T>({
    ...options,
    mint: mint as Mint<SecretValue>,
    machine,
    clock,
    config,
    ...(signIn === undefined ? {} : { signIn }),
    reportFromSecondMint: firstMint === 'eager',
  });
  if (firstMint === 'lazy') return provider;
  try {
    // The first token comes through the statechart like every other: one mint path, one timeout.
    await provider.currentToken();
  } catch (error) {
    // listeners hear of an event in a microtask: let the failure's reach them before stopping
    await new Promise<void>((resolve) => queueMicrotask(resolve));
    await provider.stop();
    throw error;
  }
  return provider;
}

/**
 * What a credential actor is started from (a provider, or a pool's key: `startPoolKey`). It starts
 * with no token: its first `currentToken()` mints.
 */
export interface CredentialActorSetup {
  machine: CredentialMachine;
  mint: Mint<SecretValue>;
  clock: Clock;
  config: RefreshConfig;
  inspect?: CredentialProviderOptions['inspect'];
  reporters?: CredentialReporters;
  /** A pool's key counts only its own failures; a provider counts all. */
  breakerCounts?: RefreshPolicy['breakerCounts'];
  /** Whose failure a failed mint is (a pool's classifier; default `defaultClassifyFailure`). */
  classify?: (error: unknown) => MintBlame;
  /** What stands between a mint and the issuer (a pool's issuer breaker and permits). */
  gate?: MintGate;
  /** How a new sign-in's refresh token replaces the old (an exclusive mint only). */
  signIn?: (refreshToken: Secret) => Promise<void>;
  /** A pool's key waking from rest: it starts with the token it rested with (see {@link CredentialProvider.restState}). */
  resume?: KeyRest;
  /**
   * The reporters hear nothing of the first mint (`createCredentialProvider`'s eager one, which
   * seeds the cache): they observe refreshes, as the original's do, and a failed first mint fails
   * construction instead.
   */
  reportFromSecondMint?: boolean;
}

/**
 * Serves a cached credential and keeps it fresh, driven by the `credentialMachine` statechart.
 * Build one with {@link createCredentialProvider}. `T` is what its secret holds: a string, or named parts.
 */
export class CredentialProvider<T extends SecretValue<T> = string> implements TokenSource<T> {
  /**
   * The running statechart, to watch: `getSnapshot`, `subscribe` and `on` (its emitted events). Its
   * `send` and `stop` are the provider's own: `stop()` the provider instead.
   */
  readonly actor: ObservedActor<CredentialMachine>;
  readonly #actor: Actor<CredentialMachine>;
  readonly #clock: Clock;
  readonly #listeners = new Listeners<CredentialEmittedEvent>();
  /** The snapshot the two hot-path fields below were computed from. */
  #mirrored: CredentialSnapshot | null = null;
  /** Until this instant the cached token is served with no event at all (the hot path). */
  #servingUntil = -Infinity;
  #token: AuthToken<SecretValue> | null = null;
  #served!: Promise<AuthToken<T>>;
  #flight: Flight | null = null;
  /** The latest mint failure since the last success, redacted, for the `cause` of a `BREAKER_OPEN` refusal. */
  /** The emitted-event and completion subscriptions, while anyone waits or listens. */
  #listening: { unsubscribe(): void }[] | null = null;
  /** A claims challenge from `invalidate(token, { claims })`, given to each mint until one with it lands. */
  #claims: string | undefined = undefined;
  /** Replaces the refresh token with a new sign-in's (an exclusive mint's holder: its coordination, or the mint alone); `null` for other mints. */
  readonly #signIn: ((refreshToken: Secret) => Promise<void>) | null;
  /** Why the provider stopped (`stop()`, `actor.stop()`, or the statechart failing); `null` while it runs. */
  #stoppedBy: CredentialError | null = null;
  /**
   * Above 0 while the inspection observer runs: XState calls it in the middle of a transition,
   * when the snapshot is the one before it and an event sent would only be queued. A call made
   * from there is answered from that consistent snapshot or deferred until the transition is over.
   */
  #midTransition = 0;
  /** Reporters that start hearing once the first mint settled (see `reportFromSecondMint`). */
  #pendingReporters: CredentialReporters | undefined = undefined;

  /** @internal Use {@link createCredentialProvider}. */
  static create<T extends SecretValue<T>>(setup: CredentialActorSetup): CredentialProvider<T> {
    return new CredentialProvider<T>(setup);
  }

  /** Use {@link createCredentialProvider} (a pool's key: its own factory). */
  protected constructor(setup: CredentialActorSetup) {
    const { clock, config } = setup;
    this.#clock = clock;
    this.#signIn = setup.signIn ?? null;
    this.#actor = createCredentialActor(setup.machine, {
      // no token yet: the placeholder counts as refused, is never served, and the first request mints
      input:
        setup.resume === undefined
          ? { policy: policyOf(config, setup.breakerCounts), token: UNMINTED, issuedAt: clock.now(), jitter: 0, unminted: true }
          : { policy: policyOf(config, setup.breakerCounts), token: setup.resume.token, issuedAt: setup.resume.issuedAt, jitter: 0, resumed: setup.resume },
      clock,
      attempt: {
        mint: setup.mint,
        clock,
        jitter: config.jitter,
        classify: setup.classify ?? defaultClassifyFailure,
        mintTimeoutMs: config.mintTimeoutMs,
        claims: {
          pending: () => this.#claims,
          met: (claims) => {
            if (this.#claims === claims) this.#claims = undefined;
          },
        },
        ...(setup.gate === undefined ? {} : { gate: setup.gate }),
      },
      ...(setup.inspect === undefined ? {} : { inspect: this.#observeMidTransition(redactedInspection(setup.inspect)) }),
    });
    if (setup.reportFromSecondMint === true) this.#pendingReporters = setup.reporters;
    else this.#subscribeReporters(setup.reporters);
    // Only the error channel (about 0.8 KB): were the statechart itself to fail, XState would rethrow
    // the error globally without an observer; with one, callers get STOPPED and the host lives on.
    // A direct `provider.actor.stop()` is noticed from the snapshot (see `#mirror`), and pushed to
    // waiters by the `complete` observer that `#listen` adds once anyone waits or listens.
    this.#actor.subscribe({ error: (error) => this.#halt(error) });
    this.#actor.start();
    this.actor = this.#actor;
    this.#mirror(this.#actor.getSnapshot());
    // a woken key serves the very promise it served before it rested
    if (setup.resume !== undefined && this.#token === setup.resume.token) this.#served = setup.resume.served as Promise<AuthToken<T>>;
  }

  /**
   * The current token. A fresh token is returned at once (the same resolved promise for every
   * caller of that token). A token past its refresh instant is still returned at once while one
   * background refresh starts. An expired token waits for the single mint in flight, or starts
   * one if the breaker admits it, or rejects with `BREAKER_OPEN`.
   *
   * @example
   * ```ts
   * const token = await provider.currentToken({ signal: AbortSignal.timeout(2_000) });
   * request.headers.set('authorization', `Bearer ${token.secret.reveal()}`);
   * ```
   */
  currentToken(options?: CurrentTokenOptions<T>): Promise<AuthToken<T>> {
    let signal: AbortSignal | undefined;
    let rejected: AuthToken<T> | Secret<T> | T | undefined;
    try {
      signal = options?.signal;
      rejected = options?.rejected;
    } catch (error) {
      return unreadableOptions(error);
    }
    if (signal !== undefined && !isLiveSignal(signal)) return refusedSignal(signal);
    if (rejected !== undefined) return this.#replacing(rejected, options!, signal);
    const snapshot = this.#actor.getSnapshot();
    if (snapshot !== this.#mirrored) this.#mirror(snapshot);
    const now = this.#clock.now();
    if (now < this.#servingUntil) return this.#served;
    if (this.#midTransition > 0) return this.#afterTransition(() => this.currentToken(options));
    return this.#serveSlowly(now, signal);
  }

  /**
   * Marks the cached token unusable after the upstream refused it (HTTP 401), so the next call
   * mints. Pass the token you used: if the provider has cached another since, nothing happens.
   * Repeated calls for one token coalesce, and calls closer than `invalidateMinIntervalMs` to the
   * last accepted one are ignored. Returns whether this call invalidated the token.
   *
   * With `claims` (a Continuous Access Evaluation challenge from the 401's `WWW-Authenticate`), an
   * accepted invalidation also hands the challenge to the mint (`MintContext.claims`) until a token
   * minted with it lands: one mint with the claims, however many callers saw the challenge.
   *
   * @example
   * ```ts
   * if (response.status === 401 && provider.invalidate(token)) return retryOnce();
   * ```
   */
  invalidate(rejected?: AuthToken<T> | Secret<T> | T, options?: InvalidateOptions): boolean {
    const claims = claimsOption(options);
    const before = this.#snapshot().context;
    if (this.#stoppedBy !== null) return false;
    if (rejected !== undefined && !isSameToken(before.token, rejected)) return false;
    const now = this.#clock.now();
    if (this.#midTransition > 0) {
      // Bound to the token cached now, so that a token cached by the transition under way is never the one dropped.
      const target = before.token;
      void this.#afterTransition(() => this.invalidate(target as AuthToken<T>, options));
      return invalidationAllowedAt(before, now);
    }
    this.#actor.send({ type: 'token.invalidated', now });
    const accepted = this.#actor.getSnapshot().context !== before;
    if (accepted && claims !== undefined) this.#claims = claims;
    return accepted;
  }

  /**
   * Hands the provider a new sign-in's refresh token (its mint is a rotating refresh-token grant,
   * `refreshTokenMint`): it replaces the old token family for this provider and, through its
   * coordination, for every process or tab sharing it, in whatever state the old one was (revoked,
   * in doubt, in use); the cached access token, the old session's, is dropped, so the next
   * `currentToken()` mints with the new refresh token. Resolves once the new family is written
   * where the other holders see it. `UNCONFIGURED` for a mint that holds no refresh token.
   *
   * @example
   * ```ts
   * // after REFRESH_TOKEN_UNUSABLE, the user signed in again
   * await provider.signIn(tokensFromSignIn.refresh_token);
   * ```
   */
  async signIn(refreshToken: string | Secret): Promise<void> {
    if (this.#signIn === null) throw new CredentialError('UNCONFIGURED', 'signIn needs a mint that holds a refresh token (refreshTokenMint)');
    if (this.#stoppedBy !== null) throw this.#stoppedBy;
    const secret = refreshToken instanceof Secret ? refreshToken : typeof refreshToken === 'string' && refreshToken.length > 0 ? new Secret(refreshToken) : null;
    if (secret === null || typeof secret.reveal() !== 'string' || secret.reveal().length === 0) {
      throw new CredentialError('INVALID_ARGUMENT', `signIn: refreshToken must be a non-empty string or Secret, got ${describeShape(refreshToken)}`);
    }
    await this.#signIn(secret as Secret);
    if (this.#stoppedBy !== null) return;
    if (this.#midTransition > 0) await this.#afterTransition(() => {});
    this.#actor.send({ type: 'token.invalidated', now: this.#clock.now(), force: true });
  }

  /**
   * Listens to an emitted event: `refresh.succeeded`, `refresh.failed` or `breaker.changed`.
   * Returns the function that stops listening. A throwing listener is ignored.
   *
   * @example
   * ```ts
   * const off = provider.on('breaker.changed', ({ from, to }) => log.warn(`breaker ${from} -> ${to}`));
   * ```
   */
  on<T extends CredentialEmittedEvent['type']>(type: T, listener: (event: EmittedOf<T>) => void): () => void {
    this.#listen();
    return this.#listeners.add(type, listener as (event: CredentialEmittedEvent) => void);
  }

  /**
   * Stops the statechart, aborts a mint in flight, clears every timer and rejects pending and
   * later calls with `STOPPED`. Idempotent.
   *
   * @example
   * ```ts
   * process.on('SIGTERM', () => provider.stop());
   * ```
   */
  async stop(): Promise<void> {
    this.#halt(stoppedError());
  }

  /**
   * `await using provider = await createCredentialProvider(...)` stops it at the end of the scope.
   *
   * @example
   * ```ts
   * await using provider = await createCredentialProvider({ mint });
   * ```
   */
  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }

  /**
   * A plain summary of the state, without the secret.
   *
   * @example
   * ```ts
   * console.log(JSON.stringify(provider)); // {"validity":"fresh","breaker":"closed",...}
   * ```
   */
  toJSON(): CredentialProviderState {
    const { value, context } = this.#snapshot();
    return {
      validity: value.validity,
      breaker: value.breaker,
      flight: value.flight,
      expiresAt: context.token.expiresAt,
      // whole milliseconds, like every other instant here (jitter makes the statechart's fractional)
      refreshDueAt: context.refreshDueAt === null ? null : Math.floor(context.refreshDueAt),
      consecutiveFailures: context.consecutiveFailures,
      openUntil: context.openUntil,
      status: this.#stoppedBy === null ? 'running' : 'stopped',
    };
  }

  /** Node's `util.inspect` shows the summary, not the whole actor system behind `actor`. */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `CredentialProvider ${JSON.stringify(this.toJSON())}`;
  }

  /**
   * @internal A pool's key may rest (its actor stopped, its state kept as this record) when nothing
   * is happening and nothing is due: a fresh token before its refresh instant, the breaker closed with
   * no failure, no mint, no retry, no waiter, no claims challenge. `null` otherwise. Its listeners and reporters are not in
   * the record: the pool attaches them again when the key wakes.
   */
  restState(): KeyRest | null {
    if (this.#stoppedBy !== null || this.#flight !== null || this.#claims !== undefined || this.#midTransition > 0 || this.#pendingReporters !== undefined) return null;
    const { value, context } = this.#snapshot();
    if (value.validity !== 'fresh' || value.breaker !== 'closed' || value.flight !== 'idle') return null;
    if (context.consecutiveFailures !== 0 || context.tokenRejected || context.retryAt !== null || context.lastFailure !== null) return null;
    // nothing due: a key woken at its refresh instant stays awake for the refresh its timer is about to start
    if (this.#clock.now() >= this.#servingUntil) return null;
    return {
      token: context.token,
      served: this.#served as Promise<AuthToken<SecretValue>>,
      servingUntil: this.#servingUntil,
      issuedAt: context.issuedAt,
      refreshDueAt: context.refreshDueAt,
      lastInvalidatedAt: context.lastInvalidatedAt,
    };
  }

  /** `currentToken({ rejected })`: a token newer than `rejected`, with one mint for every caller that brings it. */
  #replacing(rejected: AuthToken<T> | Secret<T> | T, options: CurrentTokenOptions<T>, signal: AbortSignal | undefined): Promise<AuthToken<T>> {
    let claims: string | undefined;
    try {
      claims = claimsOption(options, 'currentToken');
    } catch (error) {
      return Promise.reject(error);
    }
    const now = this.#clock.now();
    const { context } = this.#snapshot();
    // still the cached token, and still served: it is the one to replace (else it was already replaced, or is being)
    if (this.#stoppedBy === null && !isTokenUnusableAt(context, now) && isSameToken(context.token, rejected)) {
      if (!this.invalidate(rejected, claims === undefined ? undefined : { claims })) {
        return Promise.reject(
          new CredentialError(
            'TOKEN_REFUSED',
            `the upstream refused the newest token within invalidateMinIntervalMs (${context.policy.invalidateMinIntervalMs} ms) of the last refusal: not minting again so soon (does the issuer mint tokens for this upstream: audience, scopes?)`,
          ),
        );
      }
    }
    return this.currentToken(signal === undefined ? undefined : { signal });
  }

  #serveSlowly(now: number, signal: AbortSignal | undefined): Promise<AuthToken<T>> {
    if (this.#actor.getSnapshot().value.flight === 'idle' && this.#stoppedBy === null) this.#actor.send({ type: 'token.requested', now });
    if (this.#stoppedBy !== null) return Promise.reject(this.#stoppedBy);
    const { value, context } = this.#actor.getSnapshot();
    if (!isTokenUnusableAt(context, now)) return this.#served;
    if (value.flight === 'minting') return this.#flightFor(context).join(signal) as Promise<AuthToken<T>>;
    return Promise.reject(new BreakerOpenError({ scope: 'credential', openUntil: context.openUntil, reason: context.openReason ?? 'failures', now, lastFailure: context.lastFailure }));
  }

  /** Runs `call` once the transition under way is over (a microtask later: transitions are synchronous). */
  #afterTransition<T>(call: () => T): Promise<Awaited<T>> {
    return Promise.resolve().then(call) as Promise<Awaited<T>>;
  }

  /** Marks the inspection observer's calls as made mid-transition (see {@link CredentialProvider.#midTransition}). */
  #observeMidTransition(observer: Observer<InspectionEvent>): Observer<InspectionEvent> {
    return {
      ...observer,
      next: (event) => {
        this.#midTransition++;
        try {
          observer.next?.(event);
        } finally {
          this.#midTransition--;
        }
      },
    };
  }

  #flightFor(context: CredentialContext): Flight {
    this.#listen();
    if (this.#flight === null || this.#flight.attempt !== context.attempt) {
      this.#flight = new Flight(context.attempt, (flight) => this.#abandon(flight));
    }
    return this.#flight;
  }

  #abandon(flight: Flight): void {
    if (this.#stoppedBy !== null || flight !== this.#flight) return;
    this.#actor.send({ type: 'mint.abandoned', attempt: flight.attempt });
    if (this.#actor.getSnapshot().value.flight === 'idle') this.#flight = null;
    this.#quietDown();
  }

  /**
   * Listens to the statechart's emitted events, from the first waiter, listener or reporter on:
   * an idle provider nobody listens to carries no listener at all.
   */
  #listen(): void {
    if (this.#listening !== null) return;
    this.#listening = [this.#actor.on('*', (event) => this.#onEmitted(event)), this.#actor.subscribe({ complete: () => this.#halt(stoppedError()) })];
  }

  /**
   * Drops those subscriptions again once nobody waits and nobody listens (about 2 KB a provider):
   * a pool's key has waiters on its first mint, and then, like most providers, none for an hour.
   */
  #quietDown(): void {
    if (this.#listening === null || this.#flight !== null || !this.#listeners.empty) return;
    for (const subscription of this.#listening) subscription.unsubscribe();
    this.#listening = null;
  }

  /** The actor's snapshot, with the hot path's fields brought in step with it. */
  #snapshot(): CredentialSnapshot {
    const snapshot = this.#actor.getSnapshot();
    if (snapshot !== this.#mirrored) this.#mirror(snapshot);
    return snapshot;
  }

  /** Brings the hot path's fields in step with a new snapshot (checked on each call, not pushed: no subscription to pay for). */
  #mirror(snapshot: CredentialSnapshot): void {
    this.#mirrored = snapshot;
    // stopped behind our back (`provider.actor.stop()`): behave as after `stop()`
    if (snapshot.status !== 'active' && this.#stoppedBy === null) this.#halt(stoppedError());
    const { context } = snapshot;
    if (context.token !== this.#token) {
      this.#token = context.token;
      this.#served = Promise.resolve(context.token as AuthToken<T>);
    }
    this.#servingUntil = this.#stoppedBy === null ? quietUntil(context, snapshot.value.flight === 'minting') : -Infinity;
  }

  #onEmitted(event: CredentialEmittedEvent): void {
    if (event.type === 'refresh.succeeded') {
      this.#settleFlight((flight) => flight.resolve(this.#actor.getSnapshot().context.token));
    }
    if (event.type === 'refresh.failed') {
      this.#settleFlight((flight) => flight.reject(event.error));
    }
    this.#listeners.notify(event);
    if (this.#pendingReporters !== undefined && (event.type === 'refresh.succeeded' || event.type === 'refresh.failed')) {
      // the first mint has settled, unreported: the reporters hear from the next one on
      const reporters = this.#pendingReporters;
      this.#pendingReporters = undefined;
      this.#subscribeReporters(reporters);
    }
    this.#quietDown();
    // A settled mint changed the snapshot: mirror it now, so the one before (context, value, the
    // placeholder token of a pool's key) is not kept alive until the next request, perhaps an hour on.
    if (this.#stoppedBy === null) this.#mirror(this.#actor.getSnapshot());
  }

  #settleFlight(settle: (flight: Flight) => void): void {
    const flight = this.#flight;
    this.#flight = null;
    if (flight !== null) settle(flight);
  }

  #subscribeReporters(reporters: CredentialReporters | undefined): void {
    const listeners = reporterListeners(reporters);
    if (listeners.length > 0) this.#listen();
    for (const [type, listener] of listeners) this.#listeners.add(type, listener);
  }

  /** Stops for good: on `stop()`, or if the statechart itself failed (then `STOPPED` carries that error as its cause). */
  #halt(reason: unknown): void {
    if (this.#stoppedBy !== null) return;
    const stopped = reason instanceof CredentialError ? reason : stoppedError(reason);
    this.#stoppedBy = stopped;
    this.#servingUntil = -Infinity;
    this.#actor.stop();
    this.#settleFlight((flight) => flight.reject(stopped));
    this.#listeners.clear();
  }
}

/**
 * What a resting pool key keeps of its credential actor (see {@link CredentialProvider.restState}):
 * the token as it is served, and what the statechart needs to resume exactly where it was.
 */
export interface KeyRest {
  readonly token: AuthToken<SecretValue>;
  /** The promise every caller of this token gets. */
  readonly served: Promise<AuthToken<SecretValue>>;
  /** Before this instant a request changes nothing (`quietUntil`): the token is served from the record. */
  readonly servingUntil: number;
  readonly issuedAt: number;
  readonly refreshDueAt: number | null;
  readonly lastInvalidatedAt: number | null;
}

/** Every option `createCredentialProvider` knows; any other key is a typo, refused at construction. */
const PROVIDER_OPTION_NAMES: readonly string[] = ['mint', 'clock', 'inspect', 'reporters', 'coordination', 'sharedKey', 'firstMint', ...POLICY_OPTION_NAMES];

/** Never served: the placeholder a credential actor holds until its first mint lands. */
const UNMINTED: AuthToken<SecretValue> = Object.freeze({ secret: new Secret('unminted'), expiresAt: null });

/** `currentToken(options)` whose `options` threw when read (a getter, a Proxy): refused as a promise, like any bad argument. */
export function unreadableOptions(error: unknown): Promise<never> {
  return Promise.reject(new CredentialError('INVALID_ARGUMENT', 'the options of currentToken() threw when read', { cause: error }));
}

/**
 * A `signal` option that is already aborted (its reason), or is no `AbortSignal` at all
 * (`INVALID_ARGUMENT`): refused before anything is admitted, on every path alike.
 */
export function refusedSignal(signal: unknown): Promise<never> {
  try {
    if (isAbortSignal(signal) && signal.aborted) return Promise.reject(signal.reason);
  } catch (error) {
    return Promise.reject(new CredentialError('INVALID_ARGUMENT', 'signal threw when read (its aborted or reason)', { cause: error }));
  }
  return Promise.reject(new CredentialError('INVALID_ARGUMENT', `signal must be an AbortSignal, got ${describeShape(signal)}`));
}

/** The mint the provider runs: the user's, or the user's shared through `coordination` under `sharedKey`. */
function sharedMint<T extends SecretValue<T>>(options: CredentialProviderOptions<T>, config: RefreshConfig, clock: Clock): Mint<T> {
  const { coordination, sharedKey } = options;
  if (coordination === undefined) {
    if (sharedKey !== undefined) throw new CredentialError('INVALID_CONFIG', 'sharedKey is only used with coordination');
    return options.mint;
  }
  if (!isCoordination(coordination)) throw new CredentialError('INVALID_CONFIG', `coordination must have share(), got ${describeShape(coordination)}`);
  if (isKeyBoundMint(options.mint)) {
    // its tokens are bound to a key that never leaves this process: another process could not use them
    throw new CredentialError(
      'INVALID_CONFIG',
      'the mint makes DPoP-bound tokens, bound to a key only this process holds; they cannot be shared: give each process (or tab) its own provider without coordination',
    );
  }
  if (typeof sharedKey !== 'string' || sharedKey.length === 0) {
    throw new CredentialError('INVALID_CONFIG', `coordination needs sharedKey, a non-empty string naming this credential across the fleet, got ${describeShape(sharedKey)}`);
  }
  return coordination.share(sharedKey, options.mint, sharedMintPolicy(config, clock));
}

/** How `signIn()` replaces an exclusive mint's refresh token: through the coordination (every process or tab), or the mint's own holder. */
function signInOf<T extends SecretValue<T>>(options: CredentialProviderOptions<T>, config: RefreshConfig, clock: Clock): ((refreshToken: Secret) => Promise<void>) | undefined {
  const { mint, coordination, sharedKey } = options;
  if (!isExclusiveMint(mint)) return undefined;
  const exclusive = mint as unknown as ExclusiveMint<SecretValue>;
  if (coordination?.signIn === undefined || sharedKey === undefined) return (refreshToken) => exclusive.signIn(refreshToken);
  const policy = sharedMintPolicy(config, clock);
  return (refreshToken) => coordination.signIn!(sharedKey, exclusive, refreshToken, policy);
}

/** What a shared mint needs of the provider's policy. */
export function sharedMintPolicy(config: RefreshConfig, clock: Clock): SharedMintPolicy {
  return {
    now: () => clock.now(),
    clock,
    breakerThreshold: config.breakerThreshold,
    breakerCooldownMs: config.breakerCooldownMs,
    maxRetryAfterMs: config.maxRetryAfterMs,
    mintTimeoutMs: config.mintTimeoutMs,
  };
}

/** Throws `INVALID_CONFIG` unless `inspect` is absent, a function, or an observer with `next()`. */
export function validateInspect(inspect: unknown): void {
  if (inspect === undefined || typeof inspect === 'function') return;
  if (typeof inspect === 'object' && inspect !== null && typeof (inspect as { next?: unknown }).next === 'function') return;
  throw new CredentialError('INVALID_CONFIG', `inspect must be a function or an observer with next(), got ${describeShape(inspect)}`);
}

/** Whether `rejected` (whatever a caller passed) names the cached token; anything else is not it. */
function isSameToken(cached: AuthToken<SecretValue>, rejected: unknown): boolean {
  if (cached === rejected) return true;
  if (typeof rejected !== 'object' || rejected === null || rejected instanceof Secret) return cached.secret.equals(rejected as SecretValue);
  // a token ({ secret, ... }), or a secret's parts themselves (which never name a part `secret`)
  const { secret } = rejected as { secret?: unknown };
  return cached.secret.equals((secret === undefined ? rejected : secret) as SecretValue);
}

/** `invalidate`'s `claims`, checked: a mistake there must not pass silently (nor print the value: claims can name the user). */
function claimsOption(options: InvalidateOptions | undefined, caller = 'invalidate'): string | undefined {
  const { claims } = options ?? {};
  if (claims === undefined || (typeof claims === 'string' && claims.length > 0)) return claims;
  throw new CredentialError('INVALID_ARGUMENT', `${caller}: claims must be a non-empty string, got ${describeShape(claims)}`);
}

function stoppedError(cause?: unknown): CredentialError {
  return new CredentialError('STOPPED', 'the credential provider was stopped', cause === undefined ? undefined : { cause });
}
