import type { GrantRefusal, RefreshTokenRecord, RefreshTokenStatus } from '../machines/refresh-token.types.js';
import { Secret } from '../machines/secret.js';

/**
 * A refresh token's record as holders store and send it, and how they compare versions: small, and
 * free of the statechart, so a tab that only hears of records (and never runs a grant) does not load it.
 */

/**
 * A refresh token's family name: the first 128 bits of SHA-256 of the family's first refresh token,
 * in hex (it names the family without revealing the token).
 *
 * @example
 * ```ts
 * await familyOf(refreshToken); // '9f86d081884c7d659a2feaa0c55ad015'
 * ```
 */
export async function familyOf(refreshToken: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(refreshToken)));
  return Array.from(digest.subarray(0, 16), (byte) => byte.toString(16).padStart(2, '0')).join('');
}

/**
 * A record's version, as holders compare them: family, generation and change within it, and the grant
 * it carries. Two holders' marks of one refresh token count the same changes: only the grant's id
 * tells them apart, so that an outcome one holder writes over its own mark never lands over another's.
 */
export function versionOf(record: Pick<RefreshTokenRecord, 'signedInAt' | 'family' | 'generation' | 'seq' | 'grant'> | null): string {
  if (record === null) return '';
  return record.grant === null ? legacyVersionOf(record) : `${legacyVersionOf(record)}.${record.grant.id}`;
}

/** A record's version as the release before 2026-12-06 wrote it (no grant id), still read from a store written then. */
export function legacyVersionOf(record: Pick<RefreshTokenRecord, 'signedInAt' | 'family' | 'generation' | 'seq'>): string {
  return `${record.signedInAt}.${record.family}.${record.generation}.${record.seq}`;
}

/**
 * A record as it is sealed, stored or posted to another tab: plain data, the refresh token in
 * clear (so only ever inside a sealed value or a same-origin structured clone).
 */
export interface PlainRecord {
  readonly status: RefreshTokenStatus;
  readonly signedInAt: number;
  readonly family: string;
  readonly generation: number;
  readonly seq: number;
  readonly value: string | null;
  readonly grant: RefreshTokenRecord['grant'];
  readonly refusal: GrantRefusal | null;
  readonly formerFamilies: readonly string[];
}

/**
 * The record as plain data (the refresh token revealed: seal it, or post it only among the tabs of an origin).
 *
 * @example
 * ```ts
 * await sealer.seal({ secret: JSON.stringify(toPlainRecord(record)), expires: false }, credential, 0, 'state');
 * ```
 */
export function toPlainRecord(record: RefreshTokenRecord): PlainRecord {
  return { ...record, value: record.value?.reveal() ?? null };
}

/**
 * Plain data back to a record, checked field by field: `null` for anything that is not one (a
 * value written by another version, or damaged), which a holder treats as no record.
 *
 * @example
 * ```ts
 * const record = fromPlainRecord(JSON.parse(opened));
 * ```
 */
export function fromPlainRecord(plain: unknown): RefreshTokenRecord | null {
  if (typeof plain !== 'object' || plain === null) return null;
  const data = plain as Record<string, unknown>;
  const statuses: readonly unknown[] = ['usable', 'granting', 'inDoubt', 'revoked'];
  const counts = [data.generation, data.seq];
  if (!statuses.includes(data.status) || !counts.every((count) => typeof count === 'number' && Number.isSafeInteger(count) && count >= 0)) return null;
  if (typeof data.signedInAt !== 'number' || !Number.isFinite(data.signedInAt) || data.signedInAt < 0) return null;
  if (typeof data.family !== 'string' || data.family.length === 0) return null;
  if (!(data.value === null || (typeof data.value === 'string' && data.value.length > 0))) return null;
  if (!Array.isArray(data.formerFamilies) || !data.formerFamilies.every((family) => typeof family === 'string')) return null;
  const grant = data.grant as Record<string, unknown> | null;
  if (grant !== null && (typeof grant !== 'object' || typeof grant.id !== 'string' || ![grant.sentAt, grant.deadline, grant.firstSentAt].every((at) => typeof at === 'number'))) return null;
  const refusal = data.refusal as Record<string, unknown> | null;
  if (refusal !== null && (typeof refusal !== 'object' || typeof refusal.error !== 'string')) return null;
  return {
    status: data.status as RefreshTokenStatus,
    signedInAt: data.signedInAt as number,
    family: data.family,
    generation: data.generation as number,
    seq: data.seq as number,
    value: data.value === null ? null : new Secret(data.value),
    grant: grant === null ? null : { id: grant.id as string, sentAt: grant.sentAt as number, deadline: grant.deadline as number, firstSentAt: grant.firstSentAt as number },
    refusal: refusal === null ? null : { error: refusal.error as string, ...(typeof refusal.description === 'string' ? { description: refusal.description } : {}) },
    formerFamilies: data.formerFamilies as string[],
  };
}
