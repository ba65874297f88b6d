import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { base64url, base64urlBytes } from '../../src/base64url.js';

/** `atob` as the WHATWG spec reads base64 (the decoder this one replaced), with the URL-safe alphabet mapped onto it. */
function atobBytes(text: string): Uint8Array {
  const binary = atob(text.replace(/-/g, '+').replace(/_/g, '/'));
  return Uint8Array.from(binary, (char) => char.charCodeAt(0));
}

describe('base64url', () => {
  it('encodes as Node’s Buffer does, for every length and byte', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (bytes) => {
        expect(base64url(bytes)).toBe(Buffer.from(bytes).toString('base64url'));
      }),
      { numRuns: 500 },
    );
  });

  it('decodes what it encodes, and standard base64 with padding, as Buffer does', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (bytes) => {
        expect(base64urlBytes(base64url(bytes))).toEqual(bytes);
        expect(base64urlBytes(Buffer.from(bytes).toString('base64'))).toEqual(bytes);
      }),
      { numRuns: 500 },
    );
  });

  it('accepts and refuses what atob does', () => {
    const alphabet = [...'AZaz09-_+/= \n.*é\u0080'];
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...alphabet), { maxLength: 12 }), (characters) => {
        const text = characters.join('');
        let expected: Uint8Array | 'refused';
        try {
          expected = atobBytes(text);
        } catch {
          expected = 'refused';
        }
        let actual: Uint8Array | 'refused';
        try {
          actual = base64urlBytes(text);
        } catch (error) {
          expect(error).toBeInstanceOf(SyntaxError);
          actual = 'refused';
        }
        expect(actual).toEqual(expected);
      }),
      { numRuns: 3_000 },
    );
  });

  it('names neither the text nor its bytes when it refuses', () => {
    const secret = 'c2VjcmV0LXZhbHV*';
    expect(() => base64urlBytes(secret)).toThrow(/^not base64: a character outside its alphabet$/);
    expect(() => base64urlBytes('abcde')).toThrow(/^not base64: its length is impossible$/);
  });
});
