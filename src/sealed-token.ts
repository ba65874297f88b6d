import { base64url, base64urlBytes } from './base64url.js';
import { describeShape } from './describe-shape.js';
import { CredentialError } from '../machines/credential-error.js';
import type { SecretValue } from '../machines/secret.js';

/** One AES-256-GCM key, with the id written beside every value it seals (so keys can be rotated). */
export interface EncryptionKey {
  /** A short name for this key, stored in clear next to each value (no `:`). */
  readonly id: string;
  /** 32 random bytes, or an AES-GCM `CryptoKey` of 256 bits. */
  readonly key: Uint8Array | CryptoKey;
}

/**
 * What is sealed: the whole secret (a string, or all its parts together), whether the token has an
 * expiry (its lifetime rides on the Redis TTL), and the facts served with it (sealed too: a scope
 * can say more about a system than its owner wants in Redis).
 */
export interface SealedContent {
  readonly secret: SecretValue;
  readonly expires: boolean;
  readonly tokenType?: string;
  readonly scope?: string;
  /** The issuer's refresh hint, epoch ms on the sealing host's clock. */
  readonly refreshAfter?: number;
  /**
   * The token's absolute expiry as its mint gave it (epoch ms), when it has one: a follower serves
   * the token until the earlier of this and its own clock plus Redis's TTL, so a holder whose clock
   * is behind cannot make followers serve a token past its real expiry.
   */
  readonly expiresAt?: number;
}

/**
 * Seals and opens shared tokens: AES-256-GCM through WebCrypto, a fresh 96-bit IV per value, the
 * credential's key and the value's fence as additional data (a value moved to another key or
 * another fence does not open). The first key seals; every key opens (rotation: put the new key
 * first, keep the old one until the old values have expired).
 *
 * @example
 * ```ts
 * const box = new TokenSealer([{ id: 'k2', key: newKeyBytes }, { id: 'k1', key: oldKeyBytes }]);
 * const sealed = await box.seal({ secret, expires: true }, 'cred-hash', 7);
 * ```
 */
export class TokenSealer {
  readonly #keys: Map<string, Promise<CryptoKey>>;
  readonly #sealingId: string;

  /** @param keys the sealing key first, then any older ones still accepted for opening. */
  constructor(keys: readonly EncryptionKey[]) {
    if (keys.length === 0) throw new CredentialError('INVALID_CONFIG', 'encryptionKey must hold at least one key');
    this.#keys = new Map();
    for (const [index, entry] of keys.entries()) {
      if (typeof entry !== 'object' || entry === null) {
        throw new CredentialError('INVALID_CONFIG', `encryptionKey ${keys.length === 1 ? '' : `#${index + 1} `}must be { id, key } with 32 random bytes, got ${describeShape(entry)}`);
      }
      const { id, key } = entry;
      if (typeof id !== 'string' || id.length === 0 || id.includes(':')) {
        throw new CredentialError('INVALID_CONFIG', 'encryptionKey id must be a non-empty string without ":"');
      }
      if (this.#keys.has(id)) throw new CredentialError('INVALID_CONFIG', `encryptionKey id ${JSON.stringify(id)} is used twice`);
      if (key instanceof Uint8Array ? key.byteLength !== 32 : !isAesKey(key)) {
        throw new CredentialError('INVALID_CONFIG', `encryptionKey ${JSON.stringify(id)} must be 32 random bytes or an AES-GCM CryptoKey of 256 bits`);
      }
      const imported = importKey(key);
      imported.catch(() => {}); // a failure surfaces where it is awaited, as SHARED_TOKEN_REJECTED or on seal
      this.#keys.set(id, imported);
    }
    this.#sealingId = keys[0]!.id;
  }

  /**
   * `fence:keyId:iv:ciphertext` (base64url): nothing of the secret in clear.
   *
   * @example
   * ```ts
   * await sealer.seal({ secret: 'eyJ...', expires: true }, hash, 12); // '12:k1:...:...'
   * ```
   */
  async seal(content: SealedContent, credential: string, fence: number, purpose: SealPurpose = 'token'): Promise<string> {
    const iv = crypto.getRandomValues(new Uint8Array(12));
    const plain = new TextEncoder().encode(
      JSON.stringify({
        s: content.secret,
        x: content.expires ? 1 : 0,
        ...(content.expiresAt === undefined ? {} : { e: content.expiresAt }),
        ...(content.tokenType === undefined ? {} : { t: content.tokenType }),
        ...(content.scope === undefined ? {} : { c: content.scope }),
        ...(content.refreshAfter === undefined ? {} : { r: content.refreshAfter }),
      }),
    );
    const key = await this.#keys.get(this.#sealingId)!;
    const sealed = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData: aad(credential, fence, purpose) }, key, plain));
    return `${fence}:${this.#sealingId}:${base64url(iv)}:${base64url(sealed)}`;
  }

  /**
   * Opens a value `seal` wrote for `credential`; `SHARED_TOKEN_REJECTED` if it is malformed,
   * sealed with an unknown key, or tampered with (never a crash, never the content in the message).
   *
   * @example
   * ```ts
   * const { secret } = await sealer.open(value, hash);
   * ```
   */
  async open(value: string, credential: string, purpose: SealPurpose = 'token'): Promise<SealedContent & { fence: number; id: string }> {
    const parts = value.split(':');
    if (parts.length !== 4) throw rejected('it is not a sealed token');
    const [fenceText, keyId, ivText, sealedText] = parts as [string, string, string, string];
    const fence = Number(fenceText);
    if (!Number.isSafeInteger(fence) || fence < 0) throw rejected('its fence is not a number');
    const key = this.#keys.get(keyId);
    if (key === undefined) throw rejected(`it was sealed with key ${JSON.stringify(keyId.slice(0, 32))}, which this process does not hold`);
    let plain: ArrayBuffer;
    try {
      plain = await crypto.subtle.decrypt({ name: 'AES-GCM', iv: base64urlBytes(ivText), additionalData: aad(credential, fence, purpose) }, await key, base64urlBytes(sealedText));
    } catch {
      throw rejected('it does not open with its key (tampered, or sealed for another credential)');
    }
    let content: { s?: unknown; x?: unknown; e?: unknown; t?: unknown; c?: unknown; r?: unknown };
    try {
      content = JSON.parse(new TextDecoder().decode(plain)) as typeof content;
    } catch {
      throw rejected('its content is not a token');
    }
    if (!isSecretValue(content.s)) throw rejected('its content is not a token');
    return {
      secret: content.s,
      expires: content.x === 1,
      ...(isFiniteNumber(content.e) ? { expiresAt: content.e } : {}),
      ...(typeof content.t === 'string' ? { tokenType: content.t } : {}),
      ...(typeof content.c === 'string' ? { scope: content.c } : {}),
      ...(isFiniteNumber(content.r) ? { refreshAfter: content.r } : {}),
      fence,
      id: ivText,
    };
  }
}

/** A sealed value's identity: its random IV, unique to it (`''` for anything that is not a sealed value). */
export function sealedIdOf(value: string): string {
  return value.split(':')[2] ?? '';
}

/** What a sealed value is: a shared token, or the state shared with it (a refresh token). One never opens as the other. */
export type SealPurpose = 'token' | 'state';

/** A non-empty string, or an object of non-empty strings (what a mint's secret may be). */
function isSecretValue(value: unknown): value is SecretValue {
  if (typeof value === 'string') return value.length > 0;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const parts = Object.values(value);
  return parts.length > 0 && parts.every((part) => typeof part === 'string' && part.length > 0);
}

function isFiniteNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

function aad(credential: string, fence: number, purpose: SealPurpose): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(`credential-actor:${purpose}:${credential}:${fence}`);
}

function rejected(why: string): CredentialError {
  return new CredentialError('SHARED_TOKEN_REJECTED', `the shared token was rejected: ${why}`);
}

async function importKey(key: Uint8Array | CryptoKey): Promise<CryptoKey> {
  return key instanceof Uint8Array ? crypto.subtle.importKey('raw', new Uint8Array(key), 'AES-GCM', false, ['encrypt', 'decrypt']) : key;
}

function isAesKey(key: unknown): key is CryptoKey {
  const { algorithm } = (typeof key === 'object' && key !== null ? key : {}) as { algorithm?: { name?: unknown; length?: unknown } };
  return algorithm?.name === 'AES-GCM' && algorithm.length === 256;
}
