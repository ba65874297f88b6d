import type { AuthToken } from '../machines/credential.types.js';
import { CredentialError } from '../machines/credential-error.js';
import { describeShape } from './describe-shape.js';
import { Secret } from '../machines/secret.js';

export type { AuthToken } from '../machines/credential.types.js';

/** What a `mint` resolves with. A plain string secret is wrapped into a {@link Secret} at once. */
export interface MintedToken {
  secret: string | Secret;
  /** When the token stops being valid: epoch **milliseconds** (or a `Date`); `null` never expires. */
  expiresAt: number | Date | null;
  /** State to share with the token under a coordination (a rotating refresh token); never cached by the provider. */
  state?: string;
}

/** 2001-01-01T00:00:00Z in epoch ms. An expiry before it, on a clock after it, was not given in ms. */
const YEAR_2001_MS = 978_307_200_000;

const HOW_TO_MAP =
  'expiresAt is epoch milliseconds: for an OAuth expires_in (seconds from now) use Date.now() + expires_in * 1000, for a JWT exp (epoch seconds) use exp * 1000';

/**
 * Checks what a mint returned and turns it into a frozen {@link AuthToken}, or throws
 * `CredentialError('INVALID_TOKEN')` naming the bad field and describing the bad value by its
 * type and shape only (a value from a field that may hold the secret is never printed).
 *
 * `now` is the clock's reading: on a clock past 2001, an expiry that reads as a date before 2001
 * was given in seconds (a JWT `exp`, an `expires_in`) and is refused with how to convert it.
 *
 * @example
 * ```ts
 * toAuthToken({ secret: 'abc', expiresAt: new Date('2030-01-01') }, Date.now()).expiresAt; // 1893456000000
 * ```
 */
export function toAuthToken(minted: unknown, now: number): AuthToken {
  if (typeof minted !== 'object' || minted === null) {
    throw new CredentialError('INVALID_TOKEN', `mint must resolve with { secret, expiresAt }, got ${describeShape(minted)}`);
  }
  const { secret, expiresAt } = minted as Partial<MintedToken>;
  if (secret === undefined && 'access_token' in minted) {
    throw new CredentialError(
      'INVALID_TOKEN',
      'mint resolved with a raw OAuth token response: map access_token to secret and expires_in to expiresAt, ' +
        'as { secret: body.access_token, expiresAt: Date.now() + body.expires_in * 1000 }',
    );
  }
  return Object.freeze({ secret: toSecret(secret), expiresAt: toExpiresAt(expiresAt, now) });
}

function toSecret(secret: unknown): Secret {
  if (secret instanceof Secret) {
    if (secret.reveal().length === 0) throw new CredentialError('INVALID_TOKEN', 'minted token secret is empty');
    return secret;
  }
  if (typeof secret !== 'string') {
    throw new CredentialError('INVALID_TOKEN', `minted token secret must be a string or Secret, got ${describeShape(secret)}`);
  }
  if (secret.length === 0) throw new CredentialError('INVALID_TOKEN', 'minted token secret is empty');
  return new Secret(secret);
}

function toExpiresAt(expiresAt: unknown, now: number): number | null {
  if (expiresAt === null) return null;
  const epochMs = expiresAt instanceof Date ? expiresAt.getTime() : expiresAt;
  if (typeof epochMs !== 'number' || !Number.isFinite(epochMs)) {
    const got = typeof epochMs === 'number' ? String(epochMs) : expiresAt instanceof Date ? 'an invalid Date' : describeShape(expiresAt);
    throw new CredentialError('INVALID_TOKEN', `minted token expiresAt must be finite epoch ms, a valid Date or null, got ${got}`);
  }
  if (epochMs < YEAR_2001_MS && now >= YEAR_2001_MS) {
    throw new CredentialError('INVALID_TOKEN', `minted token expiresAt ${epochMs} reads as a date before 2001, so it was not given in ms; ${HOW_TO_MAP}`);
  }
  return epochMs;
}
