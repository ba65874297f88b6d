import { CredentialError } from '../../machines/credential-error.js';
import { TokenSealer } from '../sealed-token.js';
import type { PlainRecord } from '../refresh-token-grant.js';
import type { SharedToken } from './tab-messages.js';

/** What persistence stores of one shared key (sealed): the token, and the refresh token's record. */
export interface StoredCredential {
  readonly token: SharedToken | null;
  readonly record: PlainRecord | null;
}

const TOKENS = 'tokens';
const KEYS = 'keys';
const SEALING_KEY = 'sealing';

/**
 * Opt-in persistence across reloads: each shared key's token and state, sealed with AES-256-GCM
 * under a **non-extractable** WebCrypto key that lives in the same IndexedDB database (a `CryptoKey`
 * is stored as itself; its bytes can never be read out, by this library or by any script).
 *
 * What that protects against: the token read off the disk, from a backup, or by another origin or
 * another browser profile; what it does not: a script running in the page (an XSS), which can ask
 * the key to decrypt as this library does. Persist only what you would let a running page use.
 *
 * @example
 * ```ts
 * const store = await TokenStore.open('credential-actor');
 * await store.save('orders', { token, record: null });
 * ```
 */
export class TokenStore {
  readonly #database: IDBDatabase;
  readonly #sealer: TokenSealer;
  readonly #failed: (error: unknown) => void;

  private constructor(database: IDBDatabase, key: CryptoKey, failed: (error: unknown) => void) {
    this.#database = database;
    this.#sealer = new TokenSealer([{ id: 'tab', key }]);
    this.#failed = failed;
  }

  /**
   * Opens (or creates) the database and its sealing key: one key per origin and database, made by
   * the first tab that needs it (atomically: two tabs opening at once end up with the same key).
   */
  static async open(databaseName: string, failed: (error: unknown) => void = () => {}): Promise<TokenStore> {
    if (typeof indexedDB === 'undefined') throw new CredentialError('INVALID_CONFIG', 'browserCoordination: persist needs IndexedDB, which this environment lacks');
    const database = await request<IDBDatabase>(() => {
      const opening = indexedDB.open(databaseName, 1);
      opening.onupgradeneeded = () => {
        opening.result.createObjectStore(TOKENS);
        opening.result.createObjectStore(KEYS);
      };
      return opening;
    });
    const fresh = await crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']);
    const key = await new Promise<CryptoKey>((resolve, reject) => {
      const transaction = database.transaction(KEYS, 'readwrite');
      const keys = transaction.objectStore(KEYS);
      const reading = keys.get(SEALING_KEY);
      let chosen: CryptoKey = fresh;
      reading.onsuccess = () => {
        if (reading.result instanceof CryptoKey) chosen = reading.result;
        else keys.put(fresh, SEALING_KEY);
      };
      transaction.oncomplete = () => resolve(chosen);
      transaction.onerror = () => reject(transaction.error);
      transaction.onabort = () => reject(transaction.error);
    });
    return new TokenStore(database, key, failed);
  }

  /** What was stored for `sharedKey`, opened; `null` when nothing was, or it cannot be read (reported) or opened (ignored). */
  async load(sharedKey: string): Promise<StoredCredential | null> {
    let sealed: unknown;
    try {
      sealed = await request<unknown>(() => this.#database.transaction(TOKENS, 'readonly').objectStore(TOKENS).get(sharedKey));
    } catch (error) {
      this.#failed(error);
      return null;
    }
    if (typeof sealed !== 'string') return null;
    try {
      const { secret } = await this.#sealer.open(sealed, sharedKey, 'state');
      const stored = JSON.parse(String(secret)) as Partial<StoredCredential & PreviousFormat>;
      return { token: stored.token ?? null, record: stored.record ?? previousRecord(stored) };
    } catch {
      return null;
    }
  }

  /** Seals and stores `credential` for `sharedKey`, resolving once the write is durable (a failure is reported, never thrown). */
  async save(sharedKey: string, credential: StoredCredential): Promise<void> {
    try {
      const sealed = await this.#sealer.seal({ secret: JSON.stringify(credential), expires: false }, sharedKey, 0, 'state');
      await new Promise<void>((resolve, reject) => {
        const transaction = this.#database.transaction(TOKENS, 'readwrite', { durability: 'strict' });
        transaction.objectStore(TOKENS).put(sealed, sharedKey);
        transaction.oncomplete = () => resolve();
        transaction.onerror = () => reject(transaction.error);
        transaction.onabort = () => reject(transaction.error);
      });
    } catch (error) {
      this.#failed(error);
    }
  }

  /** Closes the database connection. */
  close(): void {
    this.#database.close();
  }
}

/**
 * The store for `namespace`, or `null` when IndexedDB refuses (then the tabs share in memory
 * only); every failure, now or later, is told to `failed` as a `coordination.persistence-failed`.
 */
export async function openTokenStore(namespace: string, failed: (event: { type: 'coordination.persistence-failed'; error: CredentialError }) => void): Promise<TokenStore | null> {
  const report = (error: unknown) =>
    failed({
      type: 'coordination.persistence-failed',
      error: new CredentialError('COORDINATION_UNAVAILABLE', `IndexedDB persistence failed (${error instanceof Error ? error.name : 'an error'}): tabs share in memory only`),
    });
  try {
    return await TokenStore.open(namespace, report);
  } catch (error) {
    report(error);
    return null;
  }
}

/** An IndexedDB request as a promise. */
function request<T>(start: () => IDBRequest): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const pending = start();
    pending.onsuccess = () => resolve(pending.result as T);
    pending.onerror = () => reject(pending.error);
  });
}

/** What the previous release stored beside the token: the refresh token as a state, and the grant it was last sent with. */
interface PreviousFormat {
  readonly state: { readonly id: string; readonly generation: number; readonly value: string | null } | null;
  readonly granting: string | null;
  readonly spent: readonly string[];
}

/** The previous release's state as a record, so that a reload after an upgrade goes on from it (in doubt if it was mid-grant or spent). */
function previousRecord(stored: Partial<PreviousFormat>): PlainRecord | null {
  const state = stored.state;
  if (state == null || typeof state.value !== 'string') return null;
  const doubtful = stored.granting === state.id || (stored.spent ?? []).includes(state.id);
  return {
    status: doubtful ? 'inDoubt' : 'usable',
    signedInAt: 0,
    family: 'previous-format',
    generation: state.generation,
    seq: 0,
    value: state.value,
    grant: null,
    refusal: null,
    formerFamilies: [],
  };
}
