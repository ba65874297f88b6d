/** The two knobs that place a token's refresh instant. */
export interface RefreshTiming {
  /** Fraction of the lifetime after which a refresh is due, in [0, 1]. */
  refreshAt: number;
  /** A refresh is due at least this long before expiry (ms). */
  refreshFloorMs: number;
}

/**
 * When a token issued at `issuedAt` and expiring at `expiresAt` becomes due for refresh:
 * `refreshAt` of its lifetime, pulled earlier by `jitter` (a sample in [0, 1), clamped), and at
 * least `refreshFloorMs` before expiry, but never before issue. `null` for a token with no expiry.
 *
 * @example
 * ```ts
 * // a one-hour token: due at 80% of its life, 48 minutes after issue
 * refreshDueAt({ refreshAt: 0.8, refreshFloorMs: 30_000 }, 0, 3_600_000); // 2_880_000
 * // a 20-second token is due at once: the 30-second floor reaches back past its issue
 * refreshDueAt({ refreshAt: 0.8, refreshFloorMs: 30_000 }, 0, 20_000); // 0
 * ```
 */
export function refreshDueAt(
  policy: RefreshTiming,
  issuedAt: number,
  expiresAt: number | null,
  jitter = 0,
): number | null {
  if (expiresAt === null) return null;
  const fraction = clamp01(policy.refreshAt - clamp01(jitter));
  const atFraction = issuedAt + fraction * (expiresAt - issuedAt);
  return Math.max(issuedAt, Math.min(atFraction, expiresAt - policy.refreshFloorMs));
}

/**
 * Clamps to [0, 1]; NaN becomes 0.
 *
 * @example
 * ```ts
 * clamp01(1.5); // 1
 * ```
 */
export function clamp01(value: number): number {
  return value > 0 ? (value < 1 ? value : 1) : 0;
}
