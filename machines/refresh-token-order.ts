import type { RefreshTokenRecord } from './refresh-token.types.js';

/** What orders two records: their family, its sign-in, the change within it, and whether it is dead. */
export type RecordVersion = Pick<RefreshTokenRecord, 'signedInAt' | 'family' | 'generation' | 'seq' | 'formerFamilies' | 'status'>;

/**
 * Whether `candidate` is newer than `current`: within a family, a later generation (or a later
 * change within one); across families, the one that replaced the other (it names it among its
 * former families); across families neither replaced (two sign-ins in two tabs at once), a live one
 * over a dead one (revoked, in doubt), else the later sign-in.
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
  const candidateDead = isDead(candidate);
  if (candidateDead !== isDead(current)) return !candidateDead;
  return candidate.signedInAt > current.signedInAt || (candidate.signedInAt === current.signedInAt && candidate.family > current.family);
}

function isDead(record: RecordVersion): boolean {
  return record.status === 'revoked' || record.status === 'inDoubt';
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
