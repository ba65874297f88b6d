import type { SecretValue } from '../../machines/secret.js';
import type { PlainRecord } from '../refresh-token-grant.js';

/**
 * A token as tabs hand it to each other over `BroadcastChannel` (a structured clone: the secret is
 * revealed for the hand-over, which never leaves the origin's own tabs), with its identity.
 */
export interface SharedToken {
  /** Unique to this token: a tab adopts a shared token only if it is not the one it holds. */
  readonly id: string;
  readonly secret: SecretValue;
  readonly expiresAt: number | null;
  /** When it was minted, on the minting tab's clock: of two tokens that expire together, the later is newer. */
  readonly mintedAt: number;
  readonly tokenType?: string;
  readonly scope?: string;
  readonly refreshAfter?: number;
  /**
   * The refresh-token record version the grant that minted it made (absent for a token no grant of
   * this origin minted, or from a tab of an earlier release): a tab that hears of a newer version than
   * its token's waits for that version's token before it grants (see `#tokenOnItsWay`).
   */
  readonly grantedAt?: { readonly family: string; readonly generation: number };
}

/** What tabs tell each other, per shared key. */
export type TabMessage =
  /** A tab minted (or answers `want`): the token (`null`: none usable), and the refresh token's record, if any. */
  | { readonly type: 'token'; readonly key: string; readonly token: SharedToken | null; readonly record?: PlainRecord | undefined }
  /** A tab that has no token, or is about to send a refresh token, asks the live tabs for what they know. */
  | { readonly type: 'want'; readonly key: string }
  /** The refresh token's record changed (a grant marked before it is sent, its outcome, a new sign-in). */
  | { readonly type: 'record'; readonly key: string; readonly record: PlainRecord }
  /** A mint failed at the issuer: one more failure for the tabs' breaker (`retryAfterMs` when the issuer said when to come back); `id` counts it once however often it is posted. */
  | { readonly type: 'failure'; readonly key: string; readonly id: string; readonly at: number; readonly retryAfterMs: number | null }
  /** A mint was answered: the tabs' breaker closes. */
  | { readonly type: 'answered'; readonly key: string }
  /** A tab's own echo, to know every message sent before it was delivered first. */
  | { readonly type: 'barrier' };

/** The message's version: a tab running another version of this library ignores it. */
export const MESSAGE_VERSION = 2;

/**
 * Whether `data` is a message of this version of the protocol. Only the origin's own scripts can
 * post on the channel, and any of them could read the token anyway: the version is what keeps
 * tabs running another release of this library from being misread, so it is all that is checked
 * besides the envelope.
 */
export function isTabMessage(data: unknown): data is TabMessage & { readonly v: typeof MESSAGE_VERSION; readonly nonce: string } {
  const message = (typeof data === 'object' && data !== null ? data : {}) as { v?: unknown; type?: unknown; key?: unknown; nonce?: unknown };
  return message.v === MESSAGE_VERSION && typeof message.nonce === 'string' && (message.type === 'barrier' || typeof message.key === 'string');
}
