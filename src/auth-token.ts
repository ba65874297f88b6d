import { CredentialError } from './credential-error.js';
import { Secret } from './secret.js';

/** A cached credential: the secret and when it stops being valid (epoch ms; `null` never expires). */
export interface AuthToken {
  readonly secret: Secret;
  readonly expiresAt: number | null;
}

/** What a `mint` resolves with. A plain string secret is wrapped into a {@link Secret} at once. */
export interface MintedToken {
  secret: string | Secret;
  expiresAt: number | Date | null;
}

/**
 * Checks what a mint returned and turns it into a frozen {@link AuthToken}, or throws
 * `CredentialError('INVALID_TOKEN')` naming the bad field (never its value).
 *
 * @example
 * ```ts
 * toAuthToken({ secret: 'abc', expiresAt: new Date('2030-01-01') }).expiresAt; // 1893456000000
 * ```
 */
export function toAuthToken(minted: unknown): AuthToken {
  if (typeof minted !== 'object' || minted === null) {
    throw new CredentialError('INVALID_TOKEN', `mint must resolve with { secret, expiresAt }, got ${describe(minted)}`);
  }
  const { secret, expiresAt } = minted as Partial<MintedToken>;
  return Object.freeze({ secret: toSecret(secret), expiresAt: toExpiresAt(expiresAt) });
}

function toSecret(secret: unknown): Secret {
  if (secret instanceof Secret) {
    if (secret.reveal().length === 0) throw new CredentialError('INVALID_TOKEN', 'minted token secret is empty');
    return secret;
  }
  if (typeof secret !== 'string') {
    throw new CredentialError('INVALID_TOKEN', `minted token secret must be a string or Secret, got ${describe(secret)}`);
  }
  if (secret.length === 0) throw new CredentialError('INVALID_TOKEN', 'minted token secret is empty');
  return new Secret(secret);
}

function toExpiresAt(expiresAt: unknown): number | null {
  if (expiresAt === null) return null;
  const epochMs = expiresAt instanceof Date ? expiresAt.getTime() : expiresAt;
  if (typeof epochMs !== 'number' || !Number.isFinite(epochMs)) {
    throw new CredentialError(
      'INVALID_TOKEN',
      `minted token expiresAt must be finite epoch ms, a valid Date or null, got ${describe(expiresAt)}`,
    );
  }
  return epochMs;
}

/** Names a value's kind for an error message without ever printing a (possibly secret) string. */
function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value instanceof Date) return 'an invalid Date';
  if (typeof value === 'number') return String(value);
  return typeof value;
}
