import type { RefreshTokenRecord } from '../../machines/refresh-token.types.js';
import type { SecretValue } from '../../machines/secret.js';
import type { MintedToken } from '../auth-token.js';
import type { Clock } from '../clock.js';
import type { ExclusiveMint } from '../mint.js';
import { GrantRunner, type RecordHolder } from '../refresh-token-grant.js';
import { fromPlainRecord, toPlainRecord, versionOf, type PlainRecord } from '../refresh-token-record.js';

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
  readonly answered: (minted: MintedToken<SecretValue>) => void;
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
