import type { RefreshTokenRecord } from '../../machines/refresh-token.types.js';
import type { SecretValue } from '../../machines/secret.js';
import type { MintedToken } from '../auth-token.js';
import type { Clock } from '../clock.js';
import type { ExclusiveMint } from '../mint.js';
import { GrantRunner, type GrantVersion, type RecordHolder } from '../refresh-token-grant.js';
import { isNewerRecord, isRecordVersion } from '../../machines/refresh-token-order.js';
import { fromPlainRecord, toPlainRecord, versionOf, type PlainRecord } from '../refresh-token-record.js';
import type { StorageLike } from './browser-coordination.js';

/** Where a tab keeps a key's record: the plain record every tab posts, the newest it heard of. */
export interface TabRecordSlot {
  loaded: Promise<void> | null;
  record: PlainRecord | null;
}

/**
 * A key's grant runner for one tab (loaded at the first refresh-token grant, with the statechart:
 * an app that mints no refresh-token grant does not ship them). Its record is the tabs' (see
 * {@link TabRecordHolder}).
 *
 * @example
 * ```ts
 * const runner = tabGrantRunner({ slot: entry, mint, clock, changed, answered, failed });
 * ```
 */
export function tabGrantRunner(setup: {
  readonly slot: TabRecordSlot;
  readonly mint: ExclusiveMint<SecretValue>;
  readonly clock: Clock;
  /** A record this tab wrote: to every tab, before the write resolves. */
  readonly changed: () => Promise<void>;
  readonly answered: (minted: MintedToken<SecretValue>, made: GrantVersion) => void;
  readonly failed: (error: unknown) => void;
}): GrantRunner {
  const { slot, changed } = setup;
  return new GrantRunner({ mint: setup.mint, holder: new TabRecordHolder(slot, changed), clock: setup.clock, answered: setup.answered, failed: setup.failed });
}

/**
 * A key's refresh-token record as the tabs hold it: each tab its own copy, kept the newest it heard
 * of. A write replaces this tab's copy if it is still the one read, and reaches every tab before it
 * resolves (a grant is written `granting` under the lock: by then every tab has it queued).
 */
class TabRecordHolder implements RecordHolder {
  constructor(
    readonly slot: TabRecordSlot,
    readonly changed: () => Promise<void>,
  ) {}

  async read(): Promise<RefreshTokenRecord | null> {
    if (this.slot.loaded !== null) await this.slot.loaded;
    return this.slot.record === null ? null : fromPlainRecord(this.slot.record);
  }

  async write(next: RefreshTokenRecord, expected: RefreshTokenRecord | null): Promise<boolean> {
    if (versionOf(this.slot.record) !== versionOf(expected)) return false;
    this.slot.record = toPlainRecord(next);
    await this.changed();
    return true;
  }
}

/**
 * Keeps the marker of the newest refresh-token version this origin saw under `name` (see
 * `StorageLike`): written by each tab that changes the record.
 *
 * @example
 * ```ts
 * mark(localStorage, 'credential-actor:orders', entry.record);
 * ```
 */
export function mark(storage: StorageLike | null, name: string, record: PlainRecord | null): void {
  if (record === null || storage === null) return;
  try {
    const marked = markedRecord(storage, name);
    if (marked !== null && !isNewerRecord(record, marked)) return;
    const { status, signedInAt, family, generation, seq, grant, formerFamilies } = record;
    storage.setItem(`${name}:refresh-token-version`, JSON.stringify({ status, signedInAt, family, generation, seq, grant, formerFamilies }));
  } catch {
    // storage refused (quota, a privacy mode): the live tabs still answer for it
  }
}

/**
 * The marker's version as a record with no refresh token: a sign-in's refresh token of a family that
 * has rotated since is known to be spent. `null` when there is no marker, or it says only that a
 * configured refresh token was never sent (every tab configured with it still holds it good).
 *
 * @example
 * ```ts
 * const marked = markedRecord(localStorage, 'credential-actor:orders'); // { status, family, generation, value: null, ... }
 * ```
 */
export function markedRecord(storage: StorageLike | null, name: string): PlainRecord | null {
  if (storage === null) return null;
  try {
    const marked = JSON.parse(storage.getItem(`${name}:refresh-token-version`) ?? 'null') as unknown;
    // a configured refresh token never sent says nothing a tab does not know; a sign-in's says what it replaced
    if (!isRecordVersion<PlainRecord>(marked) || (marked.generation === 0 && marked.seq === 0 && marked.signedInAt === 0)) return null;
    const { signedInAt, family, generation, seq, formerFamilies } = marked;
    // a grant in flight in another tab may still answer until its deadline: waited for, as the record says
    const grant = isGrant(marked.grant) ? marked.grant : null;
    const status = marked.status === 'usable' || (marked.status === 'granting' && grant !== null) ? marked.status : 'inDoubt';
    return { status, signedInAt, family, generation, seq, value: null, grant, refusal: null, formerFamilies };
  } catch {
    return null;
  }
}

/** Whether a marker's grant is one (its deadline is what a tab waits for). */
function isGrant(grant: unknown): grant is NonNullable<PlainRecord['grant']> {
  const candidate = grant as Partial<NonNullable<PlainRecord['grant']>> | null;
  return typeof candidate?.id === 'string' && [candidate.sentAt, candidate.deadline, candidate.firstSentAt].every((at) => typeof at === 'number');
}
