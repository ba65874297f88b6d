/**
 * Structural equality of plain data (objects, arrays, primitives), without Node's `util`, so the
 * replay runs in browsers too.
 *
 * @example
 * ```ts
 * isDeepStrictEqualish({ a: [1] }, { a: [1] }); // true
 * ```
 */
export function isDeepStrictEqualish(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const keysA = Object.keys(a);
  const keysB = Object.keys(b);
  if (keysA.length !== keysB.length) return false;
  return keysA.every((key) => Object.prototype.hasOwnProperty.call(b, key) && isDeepStrictEqualish((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key]));
}
