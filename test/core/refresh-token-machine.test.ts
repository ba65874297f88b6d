/**
 * The refresh-token statechart (`machines/refresh-token.machine.ts`), every transition of it taken
 * through the real grant runner (`src/refresh-token-grant.ts`) and a holder, with a mint whose every
 * grant is scripted: each step says which transition it takes, the holder's record must then be in
 * that transition's target, and the steps together must take every transition the machine has (read
 * from the machine itself: a transition added to it without a step here fails this test).
 */
import { describe, expect, it } from 'vitest';
import { toDirectedGraph, type DirectedGraphNode } from 'xstate/graph';
import { refreshTokenMachine } from '../../machines/refresh-token.machine.js';
import { familyRecord, grantDecision, isNewerRecord, nextRecord, startingRecord } from '../../machines/refresh-token.js';
import type { RefreshTokenRecord } from '../../machines/refresh-token.types.js';
import { Secret } from '../../machines/secret.js';
import type { ExclusiveMint, MintContext, MintedToken } from '../../src/index.js';
import { familyOf, GrantRunner, versionOf, type RecordHolder, type RefreshTokenGrant } from '../../src/refresh-token-grant.js';
import { ManualClock } from '../../src/testing/index.js';
import { outcome, until } from '../helpers.js';

type Behaviour = (grant: RefreshTokenGrant, signal: AbortSignal) => Promise<MintedToken>;

/** A holder in memory, as the one of a process alone, whose writes the test reads. */
class MemoryHolder implements RecordHolder {
  record: RefreshTokenRecord | null = null;
  async read(): Promise<RefreshTokenRecord | null> {
    return this.record;
  }
  async write(next: RefreshTokenRecord, expected: RefreshTokenRecord | null): Promise<boolean> {
    if (versionOf(this.record) !== versionOf(expected)) return false;
    this.record = next;
    return true;
  }
}

function harness(options: { reuseIntervalMs?: number } = {}) {
  const clock = new ManualClock(Date.parse('2026-12-05T00:00:00Z'));
  const script: Behaviour[] = [];
  const calls: RefreshTokenGrant[] = [];
  const mint = Object.assign(
    async ({ grant, signal }: MintContext): Promise<MintedToken> => {
      calls.push(grant!);
      return script.shift()!(grant!, signal);
    },
    { exclusive: true as const, configuredRefreshToken: new Secret('rt-0'), configuredAt: clock.now(), grantTimeoutMs: 10_000, reuseIntervalMs: options.reuseIntervalMs ?? 0, signIn: async () => {} },
  ) as ExclusiveMint;
  const holder = new MemoryHolder();
  const runner = new GrantRunner({ mint, holder, clock });
  const token = (secret: string): MintedToken => ({ secret, expiresAt: clock.now() + 60_000 });
  const signal = () => new AbortController().signal;
  return { clock, script, calls, holder, runner, token, signal, mint };
}

/** The transitions the steps below took, as `source --event--> target`. */
const taken = new Set<string>();
function took(holder: MemoryHolder, from: string, event: string, to: string): void {
  expect(holder.record?.status, `${from} --${event}--> ${to}`).toBe(to);
  taken.add(`refreshToken.${from} --${event}--> refreshToken.${to}`);
}

describe('the refresh-token statechart, every transition through the grant runner', () => {
  it('usable --grant.sent--> granting --grant.rotated--> usable: the answer’s refresh token is the next one sent', async () => {
    const { script, calls, holder, runner, token, signal } = harness();
    let granting: string | undefined;
    script.push(async (grant) => {
      granting = holder.record?.status;
      grant.rotated('rt-1');
      return token('at-1');
    });
    await runner.step({ signal: signal(), held: null });
    expect(granting).toBe('granting');
    taken.add('refreshToken.usable --grant.sent--> refreshToken.granting');
    took(holder, 'granting', 'grant.rotated', 'usable');
    script.push(async () => token('at-2'));
    await runner.step({ signal: signal(), held: holder.record });
    expect(calls.map((call) => call.refreshToken.reveal())).toEqual(['rt-0', 'rt-1']);
  });

  it('granting --grant.kept--> usable: an issuer that does not rotate keeps the refresh token', async () => {
    const { script, calls, holder, runner, token, signal } = harness();
    script.push(
      async () => token('at-1'),
      async () => token('at-2'),
    );
    await runner.step({ signal: signal(), held: null });
    took(holder, 'granting', 'grant.kept', 'usable');
    await runner.step({ signal: signal(), held: holder.record });
    expect(calls.map((call) => call.refreshToken.reveal())).toEqual(['rt-0', 'rt-0']);
  });

  it('granting --grant.unspent--> usable (the first send): sent again later', async () => {
    const { script, calls, holder, runner, token, signal } = harness();
    script.push(async (grant) => {
      grant.unspent();
      throw new Error('connection refused');
    });
    expect(await outcome(runner.step({ signal: signal(), held: null }))).toMatchObject({ ok: false });
    took(holder, 'granting', 'grant.unspent', 'usable');
    script.push(async () => token('at-1'));
    await runner.step({ signal: signal(), held: holder.record });
    expect(calls.map((call) => call.refreshToken.reveal())).toEqual(['rt-0', 'rt-0']);
  });

  it('granting --grant.lost--> inDoubt: never sent again, REFRESH_TOKEN_UNUSABLE; a late answer --grant.rotated--> usable', async () => {
    const { script, holder, runner, signal } = harness();
    let late!: RefreshTokenGrant;
    script.push(async (grant) => {
      late = grant;
      throw new Error('socket hang up');
    });
    expect(await outcome(runner.step({ signal: signal(), held: null }))).toMatchObject({ ok: false });
    took(holder, 'granting', 'grant.lost', 'inDoubt');
    expect(await outcome(runner.step({ signal: signal(), held: holder.record }))).toMatchObject({ ok: false, error: { code: 'REFRESH_TOKEN_UNUSABLE' } });
    late.rotated('rt-1');
    await until(() => holder.record?.status === 'usable');
    took(holder, 'inDoubt', 'grant.rotated', 'usable');
    expect(holder.record?.value?.reveal()).toBe('rt-1');
  });

  it('inDoubt --grant.kept--> usable and inDoubt --grant.refused--> revoked: what a late answer says is final', async () => {
    for (const [say, target] of [
      ['kept', 'usable'],
      ['refused', 'revoked'],
    ] as const) {
      const { script, holder, runner, signal } = harness();
      let late!: RefreshTokenGrant;
      const settle = { resolve: (_token: MintedToken) => {}, reject: (_error: unknown) => {} };
      script.push(async (grant) => {
        late = grant;
        return new Promise<MintedToken>((resolve, reject) => Object.assign(settle, { resolve, reject }));
      });
      const controller = new AbortController();
      const attempt = outcome(runner.step({ signal: controller.signal, held: null }));
      await until(() => late !== undefined);
      settle.reject(new Error('reset')); // lost
      await attempt;
      await until(() => holder.record?.status === 'inDoubt');
      if (say === 'kept') {
        // a mint that says nothing after failing cannot report kept; the record's own rule does it for the same grant
        const kept = nextRecord(holder.record!, { type: 'grant.kept', grantId: holder.record!.grant!.id })!;
        expect(await holder.write(kept, holder.record)).toBe(true);
      } else {
        late.refused({ error: 'invalid_grant', description: 'revoked' });
        await until(() => holder.record?.status === 'revoked');
      }
      took(holder, 'inDoubt', `grant.${say}`, target);
    }
  });

  it('granting --grant.refused--> revoked: invalid_grant is final, with the issuer’s words', async () => {
    const { script, holder, runner, signal } = harness();
    script.push(async (grant) => {
      grant.refused({ error: 'invalid_grant', description: 'reused' });
      throw new Error('invalid_grant');
    });
    expect(await outcome(runner.step({ signal: signal(), held: null }))).toMatchObject({ ok: false });
    took(holder, 'granting', 'grant.refused', 'revoked');
    const again = await outcome(runner.step({ signal: signal(), held: holder.record }));
    expect(again).toMatchObject({ ok: false, error: { code: 'REFRESH_TOKEN_UNUSABLE', refusal: { error: 'invalid_grant', description: 'reused' } } });
  });

  it('inDoubt --grant.sent--> granting within the reuse interval’s first half; a retry that did not leave --grant.unspent--> inDoubt', async () => {
    const { clock, script, calls, holder, runner, token, signal } = harness({ reuseIntervalMs: 10_000 });
    script.push(async () => {
      throw new Error('socket hang up'); // lost
    });
    await outcome(runner.step({ signal: signal(), held: null }));
    clock.advance(1_000);
    script.push(async (grant) => {
      grant.unspent();
      throw new Error('refused');
    });
    await outcome(runner.step({ signal: signal(), held: holder.record }));
    taken.add('refreshToken.inDoubt --grant.sent--> refreshToken.granting');
    took(holder, 'granting', 'grant.unspent', 'inDoubt'); // the earlier send is still in doubt
    clock.advance(1_000);
    script.push(async () => token('at-1'));
    await runner.step({ signal: signal(), held: holder.record });
    expect(calls.map((call) => call.refreshToken.reveal())).toEqual(['rt-0', 'rt-0', 'rt-0']);
    clock.advance(61_000);
    script.push(async () => {
      throw new Error('socket hang up');
    });
    await outcome(runner.step({ signal: signal(), held: holder.record }));
    clock.advance(6_000); // past the first half of the interval: never again
    expect(await outcome(runner.step({ signal: signal(), held: holder.record }))).toMatchObject({ ok: false, error: { code: 'REFRESH_TOKEN_UNUSABLE' } });
  });

  it('granting --grant.sent--> granting: another holder’s grant given up at its deadline, sent again within the reuse interval', async () => {
    const { clock, script, calls, holder, runner, token, signal } = harness({ reuseIntervalMs: 60_000 });
    const start = familyRecord(await familyOf('rt-0'), new Secret('rt-0'), 0);
    holder.record = nextRecord(start, { type: 'grant.sent', grantId: 'other-holder', at: clock.now(), deadline: clock.now() + 5_000, reuseIntervalMs: 60_000 });
    expect(await runner.step({ signal: signal(), held: holder.record })).toEqual({ kind: 'wait', until: clock.now() + 5_000 });
    clock.advance(5_000);
    let status: string | undefined;
    script.push(async () => {
      status = holder.record?.status;
      return token('at-1');
    });
    await runner.step({ signal: signal(), held: holder.record });
    expect(status).toBe('granting');
    expect(calls).toHaveLength(1);
    taken.add('refreshToken.granting --grant.sent--> refreshToken.granting');
  });

  it('--signedIn--> usable from every state: a new sign-in replaces the family; a family already replaced is not taken back', async () => {
    for (const from of ['usable', 'granting', 'inDoubt', 'revoked'] as const) {
      const { script, holder, runner, token, signal } = harness();
      if (from !== 'usable') {
        script.push(async (grant) => {
          if (from === 'revoked') grant.refused({ error: 'invalid_grant' });
          if (from === 'granting') return new Promise<MintedToken>(() => {});
          throw new Error('lost');
        });
        void outcome(runner.step({ signal: signal(), held: null }));
        await until(() => holder.record?.status === from);
      } else {
        script.push(async () => token('at-1'));
        await runner.step({ signal: signal(), held: null });
      }
      const before = holder.record!;
      await runner.signIn(new Secret(`rt-signed-in-${from}`));
      expect(holder.record?.status).toBe('usable');
      expect(holder.record?.formerFamilies).toEqual([before.family]);
      expect(isNewerRecord(holder.record!, before)).toBe(true);
      taken.add('refreshToken --signedIn--> refreshToken.usable');
      // heard again, or after its family was replaced: nothing changes
      expect(nextRecord(holder.record!, { type: 'signedIn', family: holder.record!.family, at: 9, refreshToken: new Secret('x') })).toBeNull();
      const replaced = nextRecord(holder.record!, { type: 'signedIn', family: 'newer', at: 10, refreshToken: new Secret('y') })!;
      expect(nextRecord(replaced, { type: 'signedIn', family: holder.record!.family, at: 11, refreshToken: new Secret('z') })).toBeNull();
    }
  });

  it('a dead family signed in after this holder was configured, not naming its configured family: never replaced by it (REFRESH_TOKEN_UNUSABLE, nothing sent)', async () => {
    // the tabs simulation's seed 20261992: family f3 was signed in by a tab that had heard only f2, so f3
    // names f2 alone; its grant was lost; this holder, configured with rt-0 before f3's sign-in, must not send rt-0
    const deadFamilySignedInAt = async (clock: ManualClock, signedInAt: number) => {
      const signedIn = familyRecord('f3', new Secret('rt-3-0'), signedInAt, ['f2']);
      const sent = nextRecord(signedIn, { type: 'grant.sent', grantId: 'g', at: clock.now(), deadline: clock.now() + 1_000, reuseIntervalMs: 0 })!;
      clock.advance(1_000);
      return nextRecord(sent, { type: 'grant.lost', grantId: 'g' })!;
    };
    const before = harness();
    before.clock.advance(9_045);
    before.holder.record = await deadFamilySignedInAt(before.clock, before.clock.now());
    expect(await outcome(before.runner.step({ signal: before.signal(), held: before.holder.record }))).toMatchObject({ ok: false, error: { code: 'REFRESH_TOKEN_UNUSABLE' } });
    expect(before.calls).toHaveLength(0);
    expect(before.holder.record.family).toBe('f3');

    // configured after that sign-in (a new sign-in deployed as config): its refresh token starts over
    const after = harness();
    after.holder.record = await deadFamilySignedInAt(after.clock, after.clock.now() - 1);
    after.script.push(async () => after.token('at-1'));
    await after.runner.step({ signal: after.signal(), held: after.holder.record });
    expect(after.calls.map((grant) => grant.refreshToken.reveal())).toEqual(['rt-0']);
    expect(after.holder.record?.formerFamilies).toEqual(['f3', 'f2']);
  });

  it('a record the caller read before a pause, dead by then: read again once before callers are told to sign in (a sign-in landed meanwhile)', async () => {
    // the fleet simulation's seed 51937392: a lease's answer carried the record in doubt, the process
    // was paused before it read it, and another process signed in meanwhile
    const { clock, script, calls, holder, runner, token, signal } = harness();
    const start = familyRecord(await familyOf('rt-0'), new Secret('rt-0'), 0);
    const sent = nextRecord(start, { type: 'grant.sent', grantId: 'g', at: clock.now(), deadline: clock.now() + 1_000, reuseIntervalMs: 0 })!;
    clock.advance(1_000);
    const stale = nextRecord(sent, { type: 'grant.lost', grantId: 'g' })!;
    holder.record = nextRecord(stale, { type: 'signedIn', family: await familyOf('rt-signed-in'), at: clock.now(), refreshToken: new Secret('rt-signed-in') });
    script.push(async () => token('at-1'));
    expect(await runner.step({ signal: signal(), held: stale })).toMatchObject({ kind: 'minted' });
    expect(calls.map((grant) => grant.refreshToken.reveal())).toEqual(['rt-signed-in']);
    // still dead when read again: callers are told, and nothing is sent
    const again = harness();
    again.holder.record = stale;
    expect(await outcome(again.runner.step({ signal: again.signal(), held: stale }))).toMatchObject({ ok: false, error: { code: 'REFRESH_TOKEN_UNUSABLE' } });
    expect(again.calls).toHaveLength(0);
  });

  it('its own record kept from long ago (its family unspent) never wins over a later sign-in in doubt that does not name it', async () => {
    // the tabs simulation's seed 115289883: a tab's first grant got a 503, so its runner kept rt-0
    // unspent; much later a tab that had heard nothing signed in (naming only the family it was
    // configured with) and that family was lost in doubt; this tab then sent rt-0, and another tab,
    // from its own old copy of a family rotated since, sent that family's spent refresh token
    const { clock, script, calls, holder, runner, signal } = harness();
    script.push(async (grant) => {
      grant.unspent();
      throw new Error('HTTP 503');
    });
    await outcome(runner.step({ signal: signal(), held: null }));
    expect(holder.record?.status).toBe('usable');
    clock.advance(8_540);
    const signedIn = familyRecord('f3', new Secret('rt-3-0'), clock.now(), ['f2']);
    const sent = nextRecord(signedIn, { type: 'grant.sent', grantId: 'g', at: clock.now(), deadline: clock.now() + 1_000, reuseIntervalMs: 0 })!;
    clock.advance(1_000);
    holder.record = nextRecord(sent, { type: 'grant.lost', grantId: 'g' })!;
    expect(await outcome(runner.step({ signal: signal(), held: holder.record }))).toMatchObject({ ok: false, error: { code: 'REFRESH_TOKEN_UNUSABLE' } });
    expect(calls).toHaveLength(1);
  });

  it('an outcome the holder refused (another holder wrote since) is not kept as the runner’s latest: it never outranks the held record', async () => {
    // the fleet simulation's seed 210317573: this runner's marks were lost on the way (not landed), so its
    // "unspent" outcomes were refused; kept, that record (more changes counted) outranked the holder's,
    // where another process's grant of the same refresh token had been lost in doubt, and was sent again
    const { clock, calls, holder, runner, signal } = harness();
    holder.record = familyRecord(await familyOf('rt-0'), new Secret('rt-0'), 0);
    const write = holder.write.bind(holder);
    let marksLost = 2;
    holder.write = async (next, expected) => {
      if (next.status === 'granting' && marksLost-- > 0) throw new Error('the mark’s request was lost');
      return write(next, expected);
    };
    for (let attempt = 0; attempt < 2; attempt++) await outcome(runner.step({ signal: signal(), held: holder.record }));
    await until(() => marksLost <= 0);
    await new Promise((resolve) => setImmediate(resolve));
    // meanwhile another holder sent rt-0 and its answer was lost: in doubt, two changes counted
    const sent = nextRecord(holder.record!, { type: 'grant.sent', grantId: 'other', at: clock.now(), deadline: clock.now() + 1_000, reuseIntervalMs: 0 })!;
    clock.advance(1_000);
    holder.record = nextRecord(sent, { type: 'grant.lost', grantId: 'other' })!;
    expect(await outcome(runner.step({ signal: signal(), held: holder.record }))).toMatchObject({ ok: false, error: { code: 'REFRESH_TOKEN_UNUSABLE' } });
    expect(calls).toHaveLength(0);
  });

  it('an outcome written over its own mark never lands over another holder’s mark of the same refresh token (the grant id tells them apart)', async () => {
    // the fleet simulation's seed 265750664: process A's mark was lost on its way and its "unspent"
    // reached Redis late, after process B had marked the same refresh token (the same count of changes)
    // and sent it; compared by sign-in, family, generation and count alone, A's write landed over B's mark
    const { clock, script, calls, holder, runner: b, signal, mint } = harness();
    holder.record = familyRecord(await familyOf('rt-0'), new Secret('rt-0'), 0);
    let release!: () => void;
    const late = new Promise<void>((resolve) => (release = resolve));
    let markLost = false;
    const a = new GrantRunner({
      mint,
      clock,
      holder: {
        read: () => holder.read(),
        write: async (next, expected, kind) => {
          if (kind === 'begin' && !markLost) {
            markLost = true;
            throw new Error('the mark’s request was lost');
          }
          if (kind === 'outcome') await late;
          return holder.write(next, expected);
        },
      },
    });
    await outcome(a.step({ signal: signal(), held: holder.record }));
    script.push(async () => new Promise<MintedToken>(() => {}));
    void outcome(b.step({ signal: signal(), held: holder.record }));
    await until(() => calls.length === 1);
    const bMark = holder.record!;
    expect(bMark.status).toBe('granting');
    release();
    await new Promise((resolve) => setImmediate(resolve));
    expect(holder.record).toBe(bMark);
  });

  it('takes every transition of the statechart', () => {
    const edges: string[] = [];
    const visit = (node: DirectedGraphNode) => {
      for (const edge of node.edges) edges.push(`${edge.source.id} --${edge.label.text}--> ${edge.target.id}`);
      node.children.forEach(visit);
    };
    visit(toDirectedGraph(refreshTokenMachine));
    expect(edges.length).toBeGreaterThanOrEqual(13);
    expect([...new Set(edges)].filter((edge) => !taken.has(edge))).toEqual([]);
  });
});

describe('the record’s pure rules', () => {
  const family = (name: string, generation = 0, status: RefreshTokenRecord['status'] = 'usable'): RefreshTokenRecord => ({
    ...familyRecord(name, new Secret(`${name}-${generation}`), 0),
    generation,
    status,
  });

  it('orders records: a later generation, a family that replaced another, else the later sign-in, live or dead', () => {
    expect(isNewerRecord(family('a', 2), family('a', 1))).toBe(true);
    expect(isNewerRecord(family('a', 1), family('a', 2))).toBe(false);
    const replaced = { ...family('b'), formerFamilies: ['a'] };
    expect(isNewerRecord(replaced, family('a', 9))).toBe(true);
    expect(isNewerRecord(family('a', 9), replaced)).toBe(false);
    // across families neither names: the later sign-in, whatever each looks like
    const later = { ...family('d', 0, 'inDoubt'), signedInAt: 5 };
    expect(isNewerRecord(later, family('c'))).toBe(true);
    expect(isNewerRecord(family('c'), later)).toBe(false);
  });

  it('starts from the configured refresh token only where the held family is dead and did not come after it', () => {
    const configured = { record: family('config'), at: 0 };
    expect(startingRecord(null, configured, 0, 0)).toBe(configured.record);
    const live = family('other');
    expect(startingRecord(live, configured, 0, 0)).toBe(live);
    const dead = family('other', 3, 'revoked');
    expect(startingRecord(dead, configured, 0, 0)).toMatchObject({ family: 'config', formerFamilies: ['other'] });
    const after = { ...family('other', 0, 'revoked'), formerFamilies: ['config'] };
    expect(startingRecord(after, configured, 0, 0)).toBe(after);
    const unknownValue = { ...family('other', 2), value: null };
    expect(startingRecord(unknownValue, configured, 0, 0)).toBe(unknownValue);
    expect(grantDecision(unknownValue, 0, 0)).toMatchObject({ kind: 'unusable' });
  });
});
