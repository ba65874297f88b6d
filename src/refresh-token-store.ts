import { CredentialError } from '../machines/credential-error.js';
import { nextRecord } from '../machines/refresh-token.js';
import type { RefreshTokenRecord } from '../machines/refresh-token.types.js';
import { fromPlainRecord, toPlainRecord, versionOf, type RecordHolder } from './refresh-token-grant.js';
import { TokenSealer, type EncryptionKey } from './sealed-token.js';

/**
 * Where a process alone keeps its refresh token across restarts: one sealed string, loaded at the
 * first grant and saved on every change (before a grant is sent, and as soon as its answer is
 * known). The library seals it (AES-256-GCM with your key): the store only ever sees ciphertext.
 * `fileStore(path)` in `credential-actor/oauth2` is one; a database row or a secrets manager is another.
 */
export interface RefreshTokenStore {
  /** The sealed value saved last; `null` or `undefined` when there is none. */
  load(): Promise<string | null | undefined>;
  /** Saves the sealed value, replacing the last one; resolves once it is durable. */
  save(sealed: string): Promise<void>;
}

/** What a {@link LocalRecordHolder} keeps its record in: a store and the key it is sealed with. */
export interface SealedRecordStore {
  readonly store: RefreshTokenStore;
  readonly encryptionKey: EncryptionKey | readonly EncryptionKey[];
  /** Names what is stored (sealed into it: a value does not open for another name). */
  readonly name: string;
  /** Told when a stored value does not open or a save fails (the process keeps its record in memory meanwhile). */
  readonly failed?: (error: CredentialError) => void;
}

/**
 * The record holder of a process alone: the record in memory and, when a store is given, sealed in
 * it. A record stored as `granting` was left by an earlier run of the process that stopped mid-grant:
 * its grant's answer is lost with that run, so it is read as in doubt.
 *
 * @example
 * ```ts
 * const holder = new LocalRecordHolder({ store: fileStore('./refresh-token.sealed'), encryptionKey, name: 'orders' });
 * ```
 */
export class LocalRecordHolder implements RecordHolder {
  readonly #stored: (SealedRecordStore & { sealer: TokenSealer }) | null;
  #record: RefreshTokenRecord | null = null;
  #loaded: Promise<void> | null = null;
  #writing: Promise<void> = Promise.resolve();

  /** @param stored where to keep the record sealed; none: in memory only. */
  constructor(stored?: SealedRecordStore) {
    const keys = stored === undefined ? [] : Array.isArray(stored.encryptionKey) ? stored.encryptionKey : [stored.encryptionKey as EncryptionKey];
    this.#stored = stored === undefined ? null : { ...stored, sealer: new TokenSealer(keys) };
  }

  /** The record held now (loaded from the store first). */
  async read(): Promise<RefreshTokenRecord | null> {
    this.#loaded ??= this.#load();
    await this.#loaded;
    return this.#record;
  }

  /** Replaces the record if it is still `expected`, saving it (sealed) first when a store is given; one write at a time. */
  write(next: RefreshTokenRecord, expected: RefreshTokenRecord | null): Promise<boolean> {
    const written = this.#writing.then(() => this.#write(next, expected));
    this.#writing = written.then(
      () => {},
      () => {},
    );
    return written;
  }

  async #write(next: RefreshTokenRecord, expected: RefreshTokenRecord | null): Promise<boolean> {
    await this.read();
    if (versionOf(this.#record) !== versionOf(expected)) return false;
    const stored = this.#stored;
    if (stored !== null) {
      try {
        await stored.store.save(await stored.sealer.seal({ secret: JSON.stringify(toPlainRecord(next)), expires: false }, stored.name, 0, 'state'));
      } catch (error) {
        const failure = new CredentialError('COORDINATION_UNAVAILABLE', `the refresh-token store did not save: ${error instanceof Error ? error.message : 'it threw'}`);
        stored.failed?.(failure);
        throw failure;
      }
    }
    this.#record = next;
    return true;
  }

  async #load(): Promise<void> {
    const stored = this.#stored;
    if (stored === null) return;
    let record: RefreshTokenRecord | null = null;
    try {
      const sealed = await stored.store.load();
      if (typeof sealed === 'string' && sealed.length > 0) {
        const opened = await stored.sealer.open(sealed, stored.name, 'state');
        record = fromPlainRecord(JSON.parse(String(opened.secret)));
        if (record === null) throw new CredentialError('SHARED_TOKEN_REJECTED', 'the stored refresh token is not a record this version reads');
      }
    } catch (error) {
      stored.failed?.(error instanceof CredentialError ? error : new CredentialError('SHARED_TOKEN_REJECTED', 'the stored refresh token could not be read'));
      return;
    }
    if (record?.status === 'granting' && record.grant !== null) record = nextRecord(record, { type: 'grant.lost', grantId: record.grant.id }) ?? record;
    this.#record ??= record;
  }
}
