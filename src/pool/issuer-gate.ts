import type { Actor } from 'xstate';
import { BreakerOpenError } from '../breaker-open-error.js';
import type { FailureSummary } from '../../machines/credential.types.js';
import type { CredentialError } from '../../machines/credential-error.js';
import { MintFailure } from '../../machines/mint-failure.js';
import type { PoolMachine } from '../../machines/pool.machine.js';
import type { Clock } from '../clock.js';
import type { MintGate, MintPass } from '../mint.js';
import { MintPermits } from './mint-permits.js';

/**
 * A pool's gate to its issuer: the pool statechart's issuer breaker and the cap on mints in flight,
 * as every key's mint attempt meets them (see `MintGate`). The decision is taken at the moment a mint
 * would start, after its wait for a permit, so a mint queued while the breaker was closed is refused
 * if the breaker opened meanwhile; it is also taken before the wait, so that a mint the breaker
 * refuses now does not queue at all. Only the half-open probe passes an open breaker, one per cooldown.
 *
 * @example
 * ```ts
 * const gate = new IssuerGate(poolActor, clock, 16);
 * const keyGate = gate.forKey('tenant-a'); // passed to the key's mint attempts
 * ```
 */
export class IssuerGate {
  readonly permits: MintPermits;
  readonly #actor: Actor<PoolMachine>;
  readonly #clock: Clock;
  readonly #mintTimeoutMs: number;
  /** The current half-open probe's pass: only it may tell the statechart the probe was abandoned. */
  #probe: KeyPass | null = null;
  /** When the current probe started: a refusal while it is out says to come back at its deadline. */
  #probeStartedAt = 0;
  #closedBy: CredentialError | null = null;
  /** Attempts that entered and have not settled: the keys with a mint in flight or queued. */
  #attempts = 0;
  /** The issuer's latest failure, for the `cause` of a refusal (redacted there). */
  #lastIssuerFailure: FailureSummary | null = null;

  /**
   * @param actor the pool statechart.
   * @param clock the pool's clock.
   * @param maxMintsInFlight the cap on mints in flight.
   * @param mintTimeoutMs the keys' mint timeout: a probe has settled by then.
   */
  constructor(actor: Actor<PoolMachine>, clock: Clock, maxMintsInFlight: number, mintTimeoutMs: number) {
    this.#actor = actor;
    this.#clock = clock;
    this.#mintTimeoutMs = mintTimeoutMs;
    // the statechart's `mints` region is a picture of the permits, derived from them here alone
    this.permits = new MintPermits(maxMintsInFlight, (saturated) => actor.send({ type: saturated ? 'mints.saturated' : 'mints.available', now: clock.now() }));
  }

  /** Keys whose mint attempt is under way (queued or at the issuer). */
  get attempts(): number {
    return this.#attempts;
  }

  /**
   * The gate one key's attempts go through (the key names it in the issuer breaker's events).
   *
   * @example
   * ```ts
   * startPoolKey({ ...setup, gate: issuerGate.forKey(key) }, ++uses);
   * ```
   */
  forKey(key: string): MintGate {
    return { enter: (signal) => this.#enter(key, signal) };
  }

  /**
   * Admits nothing again: queued attempts are refused with `reason` and never reach the issuer.
   *
   * @example
   * ```ts
   * gate.close(new CredentialError('STOPPED', 'the credential pool was stopped'));
   * ```
   */
  close(reason: CredentialError): void {
    this.#closedBy ??= reason;
    this.permits.close(reason);
  }

  async #enter(key: string, signal: AbortSignal): Promise<MintPass> {
    this.#attempts++;
    let probe: boolean;
    try {
      this.#refuseUnlessAdmitted(false);
      await this.permits.acquire(signal);
      try {
        // the moment the mint starts: the breaker may have opened while it queued
        probe = this.#refuseUnlessAdmitted(true);
      } catch (refusal) {
        this.permits.release();
        throw refusal;
      }
    } catch (reason) {
      this.#attempts--;
      throw reason;
    }
    const pass = new KeyPass(this, key);
    if (probe) {
      this.#probe = pass;
      this.#probeStartedAt = this.#clock.now();
    }
    return pass;
  }

  /**
   * Throws the refusal (a `MintFailure` blamed on nobody, saying when to ask again) unless the issuer
   * may be asked now; when `starting`, a half-open breaker makes this mint its one probe (returns true).
   */
  #refuseUnlessAdmitted(starting: boolean): boolean {
    if (this.#closedBy !== null) throw new MintFailure(this.#closedBy, this.#clock.now(), { blame: 'nobody' });
    // the late-timer case: the cooldown may have ended by the clock before its timer fired.
    if (this.#actor.getSnapshot().value.issuer === 'open') this.#actor.send({ type: 'mint.requested', now: this.#clock.now() });
    const { value, context } = this.#actor.getSnapshot();
    // the statechart marks a probe out only in halfOpen, and clears the mark on leaving it
    if (value.issuer === 'open' || context.probing) {
      const now = this.#clock.now();
      // the statechart keeps openUntil only while open (endCooldown clears it): null while a probe is out
      const { openUntil } = context;
      // the refusal is nobody's failure: blamed on nobody, it is counted by no breaker
      // while the probe is out: come back when it must have settled (its deadline), or after a cooldown at most
      const probeBoundMs = Math.min(Math.max(0, this.#probeStartedAt + this.#mintTimeoutMs - now), context.policy.breakerCooldownMs);
      const refusal = new BreakerOpenError({ scope: 'issuer', openUntil, reason: context.openReason ?? 'failures', now, lastFailure: this.#lastIssuerFailure, retryAfterMs: probeBoundMs });
      throw new MintFailure(refusal, now, { blame: 'nobody', retryAfterMs: refusal.retryAfterMs });
    }
    if (!starting || value.issuer !== 'halfOpen') return false;
    this.#actor.send({ type: 'probe.started', now: this.#clock.now() });
    return true;
  }

  /** @internal An attempt's outcome, told once by its pass. */
  settle(pass: KeyPass, outcome: 'answered' | 'abandoned' | MintFailure): void {
    this.#attempts--;
    const wasProbe = this.#probe === pass;
    if (wasProbe) this.#probe = null;
    try {
      this.#report(pass, wasProbe, outcome);
    } finally {
      // whatever the report met, the permit comes back: a lost permit would stall every key behind it
      this.permits.release();
    }
  }

  /** Tells the issuer breaker what an attempt's outcome says of the issuer. */
  #report(pass: KeyPass, wasProbe: boolean, outcome: 'answered' | 'abandoned' | MintFailure): void {
    if (this.#closedBy !== null) return;
    if (outcome === 'answered') {
      this.#issuerAnswered(pass.key);
    } else if (outcome === 'abandoned' || outcome.blame === 'nobody') {
      // the issuer said nothing either way: if it was the current probe, another may go
      if (wasProbe) this.#actor.send({ type: 'probe.abandoned', now: this.#clock.now() });
    } else if (outcome.blame === 'key') {
      // the issuer answered, refusing this key only
      this.#issuerAnswered(pass.key);
    } else {
      this.#lastIssuerFailure = outcome.summary;
      this.#actor.send({ type: 'issuer.failed', at: outcome.failedAt, retryAfterMs: outcome.retryAfterMs, key: pass.key });
    }
  }

  /**
   * The issuer answered: news for its breaker only when it had counted failures or is not closed,
   * which spares the statechart (and an inspector) an event per healthy mint.
   */
  #issuerAnswered(key: string): void {
    const { value, context } = this.#actor.getSnapshot();
    if (value.issuer !== 'closed' || context.consecutiveFailures > 0) this.#actor.send({ type: 'issuer.answered', at: this.#clock.now(), key });
  }
}

/** One admitted attempt of one key. */
class KeyPass implements MintPass {
  #settled = false;

  constructor(
    readonly gate: IssuerGate,
    readonly key: string,
  ) {}

  settle(outcome: 'answered' | 'abandoned' | MintFailure): void {
    if (this.#settled) return;
    this.#settled = true;
    this.gate.settle(this, outcome);
  }
}
