import type { SecretValue } from '../../machines/secret.js';

/**
 * A token as tabs hand it to each other over `BroadcastChannel` (a structured clone: the secret is
 * revealed for the hand-over, which never leaves the origin's own tabs), with its identity.
 */
export interface SharedToken {
  /** Unique to this token: a tab adopts a shared token only if it is not the one it holds. */
  readonly id: string;
  readonly secret: SecretValue;
  readonly expiresAt: number | null;
  readonly tokenType?: string;
  readonly scope?: string;
  readonly refreshAfter?: number;
}

/** The state shared with a token (a rotating refresh token), by version. */
export interface SharedState {
  /** This version's id; `'initial'` stands for the refresh token the app started from (never shared). */
  readonly id: string;
  /** 1 for the state the first grant returned, one more for each grant after: a tab keeps the highest it heard of. */
  readonly generation: number;
  readonly value: string | null;
}

/** What tabs tell each other, per shared key. */
export type TabMessage =
  /** A tab minted (or answers `want`): the token (`null`: a grant returned the next state but no usable token), and the state that goes with it. */
  | { readonly type: 'token'; readonly key: string; readonly token: SharedToken | null; readonly state?: SharedState | undefined }
  /** A tab that has no token asks the live tabs for theirs. */
  | { readonly type: 'want'; readonly key: string }
  /** A tab is about to run an exclusive grant with this state: until it says how it went, the state is in doubt. */
  | { readonly type: 'granting'; readonly key: string; readonly stateId: string }
  /** The grant with this state failed before the issuer could spend it: the state may be used again. */
  | { readonly type: 'grant-failed'; readonly key: string; readonly stateId: string }
  /** The grant's outcome is unknown: this state is never used again. */
  | { readonly type: 'spent'; readonly key: string; readonly stateId: string }
  /** A tab's own echo, to know every message sent before it was delivered first. */
  | { readonly type: 'barrier' };

/** The message's version: a tab running another version of this library ignores it. */
export const MESSAGE_VERSION = 1;

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
