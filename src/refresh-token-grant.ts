import { CredentialError, isCredentialError, mintTimeoutError } from '../machines/credential-error.js';
import { familyRecord, grantDecision, isNewerRecord, nextRecord, startingRecord, type ConfiguredRecord, type GrantDecision } from '../machines/refresh-token.js';
import type { GrantRefusal, RefreshTokenEvent, RefreshTokenRecord } from '../machines/refresh-token.types.js';
import { Secret, type SecretValue } from '../machines/secret.js';
import { familyOf } from './refresh-token-record.js';

export { familyOf, fromPlainRecord, legacyVersionOf, toPlainRecord, versionOf, type PlainRecord } from './refresh-token-record.js';
import { untilAborted, onAbort } from './abort-signals.js';
import type { MintedToken } from './auth-token.js';
import { afterPendingIo, armTimer, disarmTimer, type Clock } from './clock.js';
import type { ExclusiveMint } from './mint.js';

/**
 * What an exclusive mint (a rotating refresh-token grant) is handed by whoever holds the refresh
 * token's record (a process alone, a fleet's lease holder, the tab holding the lock): the refresh
 * token to send, and where to say, as soon as it is known, what became of it. A mint that resolves
 * without saying anything reports an answer that kept the refresh token; one that rejects without
 * saying anything reports the grant lost (the refresh token is then in doubt: never sent again).
 */
export interface RefreshTokenGrant {
  /** The refresh token to send: the record holds it as `granting` from now on. */
  readonly refreshToken: Secret;
  /** The refresh token's family (one per sign-in) and generation (grants answered in it), for events. */
  readonly family: string;
  readonly generation: number;
  /**
   * The refresh token was not spent: the request never left this process (a refused connection,
   * offline, given up before sending), or the issuer answered with an error that did not take it
   * (a 5xx, a 429, `invalid_client`: anything but a new refresh token or `invalid_grant`).
   */
  unspent(): void;
  /** The issuer answered with a new refresh token: kept whatever becomes of the rest of the answer. */
  rotated(next: string | Secret): void;
  /** The issuer refused the refresh token itself (`invalid_grant`): final until a new sign-in. */
  refused(refusal: GrantRefusal): void;
}

/**
 * Where a holder keeps a refresh token's record, as the grant runner needs it: read it, and replace
 * it where every other holder sees it, only if it is still what the runner read (compared by version).
 */
export interface RecordHolder {
  /** The record as held now; `null` when none was ever written. */
  read(): Promise<RefreshTokenRecord | null>;
  /**
   * Writes `next` in place of `expected` (`null`: none); resolves `false` if the held record is no
   * longer `expected` (another holder changed it), and rejects if the store could not be reached.
   * `kind` says why: the mark made before a grant is sent (`begin`: a holder under a lease checks it
   * still holds it), a grant's outcome (also after the attempt was given up), or a new sign-in.
   */
  write(next: RefreshTokenRecord, expected: RefreshTokenRecord | null, kind: 'begin' | 'outcome' | 'signIn'): Promise<boolean>;
}

/** One step of a grant: the minted token, or the grant in flight elsewhere, whose answer may come until `until`. */
export type GrantStep = { readonly kind: 'minted'; readonly token: MintedToken<SecretValue> } | { readonly kind: 'wait'; readonly until: number };

/** What {@link GrantRunner.begin} did: as a step, or marked the record and left the sending to the caller (outside a lock). */
export type GrantBeginning =
  | GrantStep
  /** Marked: call `send` now (at most once), or `abandon` if the attempt was given up before sending (the refresh token is unspent). */
  | { readonly kind: 'begun'; readonly send: () => Promise<MintedToken<SecretValue>>; readonly abandon: () => void };

/** The record version an answered grant made: its family, and the generation after the grant (every answer adds one). */
export interface GrantVersion {
  readonly family: string;
  readonly generation: number;
}

/** What a {@link GrantRunner} runs with. */
export interface GrantRunnerSetup {
  /** The grant itself, called with `grant`. */
  readonly mint: ExclusiveMint<SecretValue>;
  readonly holder: RecordHolder;
  readonly clock: Clock;
  /** How long to wait before trying again a write the holder's store did not take (ms; default 500). */
  readonly retryWriteMs?: number;
  /**
   * Told the token of each grant that was answered, once per grant (also one answered after its
   * attempt was given up), and the record version that answer made (its family, and the generation
   * after the grant): a fleet shares it; the tabs hand it over labelled with that version.
   */
  readonly answered?: (minted: MintedToken<SecretValue>, made: GrantVersion) => void;
  /** Told the error of each grant that failed, once per grant: the tabs count it against their breaker. */
  readonly failed?: (error: unknown) => void;
}

/**
 * Runs the grants of one refresh token for one holder, by the refresh-token statechart's rules: the
 * record is marked `granting` where every holder sees it before the grant is sent; the grant runs to
 * its answer or its deadline (`grantTimeoutMs`) even when the attempt that started it is given up, so
 * an answer that arrived is never thrown away; each outcome is written as soon as it is known, and
 * written again until it lands; a second attempt of this holder while its grant is in flight joins it.
 *
 * @example
 * ```ts
 * const runner = new GrantRunner({ mint, holder, clock });
 * const step = await runner.step({ signal, held: await holder.read() });
 * ```
 */
export class GrantRunner {
  readonly #mint: ExclusiveMint<SecretValue>;
  readonly #holder: RecordHolder;
  readonly #clock: Clock;
  readonly #retryWriteMs: number;
  readonly #answered: ((minted: MintedToken<SecretValue>, made: GrantVersion) => void) | undefined;
  readonly #failed: ((error: unknown) => void) | undefined;
  #configured: Promise<ConfiguredRecord> | null = null;
  /** The newest record this runner wrote or is writing: its own writes not yet landed are newer than what the holder reads. */
  #latest: RefreshTokenRecord | null = null;
  #inFlight: Promise<MintedToken<SecretValue>> | null = null;
  #writes: Promise<void> = Promise.resolve();
  /** The first try of the latest outcome write. */
  #firstTry: Promise<void> = Promise.resolve();
  #closed = false;

  /** @param setup the mint, the holder and the clock. */
  constructor(setup: GrantRunnerSetup) {
    this.#mint = setup.mint;
    this.#holder = setup.holder;
    this.#clock = setup.clock;
    this.#retryWriteMs = setup.retryWriteMs ?? 500;
    this.#answered = setup.answered;
    this.#failed = setup.failed;
  }

  /** Whether a grant of this runner is in flight (its other attempts join it). */
  get inFlight(): boolean {
    return this.#inFlight !== null;
  }

  /** The newest record this runner knows of: its own latest, or `held` if that is newer. */
  newest(held: RefreshTokenRecord | null): RefreshTokenRecord | null {
    return this.#latest !== null && isNewerRecord(this.#latest, held) ? this.#latest : held;
  }

  /**
   * Decides with `held` (what the holder read; read now if not given) and, if the refresh token may be sent, marks it
   * `granting` and sends it; joins this holder's own grant in flight. Throws `REFRESH_TOKEN_UNUSABLE`
   * when it may not be sent; resolves `wait` while another holder's grant may still answer.
   *
   * @example
   * ```ts
   * const step = await runner.step({ signal, held });
   * if (step.kind === 'wait') await somethingChanges(step.until);
   * ```
   */
  async step(run: { readonly signal: AbortSignal; readonly claims?: string | undefined; readonly held: RefreshTokenRecord | null }): Promise<GrantStep> {
    const beginning = await this.begin(run);
    return beginning.kind === 'begun' ? { kind: 'minted', token: await untilAborted(beginning.send(), run.signal) } : beginning;
  }

  /**
   * As {@link GrantRunner.step}, but once the record is marked `granting` it returns `send` for the
   * caller to call (a tab lets go of its lock first: the record already keeps every other tab from
   * sending the refresh token, and a tab paused mid-grant then holds no lock).
   *
   * @example
   * ```ts
   * const beginning = await locks.request(name, { mode: 'exclusive' }, () => runner.begin({ signal, held }));
   * if (beginning.kind === 'begun') minted = await beginning.send();
   * ```
   */
  async begin(run: { readonly signal: AbortSignal; readonly claims?: string | undefined; readonly held?: RefreshTokenRecord | null }): Promise<GrantBeginning> {
    const { signal } = run;
    let held = run.held === undefined ? await untilAborted(this.#holder.read(), signal) : run.held;
    const configured = await untilAborted(this.#configuredRecord(), signal);
    // a record read before a pause (a lease's answer that waited while the process was paused) may be
    // older than what the holder has now: it is read again once before callers are told to sign in
    let readAgain = run.held !== undefined;
    for (let round = 0; ; round++) {
      if (this.#inFlight !== null) {
        const token = await untilAborted(this.#inFlight, signal);
        // a grant that answered late may bring an access token already expired: its refresh token is
        // kept (the record has it), and this attempt goes on to a grant of its own with it
        if (!expired(token, this.#clock.now())) return { kind: 'minted', token };
        held = await untilAborted(this.#holder.read(), signal);
        continue;
      }
      const now = this.#clock.now();
      const { reuseIntervalMs, grantTimeoutMs } = this.#mint;
      const record = startingRecord(this.newest(held), configured, now, reuseIntervalMs);
      const decision = grantDecision(record, now, reuseIntervalMs);
      if (decision.kind === 'unusable') {
        if (!readAgain) throw refreshTokenUnusable(decision, record);
        readAgain = false;
        held = await untilAborted(this.#holder.read(), signal);
        continue;
      }
      if (decision.kind === 'wait') return decision;
      const grantId = randomId();
      const sent = nextRecord(record, { type: 'grant.sent', grantId, at: now, deadline: now + grantTimeoutMs, reuseIntervalMs })!;
      // not raced with the signal: a mark that lands must be answered by an outcome (here, not sent)
      let marked: boolean;
      try {
        marked = await this.#holder.write(sent, held, 'begin');
      } catch (error) {
        // the mark may have landed with its answer lost: nothing was sent, which is written over it (if it is there)
        this.#latest = sent;
        void this.#record({ type: 'grant.unspent', grantId });
        throw error;
      }
      if (marked) return this.#begun(sent, grantId, run);
      // the record changed under this runner (another holder wrote, or its own outcome landed): read it again
      if (round === 2) return { kind: 'wait', until: now };
      held = await untilAborted(this.#holder.read(), signal);
    }
  }

  #begun(sent: RefreshTokenRecord, grantId: string, run: { readonly signal: AbortSignal; readonly claims?: string | undefined }): GrantBeginning {
    const { signal } = run;
    this.#latest = sent;
    if (signal.aborted) {
      void this.#record({ type: 'grant.unspent', grantId });
      throw signal.reason;
    }
    let sending: Promise<MintedToken<SecretValue>> | null = null;
    return {
      kind: 'begun',
      send: () => (sending ??= this.#send(sent, grantId, run.claims)),
      abandon: () => {
        if (sending === null) void this.#record({ type: 'grant.unspent', grantId });
      },
    };
  }

  /**
   * Runs grants for a holder that waits alone (a process with no coordination): a grant another run
   * left in flight is waited out until its deadline.
   *
   * @example
   * ```ts
   * const minted = await runner.mintAlone({ signal });
   * ```
   */
  async mintAlone(run: { readonly signal: AbortSignal; readonly claims?: string | undefined }): Promise<MintedToken<SecretValue>> {
    for (;;) {
      const step = await this.step({ ...run, held: await untilAborted(this.#holder.read(), run.signal) });
      if (step.kind === 'minted') return step.token;
      if (step.until > this.#clock.now()) await sleepUntil(this.#clock, step.until, run.signal);
    }
  }

  /**
   * Replaces the family with a new sign-in's refresh token, in whatever state it is.
   *
   * @example
   * ```ts
   * await runner.signIn(new Secret(refreshTokenFromSignIn));
   * ```
   */
  async signIn(refreshToken: Secret): Promise<void> {
    const family = await familyOf(refreshToken.reveal());
    for (;;) {
      // a record that cannot be used (gone, unreadable) is what a sign-in replaces: it is not read as one
      const held = await this.#holder.read().catch((error: unknown) => {
        if (isCredentialError(error, 'REFRESH_TOKEN_UNUSABLE') || isCredentialError(error, 'SHARED_TOKEN_REJECTED')) return null;
        throw error;
      });
      const known = this.newest(held) ?? (await this.#configuredRecord()).record;
      const next = nextRecord(known, { type: 'signedIn', family, at: Math.max(1, Math.round(this.#clock.now())), refreshToken });
      if (next === null) return; // that sign-in is the family already
      if (await this.#holder.write(next, held, 'signIn')) {
        this.#latest = next;
        return;
      }
    }
  }

  /** Stops retrying writes (the holder is gone). */
  close(): void {
    this.#closed = true;
  }

  #configuredRecord(): Promise<ConfiguredRecord> {
    const { configuredRefreshToken: configured, configuredAt } = this.#mint;
    this.#configured ??= familyOf(configured.reveal()).then((family) => ({ record: familyRecord(family, configured, 0), at: configuredAt }));
    return this.#configured;
  }

  #send(sent: RefreshTokenRecord, grantId: string, claims: string | undefined): Promise<MintedToken<SecretValue>> {
    const clock = this.#clock;
    const controller = new AbortController();
    const { grantTimeoutMs } = this.#mint;
    // at the deadline the record gives every holder (deferred past pending I/O: an answer that
    // arrived while the page or the loop was stalled wins)
    const timer = armTimer(clock, () => afterPendingIo(() => controller.abort(grantTimeoutError(grantTimeoutMs))), Math.max(0, sent.grant!.deadline - clock.now()));
    let told = false;
    const tell = (event: RefreshTokenEvent) => {
      told = true;
      void this.#record(event);
    };
    const grant: RefreshTokenGrant = {
      refreshToken: sent.value!,
      family: sent.family,
      generation: sent.generation,
      unspent: () => tell({ type: 'grant.unspent', grantId }),
      rotated: (next) => tell({ type: 'grant.rotated', grantId, next: next instanceof Secret ? next : new Secret(next) }),
      refused: (refusal) => tell({ type: 'grant.refused', grantId, refusal }),
    };
    const granting = Promise.resolve()
      .then(() => this.#mint(claims === undefined ? { signal: controller.signal, grant } : { signal: controller.signal, grant, claims }))
      .then(
        async (minted) => {
          if (!told) tell({ type: 'grant.kept', grantId });
          // a caller gets the token once its refresh token's outcome was written (or tried: a store that
          // is down does not hold up a token, the write goes on), so a process that exits then keeps it
          await this.#firstTry;
          this.#answered?.(minted, { family: sent.family, generation: sent.generation + 1 });
          return minted;
        },
        (error: unknown) => {
          if (!told) tell({ type: 'grant.lost', grantId });
          this.#failed?.(error);
          throw error;
        },
      )
      .finally(() => {
        disarmTimer(clock, timer);
        if (this.#inFlight === granting) this.#inFlight = null;
      });
    granting.catch(() => {}); // whoever waits on it hears of it; nobody may be left waiting
    this.#inFlight = granting;
    return granting;
  }

  /** Applies an outcome to the latest record and writes it, in order, until it lands or is superseded. */
  /**
   * Applies an outcome to the latest record and writes it, in order, until it lands or is superseded.
   * Resolves after the write's first try (landed, or not this time: it is tried again).
   */
  #record(event: RefreshTokenEvent): Promise<void> {
    const expected = this.#latest;
    const next = expected === null ? null : nextRecord(expected, event);
    if (next === null) return this.#firstTry;
    this.#latest = next;
    let tried!: () => void;
    this.#firstTry = new Promise<void>((resolve) => (tried = resolve));
    this.#writes = this.#writes.then(() => this.#writeUntilLanded(next, expected, tried));
    return this.#firstTry;
  }

  async #writeUntilLanded(next: RefreshTokenRecord, expected: RefreshTokenRecord | null, tried: () => void): Promise<void> {
    while (!this.#closed) {
      try {
        const landed = await this.#holder.write(next, expected, 'outcome');
        // refused: another holder changed the record since, so this outcome never lands; kept as this
        // runner's latest it would outrank the held record by its count of changes, and its refresh
        // token (spent since, perhaps) would be sent again. A rotated refresh token it alone holds is kept.
        if (!landed && this.#latest === next && next.value === expected?.value) this.#latest = null;
        return;
      } catch {
        tried();
        await sleepUntil(this.#clock, this.#clock.now() + this.#retryWriteMs, new AbortController().signal);
      } finally {
        tried();
      }
    }
    tried();
  }
}

/**
 * `REFRESH_TOKEN_UNUSABLE`, saying why (the issuer's own words when it refused), marked
 * `issuerNotAsked` when nothing was sent for it now: no breaker counts it, so every caller hears it
 * itself (no retry can fix it; the user signs in again).
 *
 * @example
 * ```ts
 * throw refreshTokenUnusable({ kind: 'unusable', why: 'revoked', refusal: { error: 'invalid_grant' } }, record);
 * ```
 */
export function refreshTokenUnusable(decision: Extract<GrantDecision, { kind: 'unusable' }>, record: RefreshTokenRecord): CredentialError {
  const message =
    decision.why === 'revoked'
      ? `the issuer refused the refresh token (${decision.refusal?.error ?? 'invalid_grant'}${decision.refusal?.description === undefined ? '' : `: ${decision.refusal.description}`}): sign in again`
      : `a grant carrying the refresh token was sent${record.grant === null ? '' : ` at ${new Date(record.grant.sentAt).toISOString()}`} and its answer never came: it may be spent, so it is not sent again; sign in again`;
  return Object.assign(new CredentialError('REFRESH_TOKEN_UNUSABLE', message), { issuerNotAsked: true as const, ...(decision.refusal === null ? {} : { refusal: decision.refusal }) });
}

/** Whether a minted token had expired by `now` (its expiry as a number of epoch ms, a `Date`, or none). */
function expired(token: MintedToken<SecretValue>, now: number): boolean {
  const { expiresAt } = token;
  return expiresAt !== null && (expiresAt instanceof Date ? expiresAt.getTime() : expiresAt) <= now;
}

function grantTimeoutError(ms: number): CredentialError {
  return mintTimeoutError(ms, 'the refresh-token grant (grantTimeoutMs)');
}

function randomId(): string {
  return crypto.randomUUID();
}

/** Resolves at `until` on `clock` (or at once if past), rejects with the signal's reason if it aborts first. */
function sleepUntil(clock: Clock, until: number, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = armTimer(
      clock,
      () => {
        cancel();
        resolve();
      },
      Math.max(0, until - clock.now()),
    );
    const cancel = onAbort(signal, () => {
      disarmTimer(clock, timer);
      reject(signal.reason);
    });
  });
}
