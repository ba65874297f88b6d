import type { MintOutput, SharedMintPhase } from '../machines/credential.types.js';
import { MintFailure, type MintBlame } from '../machines/mint-failure.js';
import { defaultClassifyFailure } from './classify-failure.js';
import { retryAfterOf } from './retry-after.js';
import { toAuthToken, type AuthToken, type MintedToken } from './auth-token.js';
import type { Clock } from './clock.js';

/**
 * Fetches a new token. `signal` aborts when the provider gives up on this attempt (timeout,
 * every waiting caller aborted, or `stop()`): pass it to `fetch` so the request stops too.
 * `phase` is for a mint shared across processes (a `coordination`): it tells the statechart
 * where the shared mint is, so the inspector and the model-based tests see it. A plain mint ignores it.
 */
export type Mint = (context: MintContext) => Promise<MintedToken>;

/** What a {@link Mint} is given. */
export interface MintContext {
  readonly signal: AbortSignal;
  readonly phase?: (phase: SharedMintPhase) => void;
  /**
   * Under a coordination, the state shared with the token (a rotating refresh token), as the fleet
   * holds it now: `null` when none was shared yet. `undefined` without a coordination. The mint
   * returns the next state as `MintedToken.state`; the lease holder writes it, sealed, before it
   * releases the lease.
   */
  readonly state?: string | null;
}

/**
 * A mint that must never run twice with the same state in the fleet (a rotating refresh-token
 * grant): a coordination holds its lease through it, never runs it while Redis is down, and
 * marks its state unusable when an attempt's outcome is unknown.
 */
export interface ExclusiveMint extends Mint {
  readonly exclusive: true;
}

/** Whether `mint` is an {@link ExclusiveMint}. */
export function isExclusiveMint(mint: Mint): mint is ExclusiveMint {
  return (mint as { exclusive?: unknown }).exclusive === true;
}

/**
 * Runs the user's mint and checks its result: a thrown value or a bad token rejects as a
 * {@link MintFailure} dated by `clock`, with whose failure it is (`classify`) and the issuer's
 * `Retry-After`; a good token resolves with its landing time and the jitter
 * sample drawn for it. Both the construction mint and the statechart's mint actor use this.
 *
 * @example
 * ```ts
 * const { token } = await runMint(mint, new AbortController().signal, systemClock, () => 0);
 * ```
 */
export async function runMint(
  mint: Mint,
  signal: AbortSignal,
  clock: Clock,
  jitter: () => number,
  classify: (error: unknown) => MintBlame = defaultClassifyFailure,
  phase?: (phase: SharedMintPhase) => void,
): Promise<MintOutput> {
  let minted: unknown;
  try {
    minted = await mint(phase === undefined ? { signal } : { signal, phase });
  } catch (error) {
    throw new MintFailure(error, clock.now(), { blame: blameOf(classify, error), retryAfterMs: retryAfterOf(error) });
  }
  const settledAt = clock.now();
  let token: AuthToken;
  try {
    token = toAuthToken(minted, settledAt);
  } catch (error) {
    // the issuer answered, with something unusable for this key
    throw new MintFailure(error, settledAt, { blame: 'key' });
  }
  return { token, settledAt, jitter: sampleJitter(jitter) };
}

/** A classifier that throws, or answers something else, blames the issuer (the safer guess). */
function blameOf(classify: (error: unknown) => MintBlame, error: unknown): MintBlame {
  try {
    const blame = classify(error);
    return blame === 'key' || blame === 'pool' ? blame : 'issuer';
  } catch {
    return 'issuer';
  }
}

/** A throwing or non-numeric jitter source counts as no jitter; out-of-range samples are clamped later. */
function sampleJitter(jitter: () => number): number {
  try {
    const sample = jitter();
    return typeof sample === 'number' ? sample : 0;
  } catch {
    return 0;
  }
}
