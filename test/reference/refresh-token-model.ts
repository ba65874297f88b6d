/**
 * A reference model of a rotating refresh token's rules, written from the rules in
 * `docs/oauth2.md` ("Rotating refresh tokens") and the record's type comments, not from the statechart: one plain
 * function per event. It predicts the record after each event, or `null` where the event changes
 * nothing, so a table and random sequences can hold `nextRecord` (XState's `transition()` over the
 * statechart) to it field by field.
 */
import type { RefreshTokenEvent, RefreshTokenRecord } from '../../machines/refresh-token.types.js';

/** How many replaced families a record remembers (stated in the docs: "a few", eight). */
export const MODEL_FORMER_FAMILIES = 8;

export function modelNextRecord(record: RefreshTokenRecord, event: RefreshTokenEvent): RefreshTokenRecord | null {
  if (event.type === 'signedIn') {
    // a new sign-in replaces the family in any state, unless it is this family or one already replaced
    if (event.family === record.family || record.formerFamilies.includes(event.family)) return null;
    const formerFamilies = [record.family, ...record.formerFamilies.filter((family) => family !== event.family)].slice(0, MODEL_FORMER_FAMILIES);
    return { status: 'usable', signedInAt: event.at, family: event.family, generation: 0, seq: 0, value: event.refreshToken, grant: null, refusal: null, formerFamilies };
  }
  if (event.type === 'grant.sent') return send(record, event);
  // an answer counts only for the grant the record holds, in flight or in doubt
  const current = record.grant !== null && record.grant.id === event.grantId;
  const answerable = record.status === 'granting' || record.status === 'inDoubt';
  if (!current || !answerable) return null;
  switch (event.type) {
    case 'grant.rotated':
      return { ...record, status: 'usable', generation: record.generation + 1, seq: 0, value: event.next, grant: null };
    case 'grant.kept':
      return { ...record, status: 'usable', generation: record.generation + 1, seq: 0, grant: null };
    case 'grant.refused':
      return { ...record, status: 'revoked', seq: record.seq + 1, value: null, grant: null, refusal: event.refusal };
    case 'grant.lost':
      return record.status === 'granting' ? { ...record, status: 'inDoubt', seq: record.seq + 1 } : null;
    case 'grant.unspent': {
      if (record.status !== 'granting') return null;
      // the refresh token's first send never left: nothing spent it. A retry that never left: the first send is still in doubt.
      const first = record.grant!.firstSentAt === record.grant!.sentAt;
      return first ? { ...record, status: 'usable', seq: record.seq + 1, grant: null } : { ...record, status: 'inDoubt', seq: record.seq + 1 };
    }
  }
}

function send(record: RefreshTokenRecord, event: Extract<RefreshTokenEvent, { type: 'grant.sent' }>): RefreshTokenRecord | null {
  const firstSentAt = record.grant?.firstSentAt ?? event.at;
  // within the first half of the issuer's reuse interval, counted from the refresh token's first send
  const reusable = record.grant !== null && event.reuseIntervalMs > 0 && event.at < record.grant.firstSentAt + event.reuseIntervalMs / 2;
  const allowed =
    record.status === 'usable' ||
    (record.status === 'inDoubt' && reusable) ||
    // another holder's grant given up at its deadline
    (record.status === 'granting' && event.at >= record.grant!.deadline && reusable);
  if (!allowed) return null;
  return { ...record, status: 'granting', seq: record.seq + 1, grant: { id: event.grantId, sentAt: event.at, deadline: event.deadline, firstSentAt } };
}
