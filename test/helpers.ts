import type { AuthToken, CredentialProvider, CredentialProviderOptions, MintedToken, SecretValue } from '../src/index.js';
import { createCredentialProvider } from '../src/index.js';
import { ManualClock } from '../src/testing/index.js';

/** One call the provider made to the scripted mint, settled by the test. */
export interface MintCall {
  readonly signal: AbortSignal;
  resolve(token: MintedToken): void;
  reject(error: unknown): void;
}

/** A mint whose calls the test settles by hand, recording every call and its signal. */
export function scriptedMint() {
  const calls: MintCall[] = [];
  const mint = ({ signal }: { signal: AbortSignal }) =>
    new Promise<MintedToken>((resolve, reject) => {
      calls.push({ signal, resolve, reject });
    });
  return {
    mint,
    calls,
    get count() {
      return calls.length;
    },
    get last(): MintCall {
      const call = calls.at(-1);
      if (call === undefined) throw new Error('the mint was never called');
      return call;
    },
  };
}

/** Lets every queued promise reaction and XState's resulting transitions run (no wall time involved). */
export function flush(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export const HOUR = 3_600_000;
export const SECRET = 'sekret-0f9b2c7e-do-not-leak';

/** A provider on a ManualClock at t=0 whose construction mint returns a one-hour token. */
export async function startProvider(overrides: Partial<CredentialProviderOptions> = {}, firstToken: MintedToken = { secret: `${SECRET}-1`, expiresAt: HOUR }) {
  const clock = new ManualClock(0);
  const script = scriptedMint();
  const pending = createCredentialProvider({ mint: script.mint, clock, ...overrides });
  script.last.resolve(firstToken);
  const provider: CredentialProvider = await pending;
  return { clock, script, provider };
}

/** The settled outcome of a promise, as data. */
export async function outcome<T>(promise: Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
  try {
    return { ok: true, value: await promise };
  } catch (error) {
    return { ok: false, error };
  }
}

/** A token's secret as one string (a statechart's context holds any kind of secret; these tests mint strings). */
export function secretOf(token: AuthToken<SecretValue>): string {
  const value = token.secret.reveal();
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** The three regions every provider test looks at (`sharing` is idle unless a coordination is used). */
export function stateOf(provider: CredentialProvider) {
  const { validity, breaker, flight } = provider.actor.getSnapshot().value;
  return { validity, breaker, flight };
}

/**
 * Lets promise jobs, I/O callbacks and WebCrypto's thread-pool work run (no simulated time passes)
 * until `condition` holds; fails after `rounds` turns. For work whose length no test controls, such
 * as a SHA-256 digest, before the next step of a ManualClock test.
 */
export async function until(condition: () => boolean, rounds = 400): Promise<void> {
  for (let round = 0; round < rounds; round++) {
    if (condition()) return;
    await (round % 10 === 9 ? new Promise((resolve) => setTimeout(resolve, 1)) : flush());
  }
  throw new Error(`the condition did not hold after ${rounds} turns`);
}
