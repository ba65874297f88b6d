/**
 * The refresh-token statechart's rules read off the record, field by field: `nextRecord` (XState's
 * `transition()` over `machines/refresh-token.machine.ts`) against a reference model written from
 * the docs (`test/reference/refresh-token-model.ts`), first on a table of edges (a deadline reached
 * exactly, the reuse interval's half, a retry's first send, an answer to another grant, the tenth
 * sign-in), then on random sequences of events (seeded; `FC_SEED`, `FC_RUNS`). The grant runner's
 * tests (`refresh-token-machine.test.ts`) show the holders act on these records; this file pins the
 * counters (`generation`, `seq`), the grant kept in flight and the families remembered, which every
 * holder orders records by.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import { FORMER_FAMILIES_KEPT, refreshTokenMachine } from '../../machines/refresh-token.machine.js';
import { familyRecord, grantDecision, nextRecord } from '../../machines/refresh-token.js';
import type { RefreshTokenEvent, RefreshTokenRecord } from '../../machines/refresh-token.types.js';
import { Secret } from '../../machines/secret.js';
import { MODEL_FORMER_FAMILIES, modelNextRecord } from '../reference/refresh-token-model.js';

const RUNS = Number(process.env.FC_RUNS ?? 500);
const SEED = Number(process.env.FC_SEED ?? 20_261_206);

/** A record as plain data, its refresh token revealed: what `toEqual` can compare. */
function plain(record: RefreshTokenRecord | null): unknown {
  return record === null ? null : { ...record, value: record.value?.reveal() ?? null };
}

const start = (): RefreshTokenRecord => familyRecord('fam-a', new Secret('rt-0'), 0);
const sent = (grantId: string, at: number, deadline = at + 1_000, reuseIntervalMs = 0): RefreshTokenEvent => ({ type: 'grant.sent', grantId, at, deadline, reuseIntervalMs });

/** Steps `events` from `record`, each through the statechart; `null` steps keep the record. Returns the last step's answer and the record. */
function run(record: RefreshTokenRecord, ...events: RefreshTokenEvent[]): { record: RefreshTokenRecord; last: RefreshTokenRecord | null } {
  let last: RefreshTokenRecord | null = null;
  for (const event of events) {
    last = nextRecord(record, event);
    if (last !== null) record = last;
  }
  return { record, last };
}

describe('the refresh-token record, edge by edge', () => {
  it('a send records the grant, its deadline and its first send, and counts a change', () => {
    expect(plain(nextRecord(start(), sent('g1', 100, 1_100)))).toEqual({
      ...plain(start())!,
      status: 'granting',
      seq: 1,
      grant: { id: 'g1', sentAt: 100, deadline: 1_100, firstSentAt: 100 },
    });
  });

  it('an answer ends the generation: the next refresh token (or the same one kept), seq back to 0, no grant', () => {
    const granting = run(start(), sent('g1', 100)).record;
    const next = new Secret('rt-1');
    const rotated = nextRecord(granting, { type: 'grant.rotated', grantId: 'g1', next })!;
    expect(plain(rotated)).toEqual({ ...plain(start())!, generation: 1, seq: 0, value: 'rt-1', grant: null });
    expect(rotated.value).toBe(next);
    expect(plain(nextRecord(granting, { type: 'grant.kept', grantId: 'g1' }))).toEqual({ ...plain(start())!, generation: 1, seq: 0 });
  });

  it('a refusal revokes: no refresh token, the issuer’s words kept, a change counted', () => {
    const granting = run(start(), sent('g1', 100)).record;
    const refusal = { error: 'invalid_grant', description: 'spent' };
    expect(plain(nextRecord(granting, { type: 'grant.refused', grantId: 'g1', refusal }))).toEqual({
      ...plain(granting)!,
      status: 'revoked',
      seq: 2,
      value: null,
      grant: null,
      refusal,
    });
  });

  it('a lost answer leaves the grant in doubt, still held so that its late answer counts', () => {
    const granting = run(start(), sent('g1', 100)).record;
    const lost = nextRecord(granting, { type: 'grant.lost', grantId: 'g1' })!;
    expect(plain(lost)).toEqual({ ...plain(granting)!, status: 'inDoubt', seq: 2 });
    expect(lost.grant).toEqual(granting.grant);
    expect(nextRecord(lost, { type: 'grant.lost', grantId: 'g1' })).toBeNull();
    expect(nextRecord(lost, { type: 'grant.unspent', grantId: 'g1' })).toBeNull();
    expect(nextRecord(lost, { type: 'grant.kept', grantId: 'g1' })).toMatchObject({ status: 'usable', generation: 1, seq: 0, grant: null });
  });

  it('an answer to another grant, or to none, changes nothing in any state', () => {
    const usable = start();
    const granting = run(usable, sent('g1', 100)).record;
    const inDoubt = run(granting, { type: 'grant.lost', grantId: 'g1' }).record;
    const revoked = run(granting, { type: 'grant.refused', grantId: 'g1', refusal: { error: 'invalid_grant' } }).record;
    const answers: RefreshTokenEvent[] = [
      { type: 'grant.rotated', grantId: 'g0', next: new Secret('x') },
      { type: 'grant.kept', grantId: 'g0' },
      { type: 'grant.unspent', grantId: 'g0' },
      { type: 'grant.refused', grantId: 'g0', refusal: { error: 'invalid_grant' } },
      { type: 'grant.lost', grantId: 'g0' },
    ];
    for (const record of [usable, granting, inDoubt, revoked]) {
      for (const answer of answers) expect(nextRecord(record, answer), `${record.status} ${answer.type}`).toBeNull();
    }
    // the answers to g1 mean nothing to a usable or revoked record either
    for (const record of [usable, revoked]) {
      for (const answer of answers) expect(nextRecord(record, { ...answer, grantId: 'g1' } as RefreshTokenEvent), `${record.status} ${answer.type}`).toBeNull();
    }
  });

  it('a first send that never left is usable again; a retry that never left leaves the first send in doubt', () => {
    const granting = run(start(), sent('g1', 100)).record;
    expect(plain(nextRecord(granting, { type: 'grant.unspent', grantId: 'g1' }))).toEqual({ ...plain(start())!, seq: 2, grant: null });
    const retried = run(granting, { type: 'grant.lost', grantId: 'g1' }, sent('g2', 200, 1_200, 10_000)).record;
    expect(retried.grant).toEqual({ id: 'g2', sentAt: 200, deadline: 1_200, firstSentAt: 100 });
    expect(plain(nextRecord(retried, { type: 'grant.unspent', grantId: 'g2' }))).toEqual({ ...plain(retried)!, status: 'inDoubt', seq: retried.seq + 1 });
  });

  it('a send while another is in flight waits for its deadline, reached exactly, and needs the reuse interval', () => {
    const granting = run(start(), sent('g1', 100, 1_100)).record;
    expect(nextRecord(granting, sent('g2', 1_099, 2_000, 10_000))).toBeNull();
    expect(nextRecord(granting, sent('g2', 1_100, 2_000, 0))).toBeNull();
    const again = nextRecord(granting, sent('g2', 1_100, 2_100, 10_000))!;
    expect(plain(again)).toEqual({ ...plain(granting)!, seq: 2, grant: { id: 'g2', sentAt: 1_100, deadline: 2_100, firstSentAt: 100 } });
    expect(grantDecision(granting, 1_099, 10_000)).toEqual({ kind: 'wait', until: 1_100 });
    expect(grantDecision(granting, 1_100, 10_000)).toEqual({ kind: 'send' });
    expect(grantDecision(granting, 1_100, 0)).toEqual({ kind: 'unusable', why: 'inDoubt', refusal: null });
  });

  it('in doubt, sent again only before the first half of the reuse interval, counted from the first send, ends', () => {
    const inDoubt = run(start(), sent('g1', 100), { type: 'grant.lost', grantId: 'g1' }).record;
    expect(nextRecord(inDoubt, sent('g2', 5_099, 6_000, 10_000))).toMatchObject({ status: 'granting', grant: { id: 'g2', firstSentAt: 100 } });
    expect(nextRecord(inDoubt, sent('g2', 5_100, 6_000, 10_000))).toBeNull();
    expect(nextRecord(inDoubt, sent('g2', 101, 6_000, 0))).toBeNull();
    // a second retry still counts from the first send
    const retried = run(inDoubt, sent('g2', 3_000, 4_000, 10_000), { type: 'grant.lost', grantId: 'g2' }).record;
    expect(nextRecord(retried, sent('g3', 5_099, 6_000, 10_000))).toMatchObject({ grant: { firstSentAt: 100 } });
    expect(nextRecord(retried, sent('g3', 5_100, 6_000, 10_000))).toBeNull();
    expect(grantDecision(inDoubt, 5_099, 10_000)).toEqual({ kind: 'send' });
    expect(grantDecision(inDoubt, 5_100, 10_000)).toEqual({ kind: 'unusable', why: 'inDoubt', refusal: null });
  });

  it('a send is judged on the reading it carries: a clock behind the first send is no reuse interval, and none is set', () => {
    // another process's clock may be behind the one that sent first
    const inDoubt = run(start(), sent('g1', 5_000), { type: 'grant.lost', grantId: 'g1' }).record;
    expect(nextRecord(inDoubt, sent('g2', 4_000, 6_000, 0))).toBeNull();
    expect(nextRecord(inDoubt, sent('g2', 4_000, 6_000, 1_000))).toMatchObject({ status: 'granting', grant: { id: 'g2', firstSentAt: 5_000 } });
    const granting = run(start(), sent('g1', 5_000, 5_500)).record;
    expect(nextRecord(granting, sent('g2', 5_500, 6_000, 0))).toBeNull();
  });

  it('a record in doubt with no grant held (an earlier release’s, mid-grant) is never sent again, and no answer moves it', () => {
    const inDoubt: RefreshTokenRecord = { ...start(), status: 'inDoubt', generation: 3 };
    for (const reuseIntervalMs of [0, 1_000_000]) expect(nextRecord(inDoubt, sent('g1', 1, 2, reuseIntervalMs))).toBeNull();
    expect(grantDecision(inDoubt, 1, 1_000_000)).toEqual({ kind: 'unusable', why: 'inDoubt', refusal: null });
    for (const type of ['grant.kept', 'grant.unspent', 'grant.lost'] as const) expect(nextRecord(inDoubt, { type, grantId: 'g1' })).toBeNull();
    expect(nextRecord(inDoubt, { type: 'grant.rotated', grantId: 'g1', next: new Secret('x') })).toBeNull();
  });

  it('started as an actor (it is exported for apps to inspect), it starts from the record it is given', () => {
    const { status: _status, ...context } = run(start(), sent('g1', 100)).record;
    const actor = createActor(refreshTokenMachine, { input: context }).start();
    expect(actor.getSnapshot().value).toBe('usable');
    expect(plain({ ...actor.getSnapshot().context, status: 'usable' })).toEqual(plain({ ...context, status: 'usable' }));
    actor.stop();
  });

  it('revoked is final: no send, whatever the reuse interval; the decision names the refusal', () => {
    const refusal = { error: 'invalid_grant' };
    const revoked = run(start(), sent('g1', 100), { type: 'grant.refused', grantId: 'g1', refusal }).record;
    expect(nextRecord(revoked, sent('g2', 101, 200, 1_000_000))).toBeNull();
    expect(grantDecision(revoked, 101, 1_000_000)).toEqual({ kind: 'unusable', why: 'revoked', refusal });
  });

  it('a sign-in starts the family over in any state and remembers the replaced ones, newest first, eight at most', () => {
    expect(FORMER_FAMILIES_KEPT).toBe(MODEL_FORMER_FAMILIES);
    const granting = run(start(), sent('g1', 100)).record;
    const signedIn = nextRecord(granting, { type: 'signedIn', family: 'fam-b', at: 500, refreshToken: new Secret('rt-b') })!;
    expect(plain(signedIn)).toEqual({ status: 'usable', signedInAt: 500, family: 'fam-b', generation: 0, seq: 0, value: 'rt-b', grant: null, refusal: null, formerFamilies: ['fam-a'] });
    let record = signedIn;
    for (let n = 0; n < 10; n += 1) record = nextRecord(record, { type: 'signedIn', family: `fam-${n}`, at: 600 + n, refreshToken: new Secret(`rt-${n}`) })!;
    expect(record.formerFamilies).toEqual(['fam-8', 'fam-7', 'fam-6', 'fam-5', 'fam-4', 'fam-3', 'fam-2', 'fam-1']);
    // the same sign-in heard twice, or a family replaced, changes nothing
    expect(nextRecord(record, { type: 'signedIn', family: 'fam-9', at: 700, refreshToken: new Secret('rt-9') })).toBeNull();
    expect(nextRecord(record, { type: 'signedIn', family: 'fam-1', at: 700, refreshToken: new Secret('rt-1') })).toBeNull();
    // a family forgotten (past eight) may come back
    const back = nextRecord(record, { type: 'signedIn', family: 'fam-0', at: 701, refreshToken: new Secret('rt-0') })!;
    expect(back.formerFamilies).toEqual(['fam-9', 'fam-8', 'fam-7', 'fam-6', 'fam-5', 'fam-4', 'fam-3', 'fam-2']);
  });
});

/** One random event, its grant and times chosen around the record it meets (deadlines and the reuse interval's half, exactly). */
type EventSpec = { kind: number; grant: number; time: number; offset: number; reuse: number; family: number };

function eventFor(record: RefreshTokenRecord, spec: EventSpec, step: number): RefreshTokenEvent {
  const ids = ['g-old', record.grant?.id ?? 'g-none', `g-${step}`];
  const grantId = ids[spec.grant]!;
  const reuseIntervalMs = [0, 2_000, 10_000][spec.reuse]!;
  const first = record.grant?.firstSentAt ?? 0;
  const anchors = [record.grant?.deadline ?? 0, first + reuseIntervalMs / 2, record.grant?.sentAt ?? 0, step * 1_000];
  const at = Math.max(0, anchors[spec.time]! + spec.offset);
  switch (spec.kind) {
    case 0:
      return { type: 'grant.sent', grantId: `g-${step}`, at, deadline: at + 1_000, reuseIntervalMs };
    case 1:
      return { type: 'grant.rotated', grantId, next: new Secret(`rt-${step}`) };
    case 2:
      return { type: 'grant.kept', grantId };
    case 3:
      return { type: 'grant.unspent', grantId };
    case 4:
      return { type: 'grant.refused', grantId, refusal: { error: 'invalid_grant', description: `step ${step}` } };
    case 5:
      return { type: 'grant.lost', grantId };
    default:
      return { type: 'signedIn', family: ['fam-a', record.formerFamilies[0] ?? 'fam-x', `fam-${spec.family}`][spec.family % 3]!, at, refreshToken: new Secret(`rt-s${step}`) };
  }
}

const eventSpec: fc.Arbitrary<EventSpec> = fc.record({
  kind: fc.nat(6),
  grant: fc.nat(2),
  time: fc.nat(3),
  offset: fc.constantFrom(-1, 0, 1, 500),
  reuse: fc.nat(2),
  family: fc.nat(11),
});

describe('the refresh-token record on random sequences of events', () => {
  it(`agrees with the reference model after every event (seed ${SEED}, ${RUNS} runs)`, () => {
    fc.assert(
      fc.property(fc.array(eventSpec, { minLength: 1, maxLength: 40 }), (specs) => {
        let record = start();
        specs.forEach((spec, step) => {
          const event = eventFor(record, spec, step);
          const expected = modelNextRecord(record, event);
          const actual = nextRecord(record, event);
          expect(plain(actual), `${record.status} + ${JSON.stringify(event)}`).toEqual(plain(expected));
          if (actual !== null) record = actual;
        });
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });
});
