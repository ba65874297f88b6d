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
  /** A tab minted (or answers `want`): the token, and the state that goes with it. */
  | { readonly type: 'token'; readonly key: string; readonly token: SharedToken; readonly state?: SharedState }
  /** A grant returned the next state but no usable token: the state alone. */
  | { readonly type: 'state'; readonly key: string; readonly state: SharedState }
  /** A tab that has no token asks the live tabs for theirs. */
  | { readonly type: 'want'; readonly key: string }
  /** A tab is about to run an exclusive grant with this state: until it says how it went, the state is in doubt. */
  | { readonly type: 'granting'; readonly key: string; readonly stateId: string }
  /** The grant with this state failed before the issuer could spend it: the state may be used again. */
  | { readonly type: 'grant-failed'; readonly key: string; readonly stateId: string }
  /** The grant's outcome is unknown: this state is never used again. */
  | { readonly type: 'spent'; readonly key: string; readonly stateId: string }
  /** A tab's own echo, to know every message sent before it was delivered first. */
  | { readonly type: 'barrier'; readonly nonce: string };

/** The message's version: a tab running another version of this library ignores it. */
export const MESSAGE_VERSION = 1;

/**
 * Whether `data` (anything another tab, or any script of the origin, posted on the channel) is a
 * message this version understands, checked field by field: a malformed one is ignored.
 */
export function isTabMessage(data: unknown): data is TabMessage & { readonly v: typeof MESSAGE_VERSION } {
  if (typeof data !== 'object' || data === null) return false;
  const message = data as { v?: unknown; type?: unknown; key?: unknown; stateId?: unknown; nonce?: unknown; token?: unknown; state?: unknown };
  if (message.v !== MESSAGE_VERSION) return false;
  if (message.type === 'barrier') return typeof message.nonce === 'string';
  if (typeof message.key !== 'string') return false;
  switch (message.type) {
    case 'want':
      return true;
    case 'granting':
    case 'grant-failed':
    case 'spent':
      return typeof message.stateId === 'string';
    case 'token':
      return isSharedToken(message.token) && (message.state === undefined || isSharedState(message.state));
    case 'state':
      return isSharedState(message.state);
    default:
      return false;
  }
}

function isSharedToken(value: unknown): value is SharedToken {
  if (typeof value !== 'object' || value === null) return false;
  const token = value as Partial<Record<keyof SharedToken, unknown>>;
  return (
    typeof token.id === 'string' &&
    (typeof token.secret === 'string' || (typeof token.secret === 'object' && token.secret !== null)) &&
    (token.expiresAt === null || typeof token.expiresAt === 'number')
  );
}

function isSharedState(value: unknown): value is SharedState {
  if (typeof value !== 'object' || value === null) return false;
  const state = value as Partial<Record<keyof SharedState, unknown>>;
  return typeof state.id === 'string' && Number.isSafeInteger(state.generation) && (state.value === null || typeof state.value === 'string');
}
