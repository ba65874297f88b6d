import type { MintOutput } from '../machines/credential.types.js';
import { MintFailure } from '../machines/mint-failure.js';
import { toAuthToken, type AuthToken, type MintedToken } from './auth-token.js';
import type { Clock } from './clock.js';

/**
 * Fetches a new token. `signal` aborts when the provider gives up on this attempt (timeout,
 * every waiting caller aborted, or `stop()`): pass it to `fetch` so the request stops too.
 */
export type Mint = (context: { signal: AbortSignal }) => Promise<MintedToken>;

/**
 * Runs the user's mint and checks its result: a thrown value or a bad token rejects as a
 * {@link MintFailure} dated by `clock`; a good token resolves with its landing time and the jitter
 * sample drawn for it. Both the construction mint and the statechart's mint actor use this.
 *
 * @example
 * ```ts
 * const { token } = await runMint(mint, new AbortController().signal, systemClock, () => 0);
 * ```
 */
export async function runMint(mint: Mint, signal: AbortSignal, clock: Clock, jitter: () => number): Promise<MintOutput> {
  let minted: unknown;
  try {
    minted = await mint({ signal });
  } catch (error) {
    throw new MintFailure(error, clock.now());
  }
  const settledAt = clock.now();
  let token: AuthToken;
  try {
    token = toAuthToken(minted, settledAt);
  } catch (error) {
    throw new MintFailure(error, settledAt);
  }
  return { token, settledAt, jitter: sampleJitter(jitter) };
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
