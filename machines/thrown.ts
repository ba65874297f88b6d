import { CredentialError } from './credential-error.js';
import type { FailureSummary } from './credential.types.js';

/**
 * What the library reads of a value a mint threw: read once, defensively, in this one place. A
 * mint may throw anything (a string, a Proxy, an error whose `message` getter throws): every read
 * here is guarded, so no thrown value can crash the host, strand a caller or leak a permit. Callers
 * still get the value itself, untouched; only these facts are read from it.
 */
export interface ThrownFacts extends FailureSummary {
  /** A numeric `status` (an HTTP status). */
  readonly status?: number;
  /** A finite, non-negative `retryAfterMs`, or `null`. */
  readonly retryAfterMs: number | null;
  /** `issuerNotAsked === true`: refused before anything was sent. */
  readonly issuerNotAsked: boolean;
  /** Whether it is a `CredentialError` (this library's own). */
  readonly credentialError: boolean;
}

/**
 * Reads a thrown value's facts without ever throwing.
 *
 * @example
 * ```ts
 * readThrown(Object.assign(new Error('slow down'), { status: 429, retryAfterMs: 5_000 })); // { name: 'Error', message: 'slow down', status: 429, retryAfterMs: 5000, ... }
 * ```
 */
export function readThrown(thrown: unknown): ThrownFacts {
  const value = thrown;
  if ((typeof value !== 'object' && typeof value !== 'function') || value === null) {
    return { name: 'NonError', message: `a ${value === null ? 'null' : typeof value} was thrown`, retryAfterMs: null, issuerNotAsked: false, credentialError: false };
  }
  const read = (key: string): unknown => guarded(() => Reflect.get(value, key), undefined);
  const isError = guarded(() => value instanceof Error, false);
  const name = read('name');
  const message = read('message');
  const code = read('code');
  const status = read('status');
  const retryAfterMs = read('retryAfterMs');
  return {
    // a thrown value that is not an Error is described by its type only: it may be anything at all
    name: !isError ? 'NonError' : typeof name === 'string' && name.length > 0 ? name.slice(0, 200) : 'Error',
    message: !isError ? `a ${typeof value} was thrown` : typeof message === 'string' ? message.slice(0, 2_000) : 'an error without a message was thrown',
    ...(typeof code === 'string' ? { code: code.slice(0, 200) } : {}),
    ...(typeof status === 'number' && Number.isFinite(status) ? { status } : {}),
    retryAfterMs: typeof retryAfterMs === 'number' && Number.isFinite(retryAfterMs) && retryAfterMs >= 0 ? retryAfterMs : null,
    issuerNotAsked: read('issuerNotAsked') === true,
    credentialError: guarded(() => value instanceof CredentialError, false),
  };
}

/**
 * Its name, message and code: what may be shown of a failure (logs, the inspector, a refusal's `cause`).
 *
 * @example
 * ```ts
 * summaryOf(readThrown(error)); // { name: 'OAuthError', message: 'invalid_client', code: 'OAUTH_ERROR' }
 * ```
 */
export function summaryOf(facts: ThrownFacts): FailureSummary {
  return { name: facts.name, message: facts.message, ...(facts.code === undefined ? {} : { code: facts.code }), ...(facts.credentialError ? { ours: true as const } : {}) };
}

function guarded<T>(read: () => T, otherwise: T): T {
  try {
    return read();
  } catch {
    return otherwise;
  }
}
