import type { AuthToken } from '../machines/credential.types.js';
import { CredentialError } from '../machines/credential-error.js';
import { describeShape } from './describe-shape.js';
import { Secret, type SecretValue } from '../machines/secret.js';

export type { AuthToken } from '../machines/credential.types.js';
export type { SecretValue } from '../machines/secret.js';

/**
 * What a `mint` resolves with. A plain secret (a string, or an object of named strings) is
 * wrapped into a {@link Secret} at once; the facts beside it are not secret and are served with it.
 */
export interface MintedToken<T extends SecretValue<T> = string> {
  secret: T | Secret<T>;
  /** When the token stops being valid: epoch **milliseconds** (or a `Date`); `null` never expires. */
  expiresAt: number | Date | null;
  /** How to present the token (`Bearer`, `DPoP`), as the issuer said. */
  tokenType?: string;
  /** The scope the issuer granted, space-separated. */
  scope?: string;
  /**
   * The issuer's refresh hint: epoch ms (or a `Date`) after which it asks for a new token (Entra
   * ID's `refresh_in`). The refresh is scheduled by it within the policy's bounds: never later than
   * `refreshAt` of the token's life, never earlier than half of that.
   */
  refreshAfter?: number | Date;
}

/** 2001-01-01T00:00:00Z in epoch ms. An expiry before it, on a clock after it, was not given in ms. */
const YEAR_2001_MS = 978_307_200_000;

const HOW_TO_MAP = 'expiresAt is epoch milliseconds: for an OAuth expires_in (seconds from now) use Date.now() + expires_in * 1000, for a JWT exp (epoch seconds) use exp * 1000';

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
export function toAuthToken<T extends SecretValue<T> = string>(minted: unknown, now: number): AuthToken<T> {
  if (typeof minted !== 'object' || minted === null) {
    throw new CredentialError('INVALID_TOKEN', `mint must resolve with { secret, expiresAt }, got ${describeShape(minted)}`);
  }
  const { secret, expiresAt, tokenType, scope, refreshAfter } = minted as Partial<MintedToken<SecretValue>>;
  if (secret === undefined && 'access_token' in minted) {
    throw new CredentialError(
      'INVALID_TOKEN',
      'mint resolved with a raw OAuth token response: map access_token to secret and expires_in to expiresAt, ' + 'as { secret: body.access_token, expiresAt: Date.now() + body.expires_in * 1000 }',
    );
  }
  const token: { -readonly [F in keyof AuthToken<T>]: AuthToken<T>[F] } = {
    secret: toSecret(secret) as Secret<T>,
    expiresAt: toExpiresAt(expiresAt, now),
  };
  if (tokenType !== undefined) token.tokenType = toFact('tokenType', tokenType);
  if (scope !== undefined) token.scope = toFact('scope', scope);
  if (refreshAfter !== undefined) token.refreshAfter = toRefreshAfter(refreshAfter, now);
  return Object.freeze(token);
}

/** A secret's parts are named by the mint's code, not by the issuer: at most this many, each name short. */
const MAX_SECRET_PARTS = 16;

function toSecret(secret: unknown): Secret<SecretValue> {
  const value = secret instanceof Secret ? (secret as Secret<SecretValue>).reveal() : secret;
  if (typeof value === 'string') {
    if (value.length === 0) throw new CredentialError('INVALID_TOKEN', 'minted token secret is empty');
  } else if (isPlainObject(value)) {
    // neither a part's name nor its value is printed: a mint that put an issuer's response in the
    // wrong field could have made a secret a name
    const parts = Object.entries(value);
    if (parts.length === 0 || parts.length > MAX_SECRET_PARTS) throw new CredentialError('INVALID_TOKEN', `minted token secret must have 1 to ${MAX_SECRET_PARTS} parts, got ${parts.length}`);
    parts.forEach(([, part], index) => {
      const which = `part ${index + 1} of ${parts.length}`;
      if (typeof part !== 'string') throw new CredentialError('INVALID_TOKEN', `minted token secret ${which} must be a string, got ${describeShape(part)}`);
      if (part.length === 0) throw new CredentialError('INVALID_TOKEN', `minted token secret ${which} is empty`);
    });
  } else {
    throw new CredentialError('INVALID_TOKEN', `minted token secret must be a string, an object of strings or a Secret, got ${describeShape(secret)}`);
  }
  return secret instanceof Secret ? (secret as Secret<SecretValue>) : new Secret(value as SecretValue);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

/** A fact is printed in the inspector and in logs, so it is checked as plain text, and never echoed when it is not. */
function toFact(field: 'tokenType' | 'scope', value: unknown): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > 4096) {
    throw new CredentialError('INVALID_TOKEN', `minted token ${field} must be a non-empty string of at most 4096 characters, got ${describeShape(value)}`);
  }
  return value;
}

function toRefreshAfter(refreshAfter: unknown, now: number): number {
  return toEpochMs('refreshAfter', refreshAfter, now, 'for a refresh_in (seconds from now) use Date.now() + refresh_in * 1000');
}

function toExpiresAt(expiresAt: unknown, now: number): number | null {
  return expiresAt === null ? null : toEpochMs('expiresAt', expiresAt, now, HOW_TO_MAP);
}

/** An instant a mint gave (epoch ms or a `Date`), checked: finite, and not in seconds by mistake (`howToMap` says how to convert). */
function toEpochMs(field: 'expiresAt' | 'refreshAfter', value: unknown, now: number, howToMap: string): number {
  const epochMs = value instanceof Date ? value.getTime() : value;
  if (typeof epochMs !== 'number' || !Number.isFinite(epochMs)) {
    const got = typeof epochMs === 'number' ? String(epochMs) : value instanceof Date ? 'an invalid Date' : describeShape(value);
    const allowed = field === 'expiresAt' ? 'finite epoch ms, a valid Date or null' : 'finite epoch ms or a valid Date';
    throw new CredentialError('INVALID_TOKEN', `minted token ${field} must be ${allowed}, got ${got}`);
  }
  if (epochMs < YEAR_2001_MS && now >= YEAR_2001_MS) {
    throw new CredentialError('INVALID_TOKEN', `minted token ${field} ${epochMs} reads as a date before 2001, so it was not given in ms; ${howToMap}`);
  }
  return epochMs;
}
