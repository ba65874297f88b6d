import { readThrown } from '../machines/thrown.js';
/**
 * When a failed mint says to come back: an error's numeric `retryAfterMs` (an `OAuthError` built
 * from a 429 or 503 response with a `Retry-After` header has one; any error of yours can), or
 * `null` when it says nothing.
 *
 * @example
 * ```ts
 * retryAfterOf(Object.assign(new Error('slow down'), { retryAfterMs: 30_000 })); // 30_000
 * ```
 */
export function retryAfterOf(error: unknown): number | null {
  return readThrown(error).retryAfterMs;
}

/**
 * A `Retry-After` header's value as milliseconds from `nowMs`: delay-seconds (`120`) or an HTTP
 * date (`Wed, 21 Oct 2026 07:28:00 GMT`); `null` when absent or unreadable. A date in the past is 0.
 *
 * @example
 * ```ts
 * parseRetryAfter('120', Date.now()); // 120_000
 * ```
 */
export function parseRetryAfter(header: string | null | undefined, nowMs: number): number | null {
  if (header === null || header === undefined) return null;
  const value = header.trim();
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? null : Math.max(0, date - nowMs);
}
