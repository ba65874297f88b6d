/**
 * The marks a mint carries and what the core reads from them (`src/mint.ts`): an exclusive mint (a
 * rotating refresh token's) must carry what its holders need, or it is refused at construction with
 * `INVALID_CONFIG` (a wrapper that copied the mark and nothing else); a key-bound mint (DPoP) is one
 * marked `keyBound: true`, and nothing else is. The provider refuses such a wrapper through the same
 * check (`createCredentialProvider` below).
 */
import { describe, expect, it } from 'vitest';
import { Secret } from '../../machines/secret.js';
import { createCredentialProvider } from '../../src/index.js';
import { checkExclusiveMint, isKeyBoundMint, type Mint } from '../../src/mint.js';
import { ManualClock } from '../../src/testing/index.js';

const mint = async () => ({ secret: 't', expiresAt: null });
const complete = { exclusive: true, configuredRefreshToken: new Secret('rt'), configuredAt: 1_000, grantTimeoutMs: 1_000, reuseIntervalMs: 0, signIn: async () => {} };

describe('checkExclusiveMint', () => {
  it('passes a mint not marked exclusive, whatever else it carries', () => {
    expect(() => checkExclusiveMint(mint)).not.toThrow();
    expect(() => checkExclusiveMint(Object.assign(async () => ({ secret: 't', expiresAt: null }), { exclusive: 'yes', grantTimeoutMs: -1 }))).not.toThrow();
  });

  it.each<[string, Record<string, unknown>]>([
    ['complete', {}],
    ['a reuse interval of 0', { reuseIntervalMs: 0 }],
    ['a reuse interval', { reuseIntervalMs: 2_000 }],
    ['a grant timeout of 1 ms', { grantTimeoutMs: 1 }],
    ["configured at the clock's start", { configuredAt: 0 }],
  ])('passes an exclusive mint that carries everything: %s', (_, fields) => {
    expect(() => checkExclusiveMint(Object.assign(async () => ({ secret: 't', expiresAt: null }), { ...complete, ...fields }) as Mint)).not.toThrow();
  });

  it.each<[string, Record<string, unknown>]>([
    ['no configured refresh token', { configuredRefreshToken: undefined }],
    ['a configured refresh token that is a string, not a Secret', { configuredRefreshToken: 'rt' }],
    ['no time it was configured at', { configuredAt: undefined }],
    ['a time configured at that is a string', { configuredAt: '1000' }],
    ['a time configured at that is not finite', { configuredAt: Number.NaN }],
    ['no grant timeout', { grantTimeoutMs: undefined }],
    ['a grant timeout that is a string', { grantTimeoutMs: '1000' }],
    ['a grant timeout of 0', { grantTimeoutMs: 0 }],
    ['a negative grant timeout', { grantTimeoutMs: -5 }],
    ['no reuse interval', { reuseIntervalMs: undefined }],
    ['a reuse interval that is a string', { reuseIntervalMs: '0' }],
    ['a negative reuse interval', { reuseIntervalMs: -1 }],
    ['no signIn', { signIn: undefined }],
    ['a signIn that is no function', { signIn: 'sign in' }],
  ])('refuses an exclusive mint with %s: INVALID_CONFIG, naming what a wrapper must copy', (_, fields) => {
    const wrapper = Object.assign(async () => ({ secret: 't', expiresAt: null }), { ...complete, ...fields }) as Mint;
    expect(() => checkExclusiveMint(wrapper)).toThrow(
      expect.objectContaining({ code: 'INVALID_CONFIG', message: expect.stringMatching(/configuredRefreshToken, configuredAt, grantTimeoutMs, reuseIntervalMs or signIn/) }),
    );
  });

  it('is the check a provider makes: a wrapper that copied only the mark is refused at construction', async () => {
    const wrapper = Object.assign(async () => ({ secret: 't', expiresAt: null }), { exclusive: true }) as Mint;
    await expect(createCredentialProvider({ mint: wrapper, clock: new ManualClock(0), firstMint: 'lazy' })).rejects.toMatchObject({ code: 'INVALID_CONFIG' });
  });
});

describe('isKeyBoundMint', () => {
  it.each<[string, unknown, boolean]>([
    ['marked keyBound: true', true, true],
    ['not marked', undefined, false],
    ['marked keyBound: false', false, false],
    ["marked keyBound: 'true' (a string)", 'true', false],
    ['marked keyBound: 1', 1, false],
  ])('%s', (_, keyBound, bound) => {
    const marked = keyBound === undefined ? mint : Object.assign(async () => ({ secret: 't', expiresAt: null }), { keyBound });
    expect(isKeyBoundMint(marked as Mint)).toBe(bound);
  });
});
