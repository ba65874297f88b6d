import type { BreakerChangedEvent, CredentialEmittedEvent } from '../machines/credential.types.js';
import { CredentialError } from '../machines/credential-error.js';
import { closestName } from './closest-name.js';
import { describeShape } from './describe-shape.js';
import { callSafely } from './listeners.js';

/** Observers of the provider's telemetry signals, as the original's `CredentialReporters`. */
export interface CredentialReporters {
  refresh?: {
    /** A refresh landed; the new token's whole seconds left (`null`: no expiry). */
    onRefreshSucceeded?(remainingSeconds: number | null): void;
    /** A refresh failed; the still-cached token's whole seconds left (0 when unusable, `null`: no expiry). */
    onRefreshFailed?(remainingSeconds: number | null): void;
  };
  breaker?: {
    /** The breaker's coarse state changed. */
    onBreakerStateChanged?(change: Omit<BreakerChangedEvent, 'type'>): void;
  };
}

const REPORTER_NAMES: Record<string, readonly string[]> = {
  refresh: ['onRefreshSucceeded', 'onRefreshFailed'],
  breaker: ['onBreakerStateChanged'],
};

/**
 * Checks a `reporters` option: an object of groups (`refresh`, `breaker`), each an object of
 * functions with the documented names. Throws `INVALID_CONFIG` naming the first thing wrong, with
 * the closest real name for a misspelt one (a plain JavaScript caller has no compiler to say it).
 *
 * @example
 * ```ts
 * validateReporters({ refresh: { onRefreshSucceded() {} } });
 * // INVALID_CONFIG: reporters.refresh.onRefreshSucceded is not a reporter; did you mean onRefreshSucceeded?
 * ```
 */
export function validateReporters(reporters: unknown): asserts reporters is CredentialReporters | undefined {
  if (reporters === undefined) return;
  if (typeof reporters !== 'object' || reporters === null || Array.isArray(reporters)) {
    throw new CredentialError('INVALID_CONFIG', `reporters must be an object like { refresh: { onRefreshSucceeded } }, got ${describeShape(reporters)}`);
  }
  for (const [group, members] of Object.entries(reporters)) {
    const names = REPORTER_NAMES[group];
    if (names === undefined) throw new CredentialError('INVALID_CONFIG', `reporters.${group} is not a reporter group${suggestion(group, Object.keys(REPORTER_NAMES))}`);
    if (members === undefined) continue;
    if (typeof members !== 'object' || members === null || Array.isArray(members)) {
      throw new CredentialError('INVALID_CONFIG', `reporters.${group} must be an object of functions, got ${describeShape(members)}`);
    }
    for (const [name, reporter] of Object.entries(members)) {
      if (!names.includes(name)) throw new CredentialError('INVALID_CONFIG', `reporters.${group}.${name} is not a reporter${suggestion(name, names)}`);
      if (reporter !== undefined && typeof reporter !== 'function') {
        throw new CredentialError('INVALID_CONFIG', `reporters.${group}.${name} must be a function, got ${describeShape(reporter)}`);
      }
    }
  }
}

/**
 * The listeners that feed `reporters` from the statechart's emitted events, each called with its
 * group as `this` and through `callSafely`, so a throwing or rejecting reporter is ignored.
 *
 * @example
 * ```ts
 * for (const [type, listener] of reporterListeners(reporters)) listeners.add(type, listener);
 * ```
 */
export function reporterListeners(reporters: CredentialReporters | undefined): Array<[CredentialEmittedEvent['type'], (event: CredentialEmittedEvent) => void]> {
  const listeners: Array<[CredentialEmittedEvent['type'], (event: CredentialEmittedEvent) => void]> = [];
  const refresh = reporters?.refresh;
  const breaker = reporters?.breaker;
  const succeeded = refresh?.onRefreshSucceeded;
  const failed = refresh?.onRefreshFailed;
  const changed = breaker?.onBreakerStateChanged;
  if (succeeded) listeners.push(['refresh.succeeded', (event) => callSafely(() => succeeded.call(refresh, remainingOf(event)))]);
  if (failed) listeners.push(['refresh.failed', (event) => callSafely(() => failed.call(refresh, remainingOf(event)))]);
  if (changed) {
    listeners.push([
      'breaker.changed',
      (event) => {
        const { type: _type, ...change } = event as BreakerChangedEvent;
        callSafely(() => changed.call(breaker, change));
      },
    ]);
  }
  return listeners;
}

function remainingOf(event: CredentialEmittedEvent): number | null {
  return 'remainingSeconds' in event ? event.remainingSeconds : null;
}

function suggestion(name: string, candidates: readonly string[]): string {
  const closest = closestName(name, candidates);
  return closest === null ? `; expected one of ${candidates.join(', ')}` : `; did you mean ${closest}?`;
}
