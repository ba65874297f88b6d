const REDACTED = '<REDACTED>';

/**
 * A bearer secret that cannot leak by accident.
 *
 * The value lives in a `#private` field, so `JSON.stringify`, `util.inspect`, `structuredClone`,
 * `postMessage` and every serializer that walks own properties see nothing. `toString()`,
 * `toJSON()` and Node's inspector print `<REDACTED>`; only {@link Secret.reveal} gives the value.
 *
 * @example
 * ```ts
 * const secret = new Secret('s3cr3t');
 * String(secret);          // '<REDACTED>'
 * JSON.stringify(secret);  // '"<REDACTED>"'
 * secret.reveal();         // 's3cr3t'
 * ```
 */
export class Secret {
  readonly #value: string;

  /**
   * @param value the raw secret; stored privately and never printed.
   * @example
   * ```ts
   * const secret = new Secret(process.env.API_TOKEN ?? '');
   * ```
   */
  constructor(value: string) {
    this.#value = value;
  }

  /**
   * The raw value. Call it at the last moment (building an `Authorization` header), never to log.
   *
   * @example
   * ```ts
   * headers.set('authorization', `Bearer ${token.secret.reveal()}`);
   * ```
   */
  reveal(): string {
    return this.#value;
  }

  /**
   * Compares with another secret or string in time that depends only on the lengths, not on
   * where the values first differ, so a comparison cannot be used as a timing oracle. Anything
   * that is neither (`undefined`, `null`, a number, an object) is simply not equal.
   *
   * @example
   * ```ts
   * new Secret('a').equals('a'); // true
   * new Secret('a').equals(undefined as never); // false
   * ```
   */
  equals(other: Secret | string): boolean {
    const theirs = typeof other === 'string' ? other : other instanceof Secret ? other.#value : null;
    if (theirs === null) return false;
    const ours = this.#value;
    // Over the longer of the two, so the time taken does not tell which is shorter. (Mutation
    // testing: `Math.min` here, or `i <= length` below, are equivalent mutants for the answer: a
    // length difference is already in `difference`, and `charCodeAt` past the end reads as 0.)
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
