import { assertEvent, assign, setup } from 'xstate';
import type { RefreshTokenContext, RefreshTokenEvent } from './refresh-token.types.js';

/** How many replaced families a record remembers. */
export const FORMER_FAMILIES_KEPT = 8;

/** What a grant's answer can say: each names the grant it answers. */
const ANSWERS = ['grant.rotated', 'grant.kept', 'grant.unspent', 'grant.refused', 'grant.lost'] satisfies RefreshTokenEvent['type'][];

/**
 * A rotating refresh token's life, the one set of rules every holder applies (a process alone, the
 * lease holder of a fleet, the tab holding the lock): a refresh token is spent from the moment a
 * grant carrying it is handed to the transport, and may be sent again only where that grant's failure
 * proves nothing left the process; an answer that carries a new refresh token wins, whenever it
 * arrives; `invalid_grant` is final; a new sign-in replaces the family in any state.
 *
 * Holders keep and share the state and context (a `RefreshTokenRecord`) and step it with XState's pure
 * `transition()` (see `nextRecord`), so the same rules run in each, and a record written by one
 * process is read by another. No timer runs here: a grant's deadline is data, read by the guards
 * against the clock reading each event carries.
 *
 * @example
 * ```ts
 * const sent = nextRecord(record, { type: 'grant.sent', grantId, at: now, deadline: now + 60_000, reuseIntervalMs: 0 });
 * sent?.status; // 'granting'
 * ```
 */
export const refreshTokenMachine = /* @__PURE__ */ setup({
  types: {} as { context: RefreshTokenContext; events: RefreshTokenEvent; input: RefreshTokenContext },
  guards: {
    /**
     * The answer is about the grant the record holds (a late answer to an older grant changes nothing;
     * a record in doubt may hold none: an earlier release's, or a tab's marker).
     */
    isCurrentGrant: ({ context, event }) => {
      assertEvent(event, ANSWERS);
      return context.grant?.id === event.grantId;
    },
    /** As `isCurrentGrant`, and the grant was this refresh token's first: nothing else ever sent it. */
    isCurrentFirstGrant: ({ context, event }) => {
      assertEvent(event, 'grant.unspent');
      return context.grant?.id === event.grantId && context.grant.firstSentAt === context.grant.sentAt;
    },
    /**
     * Another grant's deadline has passed without an answer (it is in doubt), and the issuer's reuse
     * interval, counted from the first time this refresh token was sent, still allows sending it again.
     */
    earlierGrantGivenUpWithinReuseInterval: ({ context, event }) => {
      assertEvent(event, 'grant.sent');
      return context.grant !== null && event.at >= context.grant.deadline && withinReuseInterval(context, event);
    },
    /** The issuer's reuse interval still allows sending an in-doubt refresh token again. */
    withinReuseInterval: ({ context, event }) => {
      assertEvent(event, 'grant.sent');
      return withinReuseInterval(context, event);
    },
    /**
     * A sign-in of another family, never seen before (the same sign-in heard twice, or heard after its
     * family was used and replaced, changes nothing: its refresh token may be spent).
     */
    isNewFamily: ({ context, event }) => {
      assertEvent(event, 'signedIn');
      return event.family !== context.family && !context.formerFamilies.includes(event.family);
    },
  },
  actions: {
    recordGrant: assign(({ context, event }) => {
      assertEvent(event, 'grant.sent');
      // a retry of the same refresh token keeps when it was first sent: the reuse interval counts from then
      const firstSentAt = context.grant?.firstSentAt ?? event.at;
      return { seq: context.seq + 1, grant: { id: event.grantId, sentAt: event.at, deadline: event.deadline, firstSentAt } };
    }),
    rotate: assign(({ context, event }) => {
      assertEvent(event, 'grant.rotated');
      return { generation: context.generation + 1, seq: 0, value: event.next, grant: null };
    }),
    keep: assign(({ context }) => ({ generation: context.generation + 1, seq: 0, grant: null })),
    releaseUnsent: assign(({ context }) => ({ seq: context.seq + 1, grant: null })),
    markLost: assign(({ context }) => ({ seq: context.seq + 1 })),
    revoke: assign(({ context, event }) => {
      assertEvent(event, 'grant.refused');
      return { seq: context.seq + 1, value: null, grant: null, refusal: event.refusal };
    }),
    startFamily: assign(({ context, event }) => {
      assertEvent(event, 'signedIn');
      return {
        signedInAt: event.at,
        family: event.family,
        generation: 0,
        seq: 0,
        value: event.refreshToken,
        grant: null,
        refusal: null,
        // the new family is in neither (isNewFamily): it is never listed twice
        formerFamilies: [context.family, ...context.formerFamilies].slice(0, FORMER_FAMILIES_KEPT),
      };
    }),
  },
}).createMachine({
  id: 'refreshToken',
  context: ({ input }) => input,
  initial: 'usable',
  on: {
    signedIn: { guard: 'isNewFamily', target: '.usable', actions: 'startFamily' },
  },
  states: {
    usable: {
      on: { 'grant.sent': { target: 'granting', actions: 'recordGrant' } },
    },
    granting: {
      description: 'sent, no answer yet: nobody else sends it until the grant’s deadline',
      on: {
        'grant.rotated': { guard: 'isCurrentGrant', target: 'usable', actions: 'rotate' },
        'grant.kept': { guard: 'isCurrentGrant', target: 'usable', actions: 'keep' },
        'grant.unspent': [
          { guard: 'isCurrentFirstGrant', target: 'usable', actions: 'releaseUnsent' },
          // a retry that did not leave: the earlier send of the same refresh token is still in doubt
          { guard: 'isCurrentGrant', target: 'inDoubt', actions: 'markLost' },
        ],
        'grant.refused': { guard: 'isCurrentGrant', target: 'revoked', actions: 'revoke' },
        'grant.lost': { guard: 'isCurrentGrant', target: 'inDoubt', actions: 'markLost' },
        'grant.sent': { guard: 'earlierGrantGivenUpWithinReuseInterval', target: 'granting', actions: 'recordGrant' },
      },
    },
    inDoubt: {
      description: 'it may have been spent: never sent again, unless within the issuer’s reuse interval',
      on: {
        // a late answer to the grant in doubt still counts: the holder that got it keeps its refresh token
        'grant.rotated': { guard: 'isCurrentGrant', target: 'usable', actions: 'rotate' },
        'grant.kept': { guard: 'isCurrentGrant', target: 'usable', actions: 'keep' },
        'grant.refused': { guard: 'isCurrentGrant', target: 'revoked', actions: 'revoke' },
        'grant.sent': { guard: 'withinReuseInterval', target: 'granting', actions: 'recordGrant' },
      },
    },
    revoked: {
      description: 'invalid_grant: final until a new sign-in',
    },
  },
});

/** The statechart's type. */
export type RefreshTokenMachine = typeof refreshTokenMachine;

/**
 * Within the first half of the issuer's reuse interval, counted from the refresh token's first send:
 * the second half is left for the retry to reach the issuer (which counts from when it first saw it).
 */
function withinReuseInterval(context: RefreshTokenContext, event: { readonly at: number; readonly reuseIntervalMs: number }): boolean {
  const since = context.grant?.firstSentAt;
  return since !== undefined && event.reuseIntervalMs > 0 && event.at < since + event.reuseIntervalMs / 2;
}
