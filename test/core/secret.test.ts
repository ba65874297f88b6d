import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { Secret } from '../../src/index.js';

const RAW = 'raw-value-7d1e';

describe('Secret', () => {
  it('reveals its value only through reveal()', () => {
    const secret = new Secret(RAW);
    expect(secret.reveal()).toBe(RAW);
    expect(String(secret)).toBe('<REDACTED>');
    expect(`${secret}`).toBe('<REDACTED>');
    expect(JSON.stringify({ secret })).toBe('{"secret":"<REDACTED>"}');
    expect(inspect(secret, { depth: null, showHidden: true })).not.toContain(RAW);
    expect(Object.keys(secret)).toEqual([]);
  });

  it('loses its value in a structured clone', () => {
    const clone = structuredClone({ secret: new Secret(RAW) });
    expect(JSON.stringify(clone)).not.toContain(RAW);
    expect(inspect(clone, { depth: null, showHidden: true })).not.toContain(RAW);
  });

  it('compares by value, with strings or secrets of any length', () => {
    const secret = new Secret(RAW);
    expect(secret.equals(RAW)).toBe(true);
    expect(secret.equals(new Secret(RAW))).toBe(true);
    expect(secret.equals(`${RAW}x`)).toBe(false);
    expect(secret.equals(RAW.slice(0, -1))).toBe(false);
    expect(secret.equals('')).toBe(false);
    expect(new Secret('').equals('')).toBe(true);
    expect(secret.equals(RAW.replace('7', '8'))).toBe(false);
  });
});
