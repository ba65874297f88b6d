import { describe, expect, it } from 'vitest';
import { createCredentialProvider, CredentialError, type CredentialProviderOptions } from '../../src/index.js';
import { ManualClock } from '../../src/testing/index.js';
import { outcome } from '../helpers.js';

const mint = async () => ({ secret: 'x', expiresAt: null });

async function rejectionOf(options: unknown): Promise<CredentialError> {
  const result = await outcome(createCredentialProvider(options as CredentialProviderOptions));
  expect(result.ok).toBe(false);
  if (result.ok) throw new Error('unreachable');
  expect(result.error).toBeInstanceOf(CredentialError);
  return result.error as CredentialError;
}

describe('bad config fails at construction', () => {
  it('names a missing mint as UNCONFIGURED', async () => {
    for (const options of [{}, { mint: 'nope' }, undefined, null]) {
      const error = await rejectionOf(options);
      expect(error.code).toBe('UNCONFIGURED');
      expect(error.message).toMatch(/\bmint\b/);
    }
  });

  it.each([
    ['refreshAt', -0.1],
    ['refreshAt', 1.1],
    ['refreshAt', Number.NaN],
    ['refreshFloorMs', -1],
    ['refreshFloorMs', Infinity],
    ['refreshFloorMs', Number.NaN],
    ['breakerCooldownMs', -5],
    ['breakerCooldownMs', Infinity],
    ['breakerThreshold', 0],
    ['breakerThreshold', 2.5],
    ['breakerThreshold', Number.NaN],
    ['mintTimeoutMs', -1],
    ['mintTimeoutMs', Number.NaN],
    ['mintTimeoutMs', 0],
    ['refresh', 'eager'],
    ['jitter', 0.5],
    ['invalidateMinIntervalMs', -1],
  ])('rejects %s = %s as INVALID_CONFIG naming the field', async (field, value) => {
    let minted = 0;
    const error = await rejectionOf({ mint: async () => (minted++, mint()), [field]: value });
    expect(error.code).toBe('INVALID_CONFIG');
    expect(error.message.startsWith(`${field} `)).toBe(true);
    expect(minted).toBe(0);
  });

  it('rejects a clock without its three functions', async () => {
    const error = await rejectionOf({ mint, clock: { now: () => 0 } });
    expect(error.code).toBe('INVALID_CONFIG');
    expect(error.message).toMatch(/clock/);
  });

  it('accepts the edges of every range', async () => {
    const provider = await createCredentialProvider({
      mint,
      clock: new ManualClock(0),
      refreshAt: 0,
      refreshFloorMs: 0,
      breakerThreshold: 1,
      breakerCooldownMs: 0,
      mintTimeoutMs: Infinity,
      refresh: 'proactive',
      invalidateMinIntervalMs: 0,
    });
    await provider.stop();
  });
});

describe('seconds written where milliseconds go (issue 26)', () => {
  it('are refused on the system clock, with the fix; 0 (none) and a test clock take any value', async () => {
    const { createCredentialProvider, createCredentialPool } = await import('../../src/index.js');
    const { ManualClock } = await import('../../src/testing/index.js');
    const mint = async () => ({ secret: 's', expiresAt: null });
    await expect(createCredentialProvider({ mint, breakerCooldownMs: 60 })).rejects.toMatchObject({
      code: 'INVALID_CONFIG',
      message: 'breakerCooldownMs is 60 ms: did you mean 60_000 (60 s)? Durations are in milliseconds',
    });
    await expect(createCredentialProvider({ mint, refreshFloorMs: 30 })).rejects.toMatchObject({ message: expect.stringContaining('refreshFloorMs is 30 ms: did you mean 30_000') });
    expect(() => createCredentialPool({ mint, mintTimeoutMs: 5 })).toThrow(/mintTimeoutMs is 5 ms/);
    const provider = await createCredentialProvider({ mint, invalidateMinIntervalMs: 0, breakerCooldownMs: 100 });
    await provider.stop();
    const onTestClock = await createCredentialProvider({ mint, clock: new ManualClock(0), breakerCooldownMs: 60 });
    await onTestClock.stop();
  });
});
