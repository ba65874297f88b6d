import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { BreakerOpenError, createCredentialPool, createCredentialProvider } from '../../src/index.js';
import { ManualClock } from '../../src/testing/index.js';
import { FleetBreakerOpenError } from '../../src/redis/index.js';
import { Secret } from '../../machines/secret.js';
import { flush } from '../helpers.js';

const CLIENT_SECRET = 'client-secret-3f9a-never-in-an-error';

const invalidConfig = (pattern: RegExp) => expect.objectContaining({ code: 'INVALID_CONFIG', message: expect.stringMatching(pattern) });

describe('BREAKER_OPEN carries what a gateway needs', () => {
  it('openUntil, retryAfterMs, the reason, an ISO time in the message, and the last failure as a redacted cause', async () => {
    const clock = new ManualClock(Date.UTC(2026, 10, 30, 12));
    let calls = 0;
    const leakyFailure = Object.assign(new Error('issuer down'), { code: 'EISSUER', response: { headers: { authorization: `Basic ${CLIENT_SECRET}` } } });
    const mint = async () => {
      calls++;
      if (calls === 1) return { secret: 'first', expiresAt: clock.now() + 1_000 };
      throw leakyFailure;
    };
    const provider = await createCredentialProvider({ mint, clock, breakerThreshold: 1, breakerCooldownMs: 30_000, refreshFloorMs: 0 });
    clock.advance(1_000);
    await provider.currentToken().catch(() => {}); // the mint fails: the breaker opens
    await flush();
    clock.advance(5_000);
    const refusal = (await provider.currentToken().catch((caught: unknown) => caught)) as BreakerOpenError;
    expect(refusal).toBeInstanceOf(BreakerOpenError);
    expect(refusal).toMatchObject({ code: 'BREAKER_OPEN', scope: 'credential', reason: 'failures', openUntil: Date.UTC(2026, 10, 30, 12) + 31_000, retryAfterMs: 25_000 });
    expect(refusal.message).toBe('the mint breaker is open until 2026-11-30T12:00:31.000Z (25000 ms), after consecutive failures; last failure: Error EISSUER');
    expect(refusal.cause).toMatchObject({ name: 'Error', message: 'issuer down', code: 'EISSUER' });
    expect(refusal.cause).not.toBe(leakyFailure);
    const everything = `${JSON.stringify(refusal)} ${inspect(refusal, { depth: 10 })} ${JSON.stringify(structuredClone(refusal))}`;
    expect(everything).not.toContain(CLIENT_SECRET);
    expect(refusal.toJSON()).toMatchObject({ scope: 'credential', retryAfterMs: 25_000, cause: { code: 'EISSUER' } });
    await provider.stop();
  });

  it('the fleet’s breaker refusal is a BreakerOpenError too', () => {
    const refusal = new FleetBreakerOpenError(4_000, Date.UTC(2026, 10, 30));
    expect(refusal).toBeInstanceOf(BreakerOpenError);
    expect(refusal).toMatchObject({ code: 'BREAKER_OPEN', scope: 'fleet', retryAfterMs: 4_000, openUntil: Date.UTC(2026, 10, 30) + 4_000 });
    expect(refusal.message).toBe("the fleet's breaker for this credential is open until 2026-11-30T00:00:04.000Z (4000 ms)");
  });

  it('a pool key refused by the issuer breaker gets scope issuer and the issuer’s last failure', async () => {
    const clock = new ManualClock(Date.UTC(2026, 10, 30));
    const pool = createCredentialPool({
      mint: async () => {
        throw Object.assign(new Error('503 from issuer'), { status: 503 });
      },
      clock,
      breakerThreshold: 1,
      breakerCooldownMs: 10_000,
    });
    await pool.currentToken('a').catch(() => {});
    const refusal = (await pool.currentToken('b').catch((caught: unknown) => caught)) as BreakerOpenError;
    expect(refusal).toBeInstanceOf(BreakerOpenError);
    expect(refusal).toMatchObject({ scope: 'issuer', reason: 'failures', retryAfterMs: 10_000 });
    expect(refusal.cause).toMatchObject({ message: '503 from issuer' });
    await pool.stop();
  });
});
describe("firstMint: 'lazy'", () => {
  it('resolves without minting, and the first currentToken() mints; an issuer blip at start-up does not fail the start', async () => {
    const clock = new ManualClock(0);
    let calls = 0;
    const mint = async () => {
      calls++;
      if (calls === 1) throw new Error('issuer blip during the deploy');
      return { secret: new Secret(`t${calls}`), expiresAt: 60_000 };
    };
    const provider = await createCredentialProvider({ mint, clock, firstMint: 'lazy' });
    expect(calls).toBe(0);
    await expect(provider.currentToken()).rejects.toThrow('issuer blip during the deploy');
    expect((await provider.currentToken()).secret).toBeInstanceOf(Secret);
    expect(calls).toBe(2);
    await provider.stop();
  });

  it('eager stays the default: the same blip rejects createCredentialProvider; a bad firstMint is INVALID_CONFIG', async () => {
    let calls = 0;
    const mint = async () => {
      calls++;
      throw new Error('issuer blip during the deploy');
    };
    await expect(createCredentialProvider({ mint, clock: new ManualClock(0) })).rejects.toThrow('issuer blip');
    expect(calls).toBe(1);
    await expect(createCredentialProvider({ mint, firstMint: 'later' as never })).rejects.toEqual(invalidConfig(/firstMint must be 'eager' or 'lazy'/));
  });
});

/** A loopback port nothing listens on: bound by the OS, then closed. */
