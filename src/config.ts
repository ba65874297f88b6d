import type { RefreshPolicy } from '../machines/policy.js';
import { CredentialError } from '../machines/credential-error.js';

/** The policy plus the jitter source, as `createCredentialProvider` accepts it. */
export interface RefreshConfig extends Omit<RefreshPolicy, 'breakerCounts'> {
  /** Sampled once per token; pulls its refresh instant earlier by that fraction of its lifetime. Values outside [0, 1) are clamped. */
  readonly jitter: () => number;
}

/**
 * The defaults: refresh at 80% of the lifetime, no jitter, at least 30 s before expiry; the breaker
 * opens after 5 consecutive failures and cools down for 60 s; a mint times out after 30 s; refresh
 * on demand; invalidations at most every 5 s; a `Retry-After` is honoured for at most 10 minutes.
 *
 * @example
 * ```ts
 * createCredentialProvider({ mint, ...defaultRefreshConfig, refresh: 'proactive' });
 * ```
 */
export const defaultRefreshConfig: RefreshConfig = Object.freeze({
  jitter: () => 0,
  refreshAt: 0.8,
  refreshFloorMs: 30_000,
  breakerThreshold: 5,
  breakerCooldownMs: 60_000,
  mintTimeoutMs: 30_000,
  refresh: 'on-demand',
  invalidateMinIntervalMs: 5_000,
  maxRetryAfterMs: 600_000,
});

/**
 * Fills the defaults in and checks every knob, throwing `CredentialError('INVALID_CONFIG')` that
 * names the first field out of range.
 *
 * @example
 * ```ts
 * resolveRefreshConfig({ refreshAt: 0.5 }).breakerThreshold; // 5
 * ```
 */
export function resolveRefreshConfig(options: Partial<RefreshConfig>, realTime = false): RefreshConfig {
  const config = { ...defaultRefreshConfig };
  for (const key of Object.keys(defaultRefreshConfig) as (keyof RefreshConfig)[]) {
    if (options[key] !== undefined) Object.assign(config, { [key]: options[key] });
  }
  requireThat('jitter', typeof config.jitter === 'function', 'must be a function', config.jitter);
  requireThat('refreshAt', isNumberIn(config.refreshAt, 0, 1), 'must be within [0, 1]', config.refreshAt);
  requireThat('refreshFloorMs', isFiniteAtLeast(config.refreshFloorMs, 0), 'must be a finite number >= 0', config.refreshFloorMs);
  requireThat('breakerThreshold', Number.isInteger(config.breakerThreshold) && config.breakerThreshold >= 1, 'must be an integer >= 1', config.breakerThreshold);
  requireThat('breakerCooldownMs', isFiniteAtLeast(config.breakerCooldownMs, 0), 'must be a finite number >= 0', config.breakerCooldownMs);
  requireThat('mintTimeoutMs', typeof config.mintTimeoutMs === 'number' && config.mintTimeoutMs > 0, 'must be a number > 0 (Infinity disables the timeout)', config.mintTimeoutMs);
  requireThat('refresh', config.refresh === 'on-demand' || config.refresh === 'proactive', "must be 'on-demand' or 'proactive'", config.refresh);
  requireThat('invalidateMinIntervalMs', isFiniteAtLeast(config.invalidateMinIntervalMs, 0), 'must be a finite number >= 0', config.invalidateMinIntervalMs);
  requireThat('maxRetryAfterMs', isFiniteAtLeast(config.maxRetryAfterMs, 0), 'must be a finite number >= 0', config.maxRetryAfterMs);
  if (realTime) for (const field of DURATIONS) refuseSecondsForMs(field, options[field]);
  return Object.freeze(config);
}

/** The policy's durations, in ms, that a real clock makes meaningless below {@link LEAST_REAL_MS}. */
const DURATIONS = ['refreshFloorMs', 'breakerCooldownMs', 'mintTimeoutMs', 'invalidateMinIntervalMs', 'maxRetryAfterMs'] as const;

/** Below this, on the system clock, a duration was written in seconds (`breakerCooldownMs: 60`). */
const LEAST_REAL_MS = 100;

/**
 * A duration given on the system clock between 0 and 100 ms cannot be meant (a 60 ms cooldown, a
 * 30 ms refresh floor): it is seconds written where milliseconds go. Refused, with the fix. (0 stays
 * allowed where it means none, and a test clock, `clock: new ManualClock()`, takes any value.)
 *
 * @example
 * ```ts
 * refuseSecondsForMs('breakerCooldownMs', 60); // throws: breakerCooldownMs is 60 ms: did you mean 60_000 (60 s)?
 * ```
 */
export function refuseSecondsForMs(field: string, value: unknown): void {
  if (typeof value === 'number' && value > 0 && value < LEAST_REAL_MS) {
    throw new CredentialError('INVALID_CONFIG', `${field} is ${value} ms: did you mean ${(value * 1000).toLocaleString('en-US').replaceAll(',', '_')} (${value} s)? Durations are in milliseconds`);
  }
}

/** Every policy option's name, as `createCredentialProvider` accepts it. */
export const POLICY_OPTION_NAMES: readonly string[] = Object.freeze(Object.keys(defaultRefreshConfig));

/**
 * The data half of a config, as the statechart's context holds it (no functions).
 *
 * @example
 * ```ts
 * policyOf(defaultRefreshConfig).refreshAt; // 0.8
 * ```
 */
export function policyOf(config: RefreshConfig, breakerCounts: RefreshPolicy['breakerCounts'] = 'all-failures'): RefreshPolicy {
  const { jitter: _jitter, ...policy } = config;
  return Object.freeze({ ...policy, breakerCounts });
}

function requireThat(field: string, ok: boolean, rule: string, value: unknown): void {
  if (!ok) throw new CredentialError('INVALID_CONFIG', `${field} ${rule}, got ${show(value)}`);
}

function show(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : typeof value === 'number' ? String(value) : typeof value;
}

function isNumberIn(value: unknown, min: number, max: number): boolean {
  return typeof value === 'number' && value >= min && value <= max;
}

function isFiniteAtLeast(value: unknown, min: number): boolean {
  return typeof value === 'number' && Number.isFinite(value) && value >= min;
}

export type { RefreshMode, RefreshPolicy } from '../machines/policy.js';
