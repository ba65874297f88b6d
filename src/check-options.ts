import { CredentialError } from '../machines/credential-error.js';
import { closestName } from './closest-name.js';
import { describeShape } from './describe-shape.js';

/**
 * What one public function accepts, for {@link checkOptions}: its name (errors start with it), the
 * option names it knows, and hints for names it deliberately refuses (a name other libraries use
 * for the same thing, or one this library used to take).
 */
export interface OptionsSchema {
  /** The function the options belong to, e.g. `clientCredentialsMint`. */
  readonly owner: string;
  /** Every option it accepts. */
  readonly known: readonly string[];
  /** Refused names and what to write instead, e.g. `{ scope: 'use scopes, an array of strings' }`. */
  readonly refused?: Readonly<Record<string, string>>;
}

/**
 * The one way every public options object is checked: it must be an object, and every key must be
 * an option its owner knows. A misspelt option left silently at its default (a `scopes` that mints
 * tokens with no scope) is worse than an error, and a plain JavaScript caller has no compiler to
 * catch it. Throws `CredentialError('INVALID_CONFIG')` naming the owner, the key, and the closest
 * real option or the hint for a refused name.
 *
 * @example
 * ```ts
 * checkOptions({ refreshAtt: 0.5 }, { owner: 'createCredentialProvider', known: ['refreshAt'] });
 * // INVALID_CONFIG: createCredentialProvider: unknown option refreshAtt; did you mean refreshAt?
 * ```
 */
export function checkOptions(options: unknown, schema: OptionsSchema): void {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new CredentialError('INVALID_CONFIG', `${schema.owner} takes an options object, got ${describeShape(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (schema.known.includes(key)) continue;
    const hint = schema.refused !== undefined && Object.hasOwn(schema.refused, key) ? schema.refused[key] : undefined;
    if (hint !== undefined) throw new CredentialError('INVALID_CONFIG', `${schema.owner}: option ${key} is not taken; ${hint}`);
    const closest = closestName(key, schema.known);
    throw new CredentialError('INVALID_CONFIG', `${schema.owner}: unknown option ${key}${closest === null ? `; the options are ${schema.known.join(', ')}` : `; did you mean ${closest}?`}`);
  }
}

/**
 * Parses a URL option, or throws `INVALID_CONFIG` naming it (instead of a bare `TypeError: Invalid URL`).
 *
 * @example
 * ```ts
 * urlOption('clientCredentialsMint', 'tokenEndpoint', 'https://login.example/token').host; // 'login.example'
 * ```
 */
/**
 * Throws `INVALID_CONFIG` naming the owner, the option and the requirement unless `ok`; the value
 * is described by its shape only (an option may hold a secret).
 *
 * @example
 * ```ts
 * requireOption('browserCoordination', 'adoptWaitMs', adoptWaitMs >= 0, 'must be a finite number >= 0', adoptWaitMs);
 * ```
 */
export function requireOption(owner: string, option: string, ok: boolean, requirement: string, value: unknown): void {
  if (!ok) throw new CredentialError('INVALID_CONFIG', `${owner}: ${option} ${requirement}, got ${describeShape(value)}`);
}

export function urlOption(owner: string, name: string, value: unknown): URL {
  if (value instanceof URL) return value;
  if (typeof value === 'string' && URL.canParse(value)) return new URL(value);
  throw new CredentialError(
    'INVALID_CONFIG',
    `${owner}: ${name} must be an absolute URL (e.g. https://login.example.com/oauth2/token), got ${describeShape(value)}`, // never the text: a URL may carry credentials
  );
}
