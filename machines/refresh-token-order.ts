import type { RefreshTokenRecord } from './refresh-token.types.js';

/** What orders two records: their family, its sign-in and the change within it (the status is carried along, never compared). */
export type RecordVersion = Pick<RefreshTokenRecord, 'signedInAt' | 'family' | 'generation' | 'seq' | 'formerFamilies' | 'status'>;

/**
 * Whether `candidate` is newer than `current`: within a family, a later generation (or a later
 * change within one); across families, the one that replaced the other (it names it among its
 * former families); across families neither names (two sign-ins at once, or a sign-in made by a
 * holder that had not heard the current record), the later sign-in. Whether either is dead does not
 * count: a holder's copy of a family that looks live may be one it kept from long ago, its refresh
 * token spent since, and taking it back over a later sign-in would send that refresh token again.
 *
 * @example
 * ```ts
 * if (isNewerRecord(heard, held)) held = heard;
 * ```
 */
export function isNewerRecord(candidate: RecordVersion, current: RecordVersion | null): boolean {
  if (current === null) return true;
  if (candidate.family === current.family) {
    return candidate.generation > current.generation || (candidate.generation === current.generation && candidate.seq > current.seq);
  }
  if (current.formerFamilies.includes(candidate.family)) return false;
  if (candidate.formerFamilies.includes(current.family)) return true;
  return candidate.signedInAt > current.signedInAt || (candidate.signedInAt === current.signedInAt && candidate.family > current.family);
}

/**
 * Whether something heard of (another tab's message, a marker) carries a version that orders it
 * (see {@link isNewerRecord}).
 *
 * @example
 * ```ts
 * if (isRecordVersion(heard) && isNewerRecord(heard, held)) held = heard;
 * ```
 */
export function isRecordVersion<R extends RecordVersion>(plain: unknown): plain is R {
  const record = plain as Partial<RecordVersion> | null | undefined;
  return typeof record?.family === 'string' && [record.signedInAt, record.generation, record.seq].every((count) => typeof count === 'number') && Array.isArray(record.formerFamilies);
}
