import { transition } from 'xstate';
import { FORMER_FAMILIES_KEPT, refreshTokenMachine } from './refresh-token.machine.js';
import type { GrantRefusal, RefreshTokenEvent, RefreshTokenRecord, RefreshTokenStatus } from './refresh-token.types.js';

export { isNewerRecord } from './refresh-token-order.js';
import type { Secret } from './secret.js';

/**
 * The refresh-token statechart as pure functions over the record every holder keeps and shares: the
 * next record after an event, which of two records is newer, and what a holder about to grant may
 * do. Nothing here reads a clock or imports `src/`.
 */

/**
 * The record after `event`, by the statechart's rules; `null` when the event changes nothing (a late
 * answer to an older grant, a second send of a refresh token in flight, a sign-in heard twice).
 *
 * @example
 * ```ts
 * const lost = nextRecord(granting, { type: 'grant.lost', grantId }); // status 'inDoubt'
 * nextRecord(lost!, { type: 'grant.sent', grantId: 'g2', at, deadline, reuseIntervalMs: 0 }); // null: never sent again
 * ```
 */
export function nextRecord(record: RefreshTokenRecord, event: RefreshTokenEvent): RefreshTokenRecord | null {
  const { status, ...context } = record;
  const snapshot = refreshTokenMachine.resolveState({ value: status, context });
  const [next] = transition(refreshTokenMachine, snapshot, event);
  if (next.value === status && next.context === snapshot.context) return null;
  return { ...next.context, status: next.value as RefreshTokenStatus };
}

/**
 * The record of a family's first refresh token (the one the app was configured with, or a sign-in's).
 *
 * @example
 * ```ts
 * const record = familyRecord(await familyOf(refreshToken), new Secret(refreshToken), 0);
 * ```
 */
export function familyRecord(family: string, value: Secret, signedInAt: number, formerFamilies: readonly string[] = []): RefreshTokenRecord {
  return { status: 'usable', signedInAt, family, generation: 0, seq: 0, value, grant: null, refusal: null, formerFamilies };
}

/** What a holder about to run a grant may do with the record it holds. */
export type GrantDecision =
  /** Send `record.value`. */
  | { readonly kind: 'send' }
  /** Another grant carrying it is in flight: its answer may come until `until`. */
  | { readonly kind: 'wait'; readonly until: number }
  /** It may not be sent: revoked by the issuer, or in doubt (it may be spent). Sign in again. */
  | { readonly kind: 'unusable'; readonly why: 'revoked' | 'inDoubt'; readonly refusal: GrantRefusal | null };

/**
 * What the statechart lets a holder do at `now` with `record`, given the issuer's reuse interval:
 * the same answer `grant.sent` would get, without sending it.
 *
 * @example
 * ```ts
 * grantDecision({ ...record, status: 'granting', grant }, grant.deadline - 1, 0); // { kind: 'wait', until: grant.deadline }
 * ```
 */
export function grantDecision(record: RefreshTokenRecord, now: number, reuseIntervalMs: number): GrantDecision {
  if (record.status === 'revoked') return { kind: 'unusable', why: 'revoked', refusal: record.refusal };
  if (record.status === 'granting' && record.grant !== null && now < record.grant.deadline) return { kind: 'wait', until: record.grant.deadline };
  const probe = nextRecord(record, { type: 'grant.sent', grantId: '\u0000decision', at: now, deadline: now, reuseIntervalMs });
  return probe === null || record.value === null ? { kind: 'unusable', why: 'inDoubt', refusal: null } : { kind: 'send' };
}

/**
 * The record a holder starts from, given what it holds (`held`: shared, stored, or none) and the
 * refresh token the app was configured with (`configured`, a family's first, handed to this holder at
 * `configuredAt` on its clock): the held record (which takes the configured refresh token as its value
 * when it is that very one: the same family, generation 0, its value not known to the holder), unless
 * it is of a family already dead (revoked, or in doubt for good) that the configured token did not come
 * before: then the configured token starts over (a new sign-in's, deployed as config). The configured
 * token came before the held family when the held record lists it among the families it replaced, or
 * when the held family was signed in after this holder was configured: a sign-in made by a holder that
 * had not yet heard the current record lists only what that holder knew, so the list alone can miss an
 * older family that is spent. A held record whose refresh token only another holder knows (a tab's
 * marker) is not dead: the configured token does not replace it.
 *
 * @example
 * ```ts
 * const record = startingRecord(await store.load(), { record: familyRecord(family, configured, 0), at: configuredAt }, clock.now(), 0);
 * ```
 */
export function startingRecord(held: RefreshTokenRecord | null, configured: ConfiguredRecord, now: number, reuseIntervalMs: number): RefreshTokenRecord {
  const { record } = configured;
  if (held === null) return record;
  if (held.family === record.family) {
    return held.value === null && held.generation === record.generation && held.refusal === null ? { ...held, value: record.value } : held;
  }
  if (held.formerFamilies.includes(record.family) || held.signedInAt > configured.at) return held;
  const unknown = held.value === null && held.refusal === null && (held.status === 'usable' || held.status === 'granting');
  if (unknown || grantDecision(held, now, reuseIntervalMs).kind !== 'unusable') return held;
  return { ...record, formerFamilies: [held.family, ...held.formerFamilies].slice(0, FORMER_FAMILIES_KEPT) };
}

/** The record of the refresh token a holder was configured with, and when it was handed over (ms, on the holder's clock). */
export interface ConfiguredRecord {
  readonly record: RefreshTokenRecord;
  readonly at: number;
}
