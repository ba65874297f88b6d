/**
 * Which of two refresh-token records every holder keeps (`isNewerRecord`), what counts as a record
 * heard of (`isRecordVersion`), and the record a holder starts from (`startingRecord`): pure
 * functions of `machines/`, each case one rule of their TSDoc. The coordinations use them across
 * processes and tabs (their real-process tests run them end to end); here each rule is held alone,
 * at its edges, so that a changed comparison is told apart.
 */
import { describe, expect, it } from 'vitest';
import { FORMER_FAMILIES_KEPT } from '../../machines/refresh-token.machine.js';
import { familyRecord, grantDecision, startingRecord } from '../../machines/refresh-token.js';
import { isNewerRecord, isRecordVersion, type RecordVersion } from '../../machines/refresh-token-order.js';
import type { RefreshTokenRecord } from '../../machines/refresh-token.types.js';
import { Secret } from '../../machines/secret.js';

const version = (fields: Partial<RecordVersion> = {}): RecordVersion => ({ signedInAt: 100, family: 'fam-b', generation: 3, seq: 2, formerFamilies: [], status: 'usable', ...fields });

describe('isNewerRecord: which record a holder keeps', () => {
  it.each<[string, Partial<RecordVersion>, Partial<RecordVersion> | null, boolean]>([
    // [case, candidate, current, newer]
    ['anything is newer than nothing', {}, null, true],
    // one family: a later generation, or a later change within one
    ['same family, later generation', { generation: 4, seq: 0 }, { generation: 3, seq: 9 }, true],
    ['same family, earlier generation', { generation: 2, seq: 9 }, { generation: 3, seq: 0 }, false],
    ['same family and generation, later change', { seq: 3 }, { seq: 2 }, true],
    ['same family and generation, earlier change', { seq: 1 }, { seq: 2 }, false],
    ['the very same version is not newer', {}, {}, false],
    ['same family, the sign-in and status do not count', { signedInAt: 999, status: 'revoked' }, { signedInAt: 1, status: 'usable' }, false],
    // across families: the one that replaced the other
    ['a family the current one replaced is older, however it looks', { family: 'fam-a', signedInAt: 999 }, { family: 'fam-b', signedInAt: 1, formerFamilies: ['fam-a'] }, false],
    [
      'the family that replaced the current one is newer, however it looks',
      { family: 'fam-c', signedInAt: 1, status: 'revoked', formerFamilies: ['fam-b'] },
      { family: 'fam-b', signedInAt: 999 },
      true,
    ],
    // across families neither names: the later sign-in, dead or not (a copy that looks live may be stale)
    ['an earlier sign-in that looks live is not newer than a later one revoked', { family: 'fam-c', signedInAt: 1 }, { family: 'fam-b', signedInAt: 999, status: 'revoked' }, false],
    [
      'an earlier sign-in that looks live is not newer than a later one in doubt',
      { family: 'fam-c', signedInAt: 1, status: 'granting' },
      { family: 'fam-b', signedInAt: 999, status: 'inDoubt' },
      false,
    ],
    ['a later sign-in revoked is newer than an earlier one that looks live', { family: 'fam-c', signedInAt: 999, status: 'revoked' }, { family: 'fam-b', signedInAt: 1 }, true],
    ['a later sign-in in doubt is newer than an earlier one that looks live', { family: 'fam-c', signedInAt: 999, status: 'inDoubt' }, { family: 'fam-b', signedInAt: 1 }, true],
    // tabs simulation, seed 115289883: a tab's own copy of the configured family (unspent, kept since its first grant)
    // against a sign-in made by a tab that had heard nothing (so it names only the family that tab was configured with)
    [
      'a configured family kept from long ago is not newer than a later sign-in in doubt that does not name it',
      { family: 'fam-1', signedInAt: 0, generation: 0, seq: 2 },
      { family: 'fam-3', signedInAt: 8_540, generation: 0, seq: 4, status: 'inDoubt', formerFamilies: ['fam-2'] },
      false,
    ],
    ['both live: the later sign-in', { family: 'fam-a', signedInAt: 101 }, { family: 'fam-b', signedInAt: 100 }, true],
    ['both live: not the earlier sign-in', { family: 'fam-c', signedInAt: 99 }, { family: 'fam-b', signedInAt: 100 }, false],
    ['both dead: the later sign-in', { family: 'fam-a', signedInAt: 101, status: 'revoked' }, { family: 'fam-b', signedInAt: 100, status: 'inDoubt' }, true],
    ['the same sign-in: the greater family name', { family: 'fam-c' }, { family: 'fam-b' }, true],
    ['the same sign-in: not the lesser family name', { family: 'fam-a' }, { family: 'fam-b' }, false],
  ])('%s', (_, candidate, current, newer) => {
    expect(isNewerRecord(version(candidate), current === null ? null : version(current))).toBe(newer);
  });

  it('orders any two distinct versions one way only (never both newer)', () => {
    const versions = [
      version(),
      version({ seq: 3 }),
      version({ generation: 4, seq: 0 }),
      version({ family: 'fam-c', signedInAt: 100 }),
      version({ family: 'fam-a', signedInAt: 101, status: 'revoked' }),
      version({ family: 'fam-d', formerFamilies: ['fam-b'], signedInAt: 50 }),
    ];
    for (const a of versions) for (const b of versions) if (a !== b) expect(isNewerRecord(a, b) && isNewerRecord(b, a), `${JSON.stringify(a)} / ${JSON.stringify(b)}`).toBe(false);
  });
});

describe('isRecordVersion: what a heard record must carry to be ordered', () => {
  it.each<[string, unknown, boolean]>([
    ['a full version', version(), true],
    ['a record with more fields', { ...version(), value: 'x', grant: null }, true],
    ['nothing', null, false],
    ['no family', { ...version(), family: undefined }, false],
    ['a family that is no string', { ...version(), family: 7 }, false],
    ['no sign-in time', { ...version(), signedInAt: undefined }, false],
    ['a generation that is no number', { ...version(), generation: '3' }, false],
    ['no change count', { ...version(), seq: undefined }, false],
    ['former families that are no array', { ...version(), formerFamilies: 'fam-a' }, false],
  ])('%s', (_, heard, orderable) => {
    expect(isRecordVersion(heard)).toBe(orderable);
  });
});

describe('startingRecord: the record a holder starts from', () => {
  const configured = familyRecord('fam-b', new Secret('rt-configured'), 0);
  /** Configured at the clock's start: before every sign-in. */
  const handed = { record: configured, at: 0 };
  const held = (fields: Partial<RefreshTokenRecord>): RefreshTokenRecord => ({ ...familyRecord('fam-b', new Secret('rt-held'), 0), ...fields });
  const reveal = (record: RefreshTokenRecord) => ({ ...record, value: record.value?.reveal() ?? null });

  it('holding nothing: the configured refresh token', () => {
    expect(startingRecord(null, handed, 0, 0)).toBe(configured);
  });

  it('the configured token itself, its value not known to the holder (a marker): the held record with the configured value', () => {
    const marker = held({ value: null, generation: 0 });
    expect(reveal(startingRecord(marker, handed, 0, 0))).toEqual(reveal({ ...marker, value: configured.value }));
  });

  it.each<[string, Partial<RefreshTokenRecord>]>([
    ['its value known', { generation: 0 }],
    ['a later generation of the family, its value not known', { value: null, generation: 1 }],
    ['the configured one, refused by the issuer', { value: null, generation: 0, status: 'revoked', refusal: { error: 'invalid_grant' } }],
  ])('the same family, %s: the held record as it is', (_, fields) => {
    const record = held(fields);
    expect(startingRecord(record, handed, 0, 0)).toBe(record);
  });

  it('a family that replaced the configured one (a sign-in since): the held record, even revoked', () => {
    const record = held({ family: 'fam-c', formerFamilies: ['fam-b'], status: 'revoked' });
    expect(startingRecord(record, handed, 0, 0)).toBe(record);
  });

  it.each<[string, Partial<RefreshTokenRecord>]>([
    ['usable, its value only another holder knows', { family: 'fam-a', value: null, status: 'usable' }],
    ['granting, its value only another holder knows', { family: 'fam-a', value: null, status: 'granting', grant: { id: 'g1', sentAt: 0, deadline: 10, firstSentAt: 0 } }],
    ['usable, its value known', { family: 'fam-a', status: 'usable' }],
  ])('another family, live (%s): the held record, which the configured token does not replace', (_, fields) => {
    const record = held(fields);
    expect(startingRecord(record, handed, 0, 0)).toBe(record);
  });

  it('another family granting past its deadline, its value only another holder knows: still the held record (that holder may know how it went)', () => {
    const record = held({ family: 'fam-a', value: null, status: 'granting', grant: { id: 'g1', sentAt: 0, deadline: 10, firstSentAt: 0 } });
    expect(startingRecord(record, handed, 100, 0)).toBe(record);
  });

  it('another family granting past its deadline, its value known here (this holder sent it and never heard back): dead unless the reuse interval still lets it be sent', () => {
    const record = held({ family: 'fam-a', status: 'granting', grant: { id: 'g1', sentAt: 0, deadline: 10, firstSentAt: 0 }, formerFamilies: ['fam-0'] });
    // before the deadline the grant may still answer: wait for it
    expect(startingRecord(record, handed, 9, 0)).toBe(record);
    // past it, with no reuse interval: in doubt for good
    expect(reveal(startingRecord(record, handed, 100, 0))).toEqual(reveal({ ...configured, formerFamilies: ['fam-a', 'fam-0'] }));
    // past it, within a reuse interval counted from its first send: it may be sent again
    expect(startingRecord(record, handed, 100, 1_000)).toBe(record);
  });

  it('another family in doubt, its value not known here: dead, so the configured token starts over', () => {
    const record = held({ family: 'fam-a', value: null, status: 'inDoubt' });
    expect(reveal(startingRecord(record, handed, 0, 0))).toEqual(reveal({ ...configured, formerFamilies: ['fam-a'] }));
  });

  it.each<[string, Partial<RefreshTokenRecord>]>([
    ['revoked', { family: 'fam-a', status: 'revoked', refusal: { error: 'invalid_grant' } }],
    ['in doubt for good, its value known', { family: 'fam-a', status: 'inDoubt' }],
    ['usable, but its value unknown and refused', { family: 'fam-a', value: null, status: 'revoked', refusal: { error: 'invalid_grant' } }],
  ])('another family, dead (%s): the configured token starts over, remembering the dead family first', (_, fields) => {
    const record = held({ ...fields, formerFamilies: ['fam-0'] });
    const started = startingRecord(record, handed, 0, 0);
    expect(reveal(started)).toEqual(reveal({ ...configured, formerFamilies: ['fam-a', 'fam-0'] }));
  });

  describe('a dead family signed in after this holder was configured (its list of replaced families can miss the configured one)', () => {
    // tabs simulation, seed 20261992: a tab configured with family f2's refresh token signed in family f3
    // before it heard the record, so f3 lists only f2; f3's first grant was lost; a tab configured at
    // the start with family f1's refresh token (long spent) took f1 back and sent it again
    const f1 = familyRecord('f1', new Secret('rt-1-0'), 0);
    const f3 = { ...familyRecord('f3', new Secret('rt-3-0'), 9_045, ['f2']), status: 'granting' as const, grant: { id: 'g', sentAt: 10_058, deadline: 16_058, firstSentAt: 10_058 } };

    it('configured before that sign-in: the held record, which may not be sent (the configured token is older, maybe spent)', () => {
      expect(startingRecord(f3, { record: f1, at: 0 }, 16_059, 0)).toBe(f3);
      expect(startingRecord(f3, { record: f1, at: 9_044 }, 16_059, 0)).toBe(f3);
      expect(grantDecision(f3, 16_059, 0)).toMatchObject({ kind: 'unusable', why: 'inDoubt' });
    });

    it('configured after it (a new sign-in deployed as config): the configured token starts over', () => {
      expect(reveal(startingRecord(f3, { record: f1, at: 9_045 }, 16_059, 0))).toEqual(reveal({ ...f1, formerFamilies: ['f3', 'f2'] }));
      expect(startingRecord(f3, { record: f1, at: 20_000 }, 16_059, 0).family).toBe('f1');
    });

    it('the same family as configured: unchanged by when it was configured', () => {
      const signedIn = { ...familyRecord('f1', new Secret('rt-1-3'), 9_045), generation: 3 };
      expect(startingRecord(signedIn, { record: f1, at: 0 }, 0, 0)).toBe(signedIn);
    });
  });

  it(`remembers at most ${FORMER_FAMILIES_KEPT} former families, the newest first`, () => {
    const former = Array.from({ length: FORMER_FAMILIES_KEPT + 3 }, (_, index) => `old-${index}`);
    const started = startingRecord(held({ family: 'fam-a', status: 'revoked', formerFamilies: former }), handed, 0, 0);
    expect(started.formerFamilies).toEqual(['fam-a', ...former].slice(0, FORMER_FAMILIES_KEPT));
  });
});
