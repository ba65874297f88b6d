const REDACTED = '<REDACTED>';

/**
 * What a secret holds: one string (a bearer token), or several named strings that are only ever
 * used together (an AWS key triple: `accessKeyId`, `secretAccessKey`, `sessionToken`). As a
 * constraint, `T extends SecretValue<T>` admits a string, or an object type (an interface too)
 * whose every property is a string; `SecretValue` alone is any of them.
 */
export type SecretValue<T = Readonly<Record<string, string>>> = string | { readonly [K in keyof T]: string };

/**
 * A bearer secret that cannot leak by accident: one string, or several parts kept as one
 * (`Secret<{ accessKeyId: string; secretAccessKey: string; sessionToken: string }>`).
 *
 * The value lives in a `#private` field (parts in a frozen copy), so `JSON.stringify`, `util.inspect`, `structuredClone`,
 * `postMessage` and every serializer that walks own properties see nothing. `toString()`,
 * `toJSON()` and Node's inspector print `<REDACTED>`; only {@link Secret.reveal} gives the value.
 *
 * @example
 * ```ts
 * const secret = new Secret('s3cr3t');
 * String(secret);          // '<REDACTED>'
 * JSON.stringify(secret);  // '"<REDACTED>"'
 * secret.reveal();         // 's3cr3t'
 * const keys = new Secret({ accessKeyId: 'AKIA...', secretAccessKey: '...' });
 * keys.reveal().accessKeyId; // 'AKIA...'
 * ```
 */
export class Secret<T extends SecretValue<T> = string> {
  readonly #value: T;

  /**
   * @param value the raw secret (a string, or an object of named strings, copied and frozen);
   * stored privately and never printed.
   * @example
   * ```ts
   * const secret = new Secret(process.env.API_TOKEN ?? '');
   * ```
   */
  constructor(value: T) {
    this.#value = typeof value === 'string' ? value : (Object.freeze({ ...(value as Readonly<Record<string, string>>) }) as T);
  }

  /**
   * The raw value. Call it at the last moment (building an `Authorization` header), never to log.
   *
   * @example
   * ```ts
   * headers.set('authorization', `Bearer ${token.secret.reveal()}`);
   * ```
   */
  reveal(): T {
    return this.#value;
  }

  /**
   * Compares with another secret or value in time that depends only on the lengths, not on
   * where the values first differ, so a comparison cannot be used as a timing oracle. Parts are
   * compared all together (same names, same values). Anything else (`undefined`, `null`, a
   * number) is simply not equal.
   *
   * @example
   * ```ts
   * new Secret('a').equals('a'); // true
   * new Secret('a').equals(undefined as never); // false
   * ```
   */
  equals(other: Secret<SecretValue> | SecretValue): boolean {
    const theirs = canonical(other instanceof Secret ? other.#value : other);
    if (theirs === null) return false;
    const ours = canonical(this.#value) ?? '';
    // Over the longer of the two, so the time taken does not tell which is shorter.
    const length = Math.max(ours.length, theirs.length);
    let difference = ours.length ^ theirs.length;
    for (let i = 0; i < length; i++) {
      difference |= (ours.charCodeAt(i) | 0) ^ (theirs.charCodeAt(i) | 0);
    }
    return difference === 0;
  }

  /**
   * Always `<REDACTED>`.
   *
   * @example
   * ```ts
   * `${new Secret('x')}`; // '<REDACTED>'
   * ```
   */
  toString(): string {
    return REDACTED;
  }

  /**
   * Always `<REDACTED>`, so a token serializes without its secret.
   *
   * @example
   * ```ts
   * JSON.stringify({ secret: new Secret('x') }); // '{"secret":"<REDACTED>"}'
   * ```
   */
  toJSON(): string {
    return REDACTED;
  }

  /** Node's `util.inspect` hook (by its registered symbol, so the core needs no Node module). */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `Secret ${REDACTED}`;
  }
}

/**
 * One string for a secret's value, for comparison: a string itself, parts as their sorted
 * `[name, value]` pairs in JSON (so the order they were given in does not matter); `null` for
 * anything that is not a secret value.
 */
function canonical(value: unknown): string | null {
  if (typeof value === 'string') return value;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  return JSON.stringify(
    Object.keys(value)
      .sort()
      .map((name) => [name, (value as Record<string, unknown>)[name]]),
  );
}
