/**
 * Describes a value by its type and shape, for an error message, never by its content: a value
 * that reaches a message may be a secret put in the wrong field (a numeric token, a string where
 * an object was expected), and so may an object's property names.
 *
 * @example
 * ```ts
 * describeShape(8675309123456); // 'a number'
 * describeShape({ access_token: 'x', expires_in: 3600 }); // 'an object with 2 keys'
 * ```
 */
export function describeShape(value: unknown): string {
  try {
    return shapeOf(value);
  } catch {
    return 'an object that throws when read'; // a Proxy, or a revoked one
  }
}

function shapeOf(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (value instanceof Date) return 'a Date';
  switch (typeof value) {
    case 'string':
      return `a string of ${value.length} characters`;
    case 'object': {
      // a count, never the names: a property name can itself be a secret (a token used as a key)
      const count = Object.keys(value).length;
      return count === 0 ? 'an empty object' : `an object with ${count} ${count === 1 ? 'key' : 'keys'}`;
    }
    case 'number':
      return Number.isNaN(value) ? 'NaN' : 'a number';
    default:
      return `a ${typeof value}`;
  }
}
