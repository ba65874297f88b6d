/**
 * A small reference model of the policy, written from the README, not from the statechart: plain
 * state and a queue of timers that fire in deadline order (ties in arming order, as the one real
 * clock does). It predicts, for a schedule of requests, clock moves and mint outcomes, every
 * result the provider should give and every mint it should start.
 */
import type { RefreshPolicy } from '../../src/config.js';

export type Validity = 'fresh' | 'refreshDue' | 'expired';
export type Breaker = 'closed' | 'open' | 'halfOpen';

/** What the model says a request came to. */
export type Prediction =
  | { status: 'pending' }
  | { status: 'served'; tokenId: number; servedAt: number; expiresAt: number | null }
  | { status: 'rejected'; reason: 'BREAKER_OPEN' | 'MINT_TIMEOUT' | 'MINTED_TOKEN_ALREADY_EXPIRED' | 'mint-error' | 'aborted'; errorId?: number };

type TimerKind = 'validity' | 'cooldown' | 'timeout' | 'retry';
interface Timer {
  readonly kind: TimerKind;
  readonly dueAt: number;
  readonly sequence: number;
}

interface Flight {
  readonly kind: 'demand' | 'background';
  readonly startedAt: number;
  /** Callers with a signal still waiting; callers without one cannot leave. */
  readonly abortable: Set<number>;
  patient: number;
}

export class PolicyModel {
  now: number;
  tokenId = 0;
  expiresAt: number | null;
  issuedAt: number;
  refreshDueAt: number | null;
  validity: Validity = 'fresh';
  rejected = false;
  lastInvalidatedAt: number | null = null;
  failures = 0;
  breaker: Breaker = 'closed';
  openUntil: number | null = null;
  retryAt: number | null = null;
  flight: Flight | null = null;
  mints = 0;
  readonly predictions = new Map<number, Prediction>();
  readonly reports: string[] = [];
  #timers: Timer[] = [];
  #sequence = 0;

  constructor(
    readonly policy: Omit<RefreshPolicy, 'breakerCounts'>,
    startMs: number,
    expiresAt: number | null,
  ) {
    this.now = startMs;
    this.expiresAt = expiresAt;
    this.issuedAt = startMs;
    this.refreshDueAt = this.#dueAt(startMs, expiresAt);
    this.#enterValidity('fresh');
  }

  /** Whether the earliest timers due by `target` share a deadline and an arming instant (ambiguous). */
  deadlines(): number[] {
    return this.#timers.map((timer) => timer.dueAt);
  }

  /** The clock moves to `target`, firing every timer due on the way. */
  advanceTo(target: number): void {
    for (;;) {
      const next = this.#timers.reduce<Timer | null>(
        (earliest, timer) => (earliest === null || timer.dueAt < earliest.dueAt || (timer.dueAt === earliest.dueAt && timer.sequence < earliest.sequence) ? timer : earliest),
        null,
      );
      if (next === null || next.dueAt > target) break;
      this.#timers = this.#timers.filter((timer) => timer !== next);
      this.now = Math.max(this.now, next.dueAt);
      this.#fire(next);
    }
    this.now = target;
  }

  /** The wall clock leaps by `ms` (a machine waking from sleep): every pending timer fires that much later. */
  jump(ms: number): void {
    this.now += ms;
    this.#timers = this.#timers.map((timer) => ({ ...timer, dueAt: timer.dueAt + ms }));
  }

  /** A caller asks for the token at the current time. */
  request(id: number, abortable: boolean): void {
    const { now } = this;
    if (this.#needsMint(now) && this.flight === null) {
      if (this.breaker === 'open' && this.openUntil !== null && now >= this.openUntil) this.#halfOpen();
      if (this.#admits(now)) this.#startMint(this.#usable(now) ? 'background' : 'demand');
    }
    if (this.#usable(now)) {
      this.predictions.set(id, { status: 'served', tokenId: this.tokenId, servedAt: now, expiresAt: this.expiresAt });
    } else if (this.flight !== null) {
      if (abortable) this.flight.abortable.add(id);
      else this.flight.patient++;
      this.predictions.set(id, { status: 'pending' });
    } else {
      this.predictions.set(id, { status: 'rejected', reason: 'BREAKER_OPEN' });
    }
  }

  /** A waiting caller aborts. */
  abort(id: number): void {
    const prediction = this.predictions.get(id);
    if (prediction?.status !== 'pending') return;
    this.predictions.set(id, { status: 'rejected', reason: 'aborted' });
    const flight = this.flight;
    if (flight === null) return;
    flight.abortable.delete(id);
    if (flight.kind === 'demand' && flight.abortable.size === 0 && flight.patient === 0) {
      // abandoned: stopped, recording neither success nor failure
      this.flight = null;
      this.#disarm('timeout');
    }
  }

  /** The mint in flight lands a token expiring at `expiresAt`. */
  mintSucceeds(tokenId: number, expiresAt: number | null): void {
    if (expiresAt !== null && this.now >= expiresAt) return this.#mintFails('MINTED_TOKEN_ALREADY_EXPIRED');
    this.#leaveFlight();
    this.tokenId = tokenId;
    this.expiresAt = expiresAt;
    this.issuedAt = this.now;
    this.refreshDueAt = this.#dueAt(this.now, expiresAt);
    this.rejected = false;
    this.#enterValidity('fresh');
    this.failures = 0;
    if (this.breaker === 'halfOpen') this.#changeBreaker('closed');
    this.retryAt = null;
    this.reports.push('succeeded');
    this.#settleWaiters({ status: 'served', tokenId, servedAt: this.now, expiresAt });
  }

  /** The mint in flight fails with error number `errorId`. */
  mintFails(errorId: number): void {
    this.#mintFails('mint-error', errorId);
  }

  /** `invalidate()` of the cached token; returns whether it took effect. */
  invalidate(): boolean {
    // a refused or expired token is not served: invalidating it does nothing (and spends no window)
    if (!this.#usable(this.now)) return false;
    if (this.lastInvalidatedAt !== null && this.now - this.lastInvalidatedAt < this.policy.invalidateMinIntervalMs) return false;
    this.rejected = true;
    this.lastInvalidatedAt = this.now;
    this.#enterValidity('expired');
    return true;
  }

  #mintFails(reason: 'mint-error' | 'MINT_TIMEOUT' | 'MINTED_TOKEN_ALREADY_EXPIRED', errorId?: number, at = this.now): void {
    this.#leaveFlight();
    this.failures++;
    if ((this.breaker === 'closed' && this.failures >= this.policy.breakerThreshold) || this.breaker === 'halfOpen') {
      this.openUntil = at + this.policy.breakerCooldownMs;
      this.#changeBreaker('open');
      this.#arm('cooldown', this.openUntil);
    }
    this.retryAt = this.policy.refresh === 'proactive' && this.breaker !== 'open' ? at + retryDelay(this.policy.breakerCooldownMs, this.failures) : null;
    if (this.retryAt !== null) this.#arm('retry', this.retryAt);
    this.reports.push('failed');
    this.#settleWaiters({ status: 'rejected', reason, ...(errorId === undefined ? {} : { errorId }) });
  }

  /**
   * A timer fires. Like the statechart, a timer's effects are dated by its deadline (what it was set
   * for), not by when it fired: the same instant unless the clock jumped while it was pending.
   */
  #fire(timer: Timer): void {
    switch (timer.kind) {
      case 'validity': {
        const at = this.validity === 'fresh' ? Math.min(this.refreshDueAt ?? Infinity, this.expiresAt ?? Infinity) : (this.expiresAt ?? Infinity);
        if (this.validity === 'fresh') this.#enterValidity('refreshDue');
        else if (this.validity === 'refreshDue') this.#enterValidity('expired');
        this.#proactiveAttempt(at);
        return;
      }
      case 'cooldown': {
        const at = this.openUntil ?? this.now;
        this.#halfOpen();
        this.#proactiveAttempt(at);
        return;
      }
      case 'timeout':
        // dated by the attempt's start plus the timeout, as the statechart dates it
        return this.#mintFails('MINT_TIMEOUT', undefined, (this.flight?.startedAt ?? this.now) + this.policy.mintTimeoutMs);
      case 'retry':
        if (this.flight === null && this.retryAt !== null && this.#admits(this.retryAt)) this.#startMint('background', this.retryAt);
        return;
    }
  }

  #proactiveAttempt(at: number): void {
    if (this.policy.refresh === 'proactive' && this.flight === null && this.#needsMint(at) && this.#admits(at)) {
      this.#startMint('background', at);
    }
  }

  #startMint(kind: Flight['kind'], startedAt = this.now): void {
    this.mints++;
    this.flight = { kind, startedAt, abortable: new Set(), patient: 0 };
    this.retryAt = null;
    this.#disarm('retry');
    if (Number.isFinite(this.policy.mintTimeoutMs)) this.#arm('timeout', this.now + this.policy.mintTimeoutMs);
  }

  #leaveFlight(): void {
    this.#disarm('timeout');
  }

  #settleWaiters(outcome: Prediction): void {
    const flight = this.flight;
    this.flight = null;
    if (flight === null) return;
    for (const [id, prediction] of this.predictions) if (prediction.status === 'pending') this.predictions.set(id, outcome);
  }

  #halfOpen(): void {
    this.openUntil = null;
    this.#disarm('cooldown');
    this.#changeBreaker('halfOpen');
  }

  #changeBreaker(to: Breaker): void {
    this.reports.push(`breaker:${this.breaker}->${to}`);
    this.breaker = to;
  }

  #enterValidity(validity: Validity): void {
    this.validity = validity;
    this.#disarm('validity');
    const dueAt = validity === 'fresh' ? this.refreshDueAt : validity === 'refreshDue' ? this.expiresAt : null;
    if (dueAt !== null) this.#arm('validity', dueAt);
  }

  #usable(now: number): boolean {
    return !this.rejected && (this.expiresAt === null || now < this.expiresAt);
  }

  #needsMint(now: number): boolean {
    return !this.#usable(now) || (this.refreshDueAt !== null && now >= this.refreshDueAt);
  }

  #admits(now: number): boolean {
    return this.breaker !== 'open' || (this.openUntil !== null && now >= this.openUntil);
  }

  /** The README's rule: refreshAt of the life, at least the floor before expiry; a token that makes due at issue waits for refreshAt of its life. */
  #dueAt(issuedAt: number, expiresAt: number | null): number | null {
    if (expiresAt === null) return null;
    const fraction = Math.min(1, Math.max(0, this.policy.refreshAt));
    const atFraction = issuedAt + fraction * (expiresAt - issuedAt);
    const due = Math.max(issuedAt, Math.min(atFraction, expiresAt - this.policy.refreshFloorMs));
    return due > issuedAt ? due : atFraction;
  }

  #arm(kind: TimerKind, dueAt: number): void {
    this.#disarm(kind);
    this.#timers.push({ kind, dueAt: Math.max(dueAt, this.now), sequence: this.#sequence++ });
  }

  #disarm(kind: TimerKind): void {
    this.#timers = this.#timers.filter((timer) => timer.kind !== kind);
  }
}

/** The documented proactive backoff: 1 s doubling, capped at 30 s and at the cooldown (but never under 1 s). */
function retryDelay(cooldownMs: number, failures: number): number {
  return Math.min(1_000 * 2 ** (failures - 1), 30_000, Math.max(cooldownMs, 1_000));
}
