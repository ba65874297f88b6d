import type { Secret } from './secret.js';

/**
 * Where a rotating refresh token is in its life:
 * - `usable`: it may be sent;
 * - `granting`: a grant carrying it was handed to the transport and has not said how it went: until
 *   its `deadline`, nobody else sends it (its answer may still come);
 * - `inDoubt`: the grant's answer was lost (no response, or its deadline passed): it may have been
 *   spent, so it is never sent again (except within the issuer's reuse interval, when one is set);
 * - `revoked`: the issuer refused it (`invalid_grant`): final until a new sign-in.
 */
export type RefreshTokenStatus = 'usable' | 'granting' | 'inDoubt' | 'revoked';

/** The grant in flight (or in doubt): who sent it, when, and until when its answer may still come. */
export interface GrantInFlight {
  readonly id: string;
  readonly sentAt: number;
  readonly deadline: number;
  /** When this refresh token was first sent (a retry within the issuer's reuse interval keeps it): the interval counts from then. */
  readonly firstSentAt: number;
}

/** What the issuer said when it refused the refresh token. */
export interface GrantRefusal {
  /** The OAuth `error` (`invalid_grant`). */
  readonly error: string;
  readonly description?: string;
}

/**
 * The statechart's context: what a holder knows of its refresh token besides where it is in its life.
 * Its version (`signedInAt`, `family`, `generation`, `seq`) orders any two records (see
 * `isNewerRecord`), so holders that hear of one late, or twice, agree.
 */
export interface RefreshTokenContext {
  /** When the family's sign-in was handed over (`signIn`); 0 for the refresh token the app was configured with. */
  readonly signedInAt: number;
  /** The family: one per sign-in, named by a fingerprint of its first refresh token (or at random by `signIn`). */
  readonly family: string;
  /** Grants answered in this family: 0 is the sign-in's own refresh token. */
  readonly generation: number;
  /** Changes within this generation (a grant sent, lost, not sent after all). */
  readonly seq: number;
  /** The refresh token; `null` once revoked. */
  readonly value: Secret | null;
  readonly grant: GrantInFlight | null;
  /** Set when revoked. */
  readonly refusal: GrantRefusal | null;
  /** The families this one replaced, newest first (a few): their refresh tokens are never sent again. */
  readonly formerFamilies: readonly string[];
}

/**
 * One refresh token's life as every holder keeps and shares it (a process alone, the fleet's Redis,
 * the tabs): the statechart's state and context together.
 */
export interface RefreshTokenRecord extends RefreshTokenContext {
  readonly status: RefreshTokenStatus;
}

/** What a holder tells the statechart about its refresh token. */
export type RefreshTokenEvent =
  /** A grant carrying the refresh token is about to be handed to the transport (written before it is). */
  | { readonly type: 'grant.sent'; readonly grantId: string; readonly at: number; readonly deadline: number; readonly reuseIntervalMs: number }
  /** The refresh token was not spent: the grant never left (refused connection, offline, given up before sending), or the issuer answered with an error that did not take it (5xx, 429). */
  | { readonly type: 'grant.unspent'; readonly grantId: string }
  /** The issuer answered with a new refresh token (even when the rest of its answer was refused). */
  | { readonly type: 'grant.rotated'; readonly grantId: string; readonly next: Secret }
  /** The issuer answered and kept the refresh token (it does not rotate). */
  | { readonly type: 'grant.kept'; readonly grantId: string }
  /** The issuer refused the refresh token itself (`invalid_grant`). */
  | { readonly type: 'grant.refused'; readonly grantId: string; readonly refusal: GrantRefusal }
  /** The grant's answer is lost (no response after sending, aborted after sending, its deadline passed). */
  | { readonly type: 'grant.lost'; readonly grantId: string }
  /** A new sign-in's refresh token replaces the family, whatever state it is in. */
  | { readonly type: 'signedIn'; readonly family: string; readonly at: number; readonly refreshToken: Secret };
