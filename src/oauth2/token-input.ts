import { CredentialError } from '../../machines/credential-error.js';
import { Secret } from '../../machines/secret.js';
import type { TokenSource } from '../provider.js';
import { describeShape } from '../describe-shape.js';
import { nodeFs } from './node-fs.js';

/**
 * Where a mint reads a token it sends (a client assertion, a JWT bearer grant's assertion, a token
 * exchange's subject or actor token), **afresh on every mint**, because these tokens expire too:
 *
 * - a function returning the token (or a promise of it);
 * - `{ file }`: a file read at each mint (Kubernetes' projected service-account tokens, Entra ID's
 *   `AZURE_FEDERATED_TOKEN_FILE`, which the kubelet rewrites before they expire); Node only;
 * - a {@link TokenSource}, such as another provider: its current token;
 * - a string or {@link Secret}: the same token every time (for tokens that do not expire).
 */
export type TokenInput = string | Secret | (() => string | Secret | Promise<string | Secret>) | { readonly file: string } | TokenSource;

/**
 * Checks a {@link TokenInput} option at once and returns how to read it at each mint: a
 * {@link Secret}, or a `MINT_FAILED` that names the option and the file (never the token).
 */
export function tokenInputOption(owner: string, name: string, value: unknown): (signal: AbortSignal) => Promise<Secret> {
  if (typeof value === 'string' || value instanceof Secret) {
    const secret = value instanceof Secret ? value : new Secret(value);
    if (secret.reveal().length === 0) throw new CredentialError('INVALID_CONFIG', `${owner}: ${name} must not be empty`);
    return () => Promise.resolve(secret);
  }
  if (typeof value === 'function') {
    const read = value as () => unknown;
    return async () => tokenText(owner, name, await read(), 'the function');
  }
  if (typeof value === 'object' && value !== null && typeof (value as { file?: unknown }).file === 'string') {
    const { file } = value as { file: string };
    if (file.length === 0) throw new CredentialError('INVALID_CONFIG', `${owner}: ${name}.file must be a non-empty path`);
    return async () => {
      let text: string;
      try {
        text = await (await nodeFs()).readFile(file, 'utf8');
      } catch (error) {
        const code = (error as { code?: unknown }).code;
        throw new CredentialError('MINT_FAILED', `${owner}: ${name} could not be read from ${file}${typeof code === 'string' ? ` (${code})` : ''}`);
      }
      return tokenText(owner, name, text.trim(), file);
    };
  }
  if (typeof value === 'object' && value !== null && typeof (value as { currentToken?: unknown }).currentToken === 'function') {
    const source = value as TokenSource;
    return async (signal) => (await source.currentToken({ signal })).secret;
  }
  throw new CredentialError('INVALID_CONFIG', `${owner}: ${name} must be a string, a Secret, a function returning one, { file } or a provider, got ${describeShape(value)}`);
}

function tokenText(owner: string, name: string, value: unknown, from: string): Secret {
  const secret = value instanceof Secret ? value : typeof value === 'string' ? new Secret(value) : null;
  if (secret === null || secret.reveal().length === 0) {
    throw new CredentialError('MINT_FAILED', `${owner}: ${name} from ${from} must be a non-empty string or Secret, got ${secret === null ? describeShape(value) : 'an empty one'}`);
  }
  return secret;
}
