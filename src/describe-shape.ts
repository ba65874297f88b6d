/**
 * Describes a value by its type and shape, for an error message, never by its content: a value
 * that reaches a message may be a secret put in the wrong field (a numeric token, a string where
 * an object was expected).
 *
 * @example
 * ```ts
 * describeShape(8675309123456); // 'a number'
 * describeShape({ access_token: 'x', expires_in: 3600 }); // 'an object with keys access_token, expires_in'
 * ```
 */
export function describeShape(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (value instanceof Date) return 'a Date';
  switch (typeof value) {
    case 'string':
      return `a string of ${value.length} characters`;
    case 'object': {
      const keys = Object.keys(value);
      return keys.length === 0 ? 'an empty object' : `an object with keys ${keys.slice(0, 8).join(', ')}${keys.length > 8 ? ', ...' : ''}`;
    }
    case 'number':
      return Number.isNaN(value) ? 'NaN' : 'a number';
    default:
      return `a ${typeof value}`;
  }
}
