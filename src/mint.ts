import type { MintOutput, SharedMintPhase } from '../machines/credential.types.js';
import { CredentialError, mintTimeoutError } from '../machines/credential-error.js';
import { MintFailure, type MintBlame } from '../machines/mint-failure.js';
import { untilAborted } from './abort-signals.js';
import { toAuthToken, type MintedToken, type SecretValue } from './auth-token.js';
import type { Clock } from './clock.js';
import { readThrown, summaryOf } from '../machines/thrown.js';
import { Secret } from '../machines/secret.js';
import type { RefreshTokenGrant } from './refresh-token-grant.js';

/**
 * Fetches a new token. `signal` aborts when the provider gives up on this attempt (timeout,
 * every waiting caller aborted, or `stop()`): pass it to `fetch` so the request stops too.
 * `phase` is for a mint shared across processes (a `coordination`): it tells the statechart
 * where the shared mint is, so the inspector and the model-based tests see it. A plain mint ignores it.
 */
export type Mint<T extends SecretValue<T> = string> = (context: MintContext) => Promise<MintedToken<T>>;

/** What a {@link Mint} is given. */
export interface MintContext {
  readonly signal: AbortSignal;
  readonly phase?: (phase: SharedMintPhase) => void;
  /**
   * Say what the mint is doing now, in a few words a reader can act on (`'token request to
   * https://login.example.com/oauth/token'`): if the attempt times out, its `MINT_TIMEOUT` message
   * names the last step said. The OAuth mints say each request they make. Optional to call; the
   * URL is the caller's to keep free of secrets.
   */
  readonly step?: (doing: string) => void;
  /**
   * For an exclusive mint (a rotating refresh-token grant) only: the refresh token to send, from the
   * record its holder keeps (a process alone, a fleet's lease holder, the tab holding the lock), and
   * where to say what became of it. See {@link RefreshTokenGrant}.
   */
  readonly grant?: RefreshTokenGrant;
  /**
   * A claims challenge the next token must satisfy (Continuous Access Evaluation: the resource
   * refused the token with `WWW-Authenticate: Bearer ... claims="..."`), as the caller passed it to
   * `invalidate(token, { claims })`: send it to the issuer (`clientCredentialsMint` sends it as the
   * `claims` parameter). Given to every attempt until one with it succeeds; absent otherwise.
   */
  readonly claims?: string;
}

/**
 * A mint whose tokens are bound to a key only this process (or tab) holds: a DPoP key, made
 * non-extractable. Another process could not use such a token, so a provider refuses to share it
 * through a coordination: each process mints its own.
 */
export interface KeyBoundMint<T extends SecretValue<T> = string> extends Mint<T> {
  readonly keyBound: true;
}

/** Whether `mint` makes tokens bound to a key of this process (a DPoP mint). */
export function isKeyBoundMint<T extends SecretValue<T>>(mint: Mint<T>): mint is KeyBoundMint<T> {
  return (mint as { keyBound?: unknown }).keyBound === true;
}

/**
 * A mint that must never run twice with the same refresh token (a rotating refresh-token grant, as
 * `refreshTokenMint` builds): whoever holds the refresh token's record (a process alone, a fleet's
 * lease holder, the tab holding the lock) hands it a {@link RefreshTokenGrant}, marks the record
 * `granting` where every holder sees it before the grant is sent, and writes what became of it.
 */
export interface ExclusiveMint<T extends SecretValue<T> = string> extends Mint<T> {
  readonly exclusive: true;
  /** The refresh token the app was configured with (a sign-in's): grants start from it where no holder knows a newer one. */
  readonly configuredRefreshToken: Secret;
  /**
   * When this holder was handed `configuredRefreshToken` (ms, on the clock its provider runs on): a
   * family signed in after it is never replaced by the configured refresh token, which came before it.
   */
  readonly configuredAt: number;
  /** How long a grant that was sent may take to answer (ms); past it, its refresh token is in doubt. */
  readonly grantTimeoutMs: number;
  /** The issuer's refresh-token reuse interval (ms; 0: none): within it, a refresh token in doubt may be sent again. */
  readonly reuseIntervalMs: number;
  /**
   * Alone (no coordination): replaces the refresh token with a new sign-in's. A provider's
   * `signIn()` calls it, or its coordination's, which replaces it for every process or tab.
   */
  signIn(refreshToken: string | Secret): Promise<void>;
}

/**
 * Throws `INVALID_CONFIG` for a mint marked `exclusive` that does not carry what its holders need (a
 * wrapper that copied the mark and nothing else): `Object.assign(wrapper, { exclusive,
 * configuredRefreshToken, configuredAt, grantTimeoutMs, reuseIntervalMs, signIn })` from the mint it wraps.
 */
export function checkExclusiveMint(mint: Mint<SecretValue>): void {
  if (!isExclusiveMint(mint)) return;
  const { configuredRefreshToken, configuredAt, grantTimeoutMs, reuseIntervalMs, signIn } = mint as Partial<ExclusiveMint<SecretValue>>;
  const complete =
    configuredRefreshToken instanceof Secret &&
    Number.isFinite(configuredAt) &&
    typeof grantTimeoutMs === 'number' &&
    grantTimeoutMs > 0 &&
    typeof reuseIntervalMs === 'number' &&
    reuseIntervalMs >= 0 &&
    typeof signIn === 'function';
  if (!complete) {
    throw new CredentialError(
      'INVALID_CONFIG',
      'mint is marked exclusive but lacks configuredRefreshToken, configuredAt, grantTimeoutMs, reuseIntervalMs or signIn: a wrapper of refreshTokenMint must copy them from the mint it wraps',
    );
  }
}

/** Whether `mint` is an {@link ExclusiveMint}. */
export function isExclusiveMint<T extends SecretValue<T>>(mint: Mint<T>): mint is ExclusiveMint<T> {
  return (mint as { exclusive?: unknown }).exclusive === true;
}

/**
 * What stands between an attempt and the issuer: a pool's issuer breaker and its cap on mints in
 * flight. `enter` is asked when the attempt starts and decides at the moment the mint would start
 * (after any wait for a permit); it resolves with the pass that hears the outcome, or rejects with a
 * {@link MintFailure} blamed on `'nobody'` (the issuer was not asked) or with the signal's reason.
 */
export interface MintGate {
  enter(signal: AbortSignal): Promise<MintPass>;
}

/** An attempt let through a {@link MintGate}: told its outcome exactly once. */
export interface MintPass {
  /**
   * `'answered'`: the issuer answered (a token, or a refusal of this key); `'abandoned'`: the attempt
   * was given up before the deadline (callers left, the key stopped); a {@link MintFailure}: it
   * failed, classified once (a timeout is the issuer's, dated at its deadline).
   */
  settle(outcome: 'answered' | 'abandoned' | MintFailure): void;
}

/** What one mint attempt runs with: the same for a provider, every pool key and under a coordination. */
export interface MintAttemptSetup {
  readonly mint: Mint<SecretValue>;
  readonly clock: Clock;
  /** Sampled once per token. */
  readonly jitter: () => number;
  /** Whose failure a failed mint is (called once per failure; a throwing classifier blames the issuer). */
  readonly classify: (error: unknown) => MintBlame;
  /** The statechart times the attempt out this long after it started; the gate hears of it as the issuer's failure. */
  readonly mintTimeoutMs: number;
  /** A pool's gate; none for a provider alone. */
  readonly gate?: MintGate;
  /** The claims challenge the next token must satisfy, if any (see {@link MintContext.claims}). */
  readonly claims?: ClaimsChallenge;
}

/** Where a credential actor keeps a claims challenge until a token minted with it lands. */
export interface ClaimsChallenge {
  /** The challenge the next attempt carries, or `undefined`. */
  pending(): string | undefined;
  /** An attempt that carried `claims` landed a token: that challenge is met. */
  met(claims: string): void;
}

/**
 * One mint attempt, the only one in the library: through the gate (if any), the user's mint raced
 * against the attempt's signal, its failure classified once, its token checked; the gate told the
 * outcome. The statechart's `mint` actor runs it for a provider and for every pool key alike, and a
 * coordination's shared mint runs inside it. A failure rejects as a {@link MintFailure} dated by the
 * clock (a mint wrapper that already made one, such as a coordination's refusal, is passed on as it
 * is); a given-up attempt rejects with the signal's reason, which the stopped actor ignores.
 *
 * Timeouts are the statechart's (`mintTimeout`, from the attempt's start: time queued for a pool's
 * permit counts against it), so a provider and a pool key date a late one alike, at its deadline.
 *
 * @example
 * ```ts
 * const { token } = await runMint({ mint, clock: systemClock, jitter: () => 0, classify: () => 'issuer', mintTimeoutMs: 30_000 }, { signal, startedAt: Date.now() });
 * ```
 */
export async function runMint(
  setup: MintAttemptSetup,
  run: { readonly signal: AbortSignal; readonly startedAt: number; readonly phase?: (phase: SharedMintPhase) => void; readonly step?: (doing: string) => void },
): Promise<MintOutput> {
  const { clock, gate } = setup;
  const { signal } = run;
  const pass = gate === undefined ? null : await gate.enter(signal);
  const deadline = run.startedAt + setup.mintTimeoutMs;
  if (pass !== null && clock.now() >= deadline) {
    // its deadline passed while it queued: the statechart is about to time it out, the issuer is not asked.
    pass.settle('abandoned');
    throw new MintFailure(mintTimeoutError(setup.mintTimeoutMs), deadline, { blame: 'nobody' });
  }
  let minted: unknown;
  const claims = setup.claims?.pending();
  try {
    const context: { -readonly [K in keyof MintContext]: MintContext[K] } = { signal };
    if (run.phase !== undefined) context.phase = run.phase;
    if (run.step !== undefined) context.step = run.step;
    if (claims !== undefined) context.claims = claims;
    minted = await untilAborted(setup.mint(context), signal);
  } catch (error) {
    if (signal.aborted) {
      // Given up: the statechart timed the attempt out, or every caller left, or it was stopped.
      // Only the first is the issuer's doing; it is told apart by the deadline having passed.
      pass?.settle(clock.now() >= deadline ? new MintFailure(mintTimeoutError(setup.mintTimeoutMs), deadline, { blame: 'issuer' }) : 'abandoned');
      throw error;
    }
    const failure = isMintFailure(error) ? error : failureOf(error, clock.now(), setup.classify);
    pass?.settle(failure);
    throw failure;
  }
  const settledAt = clock.now();
  pass?.settle('answered');
  try {
    const token = toAuthToken(minted, settledAt);
    if (claims !== undefined) setup.claims?.met(claims);
    return { token, settledAt, jitter: sampleJitter(setup.jitter) };
  } catch (error) {
    // the issuer answered, with something unusable for this key
    throw new MintFailure(error, settledAt, { blame: 'key' });
  }
}

/**
 * What the user's mint threw, as a failure: its facts read once, defensively (`readThrown`), so
 * no thrown value (a Proxy, a throwing getter, a string) can crash the host or strand a caller.
 * Refused before the issuer was asked, or a refresh token the issuer refused for good: nobody's
 * failure, which no breaker counts.
 */
function failureOf(error: unknown, failedAt: number, classify: (error: unknown) => MintBlame): MintFailure {
  const facts = readThrown(error);
  const blame = facts.issuerNotAsked || (facts.credentialError && facts.code === 'REFRESH_TOKEN_UNUSABLE') ? 'nobody' : blameOf(classify, error);
  return new MintFailure(error, failedAt, { blame, retryAfterMs: facts.retryAfterMs, summary: summaryOf(facts) });
}

/** Whether `error` is a failure a mint wrapper already made (a coordination's refusal): passed on as it is. */
function isMintFailure(error: unknown): error is MintFailure {
  try {
    return error instanceof MintFailure;
  } catch {
    return false; // a Proxy whose getPrototypeOf throws
  }
}

/**
 * Whether a mint's error says it refused before asking the issuer (`issuerNotAsked: true`, as
 * `refreshTokenMint` marks a refresh token it will not send): nobody's failure, which no breaker
 * counts, so callers hear the error itself rather than a `BREAKER_OPEN`.
 *
 * @example
 * ```ts
 * throw Object.assign(new Error('no refresh token: sign in'), { issuerNotAsked: true });
 * ```
 */
export function isIssuerNotAsked(error: unknown): boolean {
  return readThrown(error).issuerNotAsked;
}

/** A classifier that throws, or answers anything but `'key'`, blames the issuer (the safer guess). */
function blameOf(classify: (error: unknown) => MintBlame, error: unknown): MintBlame {
  try {
    return classify(error) === 'key' ? 'key' : 'issuer';
  } catch {
    return 'issuer';
  }
}

/** A throwing or non-numeric jitter source counts as no jitter; out-of-range samples are clamped later. */
function sampleJitter(jitter: () => number): number {
  try {
    const sample = jitter();
    return typeof sample === 'number' ? sample : 0;
  } catch {
    return 0;
  }
}
