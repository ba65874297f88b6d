/**
 * One challenge of a `WWW-Authenticate` header (RFC 7235 section 4.1): its scheme, lowercased, and
 * its parameters, names lowercased, quoted values unquoted.
 */
export interface AuthChallenge {
  readonly scheme: string;
  readonly params: Readonly<Record<string, string>>;
}

const TOKEN = /[!#$%&'*+\-.^_`|~0-9A-Za-z]+/y;
const SPACE = /[ \t]*/y;

/**
 * The challenges of a `WWW-Authenticate` header, as RFC 7235 writes them: several in one header
 * (`Bearer error="invalid_token", DPoP algs="ES256"`), parameters as tokens or quoted strings with
 * backslash escapes. A challenge in `token68` form keeps no parameters. What does not parse ends
 * the list: a malformed header yields the challenges before the fault, never an exception.
 *
 * @example
 * ```ts
 * parseChallenges('Bearer realm="api", error="invalid_token"');
 * // [{ scheme: 'bearer', params: { realm: 'api', error: 'invalid_token' } }]
 * ```
 */
export function parseChallenges(header: string): AuthChallenge[] {
  const challenges: AuthChallenge[] = [];
  let at = 0;
  const skip = (pattern: RegExp) => {
    pattern.lastIndex = at;
    const match = pattern.exec(header);
    if (match !== null) at = pattern.lastIndex;
    return match?.[0] ?? null;
  };
  const skipCommas = () => {
    for (;;) {
      skip(SPACE);
      if (header[at] !== ',') return;
      at++;
    }
  };
  skipCommas();
  while (at < header.length) {
    const scheme = skip(TOKEN);
    if (scheme === null) break;
    const params: Record<string, string> = {};
    challenges.push({ scheme: scheme.toLowerCase(), params });
    for (;;) {
      const before = at;
      skipCommas();
      const name = skip(TOKEN);
      if (name === null) break;
      skip(SPACE);
      if (header[at] !== '=') {
        // the next challenge's scheme (or a token68, which has no parameters to read)
        at = before;
        skipCommas();
        break;
      }
      at++;
      skip(SPACE);
      const value = header[at] === '"' ? quoted() : skip(TOKEN);
      if (value === null) return challenges;
      params[name.toLowerCase()] = value;
    }
  }
  return challenges;

  function quoted(): string | null {
    let value = '';
    for (at++; at < header.length; at++) {
      const char = header[at]!;
      if (char === '"') {
        at++;
        return value;
      }
      if (char === '\\') at++;
      value += header[at] ?? '';
    }
    return null;
  }
}
