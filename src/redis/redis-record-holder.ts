import { CredentialError } from '../../machines/credential-error.js';
import type { RefreshTokenRecord } from '../../machines/refresh-token.types.js';
import { Secret } from '../../machines/secret.js';
import { fromPlainRecord, legacyVersionOf, toPlainRecord, versionOf, type RecordHolder } from '../refresh-token-grant.js';
import type { TokenSealer } from '../sealed-token.js';
import { READ_RECORD, WRITE_RECORD } from './scripts.js';

/** How the holder reaches Redis: the coordination's bounded call (rejects with `COORDINATION_UNAVAILABLE`). */
export type RedisCall = (script: string, keys: readonly string[], args: readonly string[]) => Promise<unknown>;

/**
 * A credential's refresh-token record in Redis, for the grant runner of one process: stored as
 * `version|sealed` (the version in clear, so that the script compares it without opening the
 * record; the sealed record says the same version, checked when it is opened), replaced only by a
 * writer that read the version stored (compare-and-set), and a grant begun only under the lease.
 *
 * @example
 * ```ts
 * const holder = new RedisRecordHolder({ call, sealer, credential, keys, channel });
 * holder.lease = `${owner}:${fence}`;
 * ```
 */
export class RedisRecordHolder implements RecordHolder {
  /** The lease the current attempt holds (`owner:fence`): only under it may a grant begin. */
  lease: { readonly ownerFence: string; readonly fence: number } | null = null;
  /** The lease the latest grant was begun under: its token is published under it (and the lease released). */
  beganUnder: { readonly ownerFence: string; readonly fence: number } | null = null;
  readonly #call: RedisCall;
  readonly #sealer: TokenSealer;
  readonly #credential: string;
  readonly #keys: readonly string[];
  readonly #channel: string;
  /** The version each record read was stored under (a record of the previous format was stored under none). */
  readonly #stored = new WeakMap<RefreshTokenRecord, string>();
  /** Whether this process has seen a record for this credential: if Redis then has none, it lost its data. */
  #sawRecord = false;
  /** The version stored when Redis was last read (`''`: none, or of the previous format). */
  #versionRead = '';

  constructor(setup: { call: RedisCall; sealer: TokenSealer; credential: string; keys: readonly string[]; channel: string }) {
    this.#call = setup.call;
    this.#sealer = setup.sealer;
    this.#credential = setup.credential;
    this.#keys = setup.keys;
    this.#channel = setup.channel;
  }

  /** Reads the record from Redis. */
  async read(): Promise<RefreshTokenRecord | null> {
    return this.open(String(await this.#call(READ_RECORD, this.#keys, [])));
  }

  /**
   * Opens a stored record (`''`: none). One that does not open, or a record gone after this process
   * saw one (Redis lost its data), refuses: sending the refresh token this process started from,
   * perhaps long spent, would revoke the family.
   */
  async open(stored: string): Promise<RefreshTokenRecord | null> {
    // what is stored, readable or not: a sign-in replaces it by this version
    this.#versionRead = stored.includes('|') ? stored.slice(0, stored.indexOf('|')) : '';
    if (stored === '') {
      if (this.#sawRecord) throw unusable('the fleet’s refresh-token record is gone (Redis lost its data?): sign in again');
      return null;
    }
    this.#sawRecord = true;
    const bar = stored.indexOf('|');
    const record = bar < 0 ? await this.#openPrevious(stored) : await this.#openRecord(stored.slice(0, bar), stored.slice(bar + 1));
    this.#stored.set(record, bar < 0 ? '' : stored.slice(0, bar));
    return record;
  }

  async write(next: RefreshTokenRecord, expected: RefreshTokenRecord | null, kind: 'begin' | 'outcome' | 'signIn'): Promise<boolean> {
    const lease = this.lease;
    if (kind === 'begin' && lease === null) return false;
    const sealed = await this.#sealer.seal({ secret: JSON.stringify(toPlainRecord(next)), expires: false }, this.#credential, 0, 'state');
    // a sign-in that found no usable record replaces what it read there (a record it cannot open)
    const expectedVersion = expected === null ? (kind === 'signIn' ? this.#versionRead : '') : (this.#stored.get(expected) ?? versionOf(expected));
    const written = await this.#call(WRITE_RECORD, this.#keys, [expectedVersion, `${versionOf(next)}|${sealed}`, kind, lease?.ownerFence ?? '', this.#channel, this.#credential]);
    if (Number(written) !== 1) return false;
    this.#sawRecord = true;
    this.#stored.set(next, versionOf(next));
    if (kind === 'begin') this.beganUnder = lease;
    return true;
  }

  async #openRecord(version: string, sealed: string): Promise<RefreshTokenRecord> {
    let record: RefreshTokenRecord | null = null;
    try {
      record = fromPlainRecord(JSON.parse(String((await this.#sealer.open(sealed, this.#credential, 'state')).secret)));
    } catch {
      record = null;
    }
    // the version in clear is what the scripts compare: it must be the sealed record's own
    if (record === null || (versionOf(record) !== version && legacyVersionOf(record) !== version)) throw rejected();
    return record;
  }

  /** A record of the previous format (`{ value }`, or `{ spent: true }`), so that a fleet upgraded mid-family goes on from it. */
  async #openPrevious(sealed: string): Promise<RefreshTokenRecord> {
    let content: { value?: unknown; spent?: unknown };
    try {
      content = JSON.parse(String((await this.#sealer.open(sealed, this.#credential, 'state')).secret)) as typeof content;
    } catch {
      throw rejected();
    }
    const value = typeof content.value === 'string' && content.value.length > 0 ? new Secret(content.value) : null;
    const status = value === null ? 'inDoubt' : 'usable';
    return { status, signedInAt: 0, family: 'previous-format', generation: 1, seq: 0, value, grant: null, refusal: null, formerFamilies: [] };
  }
}

function unusable(message: string): CredentialError {
  return Object.assign(new CredentialError('REFRESH_TOKEN_UNUSABLE', message), { issuerNotAsked: true as const });
}

/** A record that does not open is not guessed at (the refresh token it holds may be the only live one): nothing is sent. */
function rejected(): CredentialError {
  return Object.assign(new CredentialError('SHARED_TOKEN_REJECTED', 'the fleet’s refresh-token record does not open with this process’s encryptionKey (or was tampered with): no grant is made'), {
    issuerNotAsked: true as const,
  });
}
