import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { defaultRefreshConfig, refreshDueAt } from '../../src/index.js';

const policy = { refreshAt: 0.8, refreshFloorMs: 30_000 };

describe('refreshDueAt', () => {
  it('is null for a token with no expiry', () => {
    expect(refreshDueAt(policy, 1_000, null)).toBeNull();
  });

  it('places the refresh at refreshAt of the lifetime', () => {
    expect(refreshDueAt(policy, 0, 3_600_000)).toBe(2_880_000);
    expect(refreshDueAt(policy, 10_000, 1_010_000)).toBe(810_000);
  });

  it('caps the refresh at refreshFloorMs before expiry', () => {
    // 80% of 100 s is 80 s, but the floor wants it 30 s before expiry: 70 s
    expect(refreshDueAt(policy, 0, 100_000)).toBe(70_000);
  });

  it('never places the refresh before issue', () => {
    expect(refreshDueAt(policy, 5_000, 25_000)).toBe(5_000);
  });

  it('pulls the refresh earlier by the jitter sample, clamped to [0, 1]', () => {
    expect(refreshDueAt(policy, 0, 3_600_000, 0.3)).toBe(0.5 * 3_600_000);
    expect(refreshDueAt(policy, 0, 3_600_000, 2)).toBe(0);
    expect(refreshDueAt(policy, 0, 3_600_000, -1)).toBe(2_880_000);
    expect(refreshDueAt(policy, 0, 3_600_000, Number.NaN)).toBe(2_880_000);
  });

  it('uses the documented defaults', () => {
    expect(defaultRefreshConfig).toMatchObject({
      refreshAt: 0.8,
      refreshFloorMs: 30_000,
      breakerThreshold: 5,
      breakerCooldownMs: 60_000,
      mintTimeoutMs: 30_000,
      refresh: 'on-demand',
    });
    expect(defaultRefreshConfig.jitter()).toBe(0);
  });

  it('always lies within [issuedAt, expiresAt] for any inputs', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 1e12 }),
        fc.integer({ min: 1, max: 1e9 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.integer({ min: 0, max: 1e8 }),
        fc.double({ noNaN: false }),
        (issuedAt, lifetime, refreshAt, refreshFloorMs, jitter) => {
          const due = refreshDueAt({ refreshAt, refreshFloorMs }, issuedAt, issuedAt + lifetime, jitter)!;
          expect(due).toBeGreaterThanOrEqual(issuedAt);
          expect(due).toBeLessThanOrEqual(issuedAt + lifetime);
        },
      ),
    );
  });
});
