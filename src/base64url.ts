/**
 * base64url, both ways, in every runtime (browsers have no `Buffer`, and Node 20 no `Uint8Array.fromBase64`).
 * Table-driven: every follower's read of a shared token decodes two of these, and `atob` with a
 * per-character `Uint8Array.from` took a tenth of the fleet simulation's CPU.
 */
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** Each character's six bits, for both alphabets (`-_` and `+/`); -1 for anything else. */
const SEXTETS = (() => {
  const table = new Int8Array(128).fill(-1);
  for (let index = 0; index < 64; index++) table[ALPHABET.charCodeAt(index)] = index;
  table['+'.charCodeAt(0)] = 62;
  table['/'.charCodeAt(0)] = 63;
  return table;
})();

/**
 * base64url of bytes, without padding (RFC 7515's encoding of JWS parts and thumbprints).
 *
 * @example
 * ```ts
 * base64url(new Uint8Array([251, 255])); // '-_8'
 * ```
 */
export function base64url(bytes: Uint8Array): string {
  let text = '';
  const whole = bytes.length - (bytes.length % 3);
  for (let index = 0; index < whole; index += 3) {
    const bits = (bytes[index]! << 16) | (bytes[index + 1]! << 8) | bytes[index + 2]!;
    text += ALPHABET[bits >> 18]! + ALPHABET[(bits >> 12) & 63]! + ALPHABET[(bits >> 6) & 63]! + ALPHABET[bits & 63]!;
  }
  if (bytes.length - whole === 1) {
    const bits = bytes[whole]! << 16;
    text += ALPHABET[bits >> 18]! + ALPHABET[(bits >> 12) & 63]!;
  } else if (bytes.length - whole === 2) {
    const bits = (bytes[whole]! << 16) | (bytes[whole + 1]! << 8);
    text += ALPHABET[bits >> 18]! + ALPHABET[(bits >> 12) & 63]! + ALPHABET[(bits >> 6) & 63]!;
  }
  return text;
}

/**
 * The bytes of base64url or base64 text, as `atob` reads it (WHATWG's forgiving decode: ASCII
 * whitespace skipped, padding optional), with both alphabets. Throws a `SyntaxError` naming
 * neither the text nor its bytes (they may be a secret's) if it is not base64.
 *
 * @example
 * ```ts
 * base64urlBytes('-_8'); // Uint8Array [251, 255]
 * ```
 */
export function base64urlBytes(text: string): Uint8Array<ArrayBuffer> {
  const clean = /[\t\n\f\r ]/.test(text) ? text.replace(/[\t\n\f\r ]+/g, '') : text;
  let end = clean.length;
  if (end % 4 === 0 && clean.charCodeAt(end - 1) === 61) end -= clean.charCodeAt(end - 2) === 61 ? 2 : 1;
  if (end % 4 === 1) throw new SyntaxError('not base64: its length is impossible');
  const bytes = new Uint8Array(Math.floor((end * 3) / 4));
  let bits = 0;
  let held = 0;
  let written = 0;
  for (let index = 0; index < end; index++) {
    const code = clean.charCodeAt(index);
    const sextet = code < 128 ? SEXTETS[code]! : -1;
    if (sextet < 0) throw new SyntaxError('not base64: a character outside its alphabet');
    bits = (bits << 6) | sextet;
    held += 6;
    if (held >= 8) {
      held -= 8;
      bytes[written++] = (bits >> held) & 255;
    }
  }
  return bytes;
}
