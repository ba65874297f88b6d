import type { CredentialProvider } from '../../src/index.js';
import type { ManualClock } from '../../src/testing/index.js';

/** The secret the scenario's mint returns, as a plain string: it must never reach an inspector. */
export const INSPECTED_SECRET = 'inspected-secret-5c9e1f02-never-on-the-wire';
const HOUR = 3_600_000;

/** A mint the scenario drives: it returns the secret as a plain string, or fails with an error carrying it. */
export function scenarioMint() {
  const queue: Array<{ resolve(value: { secret: string; expiresAt: number }): void; reject(error: unknown): void }> = [];
  return {
    mint: () => new Promise<{ secret: string; expiresAt: number }>((resolve, reject) => queue.push({ resolve, reject })),
    succeed(expiresAt: number) {
      queue.shift()!.resolve({ secret: `${INSPECTED_SECRET}-${expiresAt}`, expiresAt });
    },
    fail() {
      // an HTTP client's error that kept the request, bearer header and all
      const error = Object.assign(new Error('issuer unavailable (503)'), {
        code: 'ISSUER_DOWN',
        request: { headers: { authorization: `Bearer ${INSPECTED_SECRET}` }, body: `client_secret=${INSPECTED_SECRET}` },
      });
      queue.shift()!.reject(error);
    },
  };
}

const settle = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

/**
 * Refresh, failures, the breaker opening, a failed probe, recovery. Returns the provider's own
 * sequence of `{ validity, breaker }` so a receiver's view can be compared with it.
 */
export async function runScenario(provider: CredentialProvider, clock: ManualClock, mint: ReturnType<typeof scenarioMint>): Promise<void> {
  const request = () => provider.currentToken().catch(() => undefined);
  clock.advance(0.8 * HOUR); // refresh due
  void request();
  mint.succeed(clock.now() + HOUR);
  await settle();
  clock.set(clock.now() + HOUR); // expired
  for (let failure = 0; failure < 2; failure++) {
    const waiting = request();
    mint.fail();
    await waiting;
  }
  clock.advance(60_000); // cooldown over: half-open
  const probe = request();
  mint.fail(); // the probe fails: open again
  await probe;
  clock.advance(60_000);
  const recovery = request();
  mint.succeed(clock.now() + HOUR);
  await recovery;
  await settle();
}
