import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createActor, createMachine, fromPromise } from 'xstate';
import { describe, expect, it } from 'vitest';
import { START_ORDER } from '../start-order.js';
import { OWN_PROCESS, REAL_PROCESSES } from '../../vitest.config.js';

/** Every TypeScript file under `dir`. */
function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => (entry.isDirectory() ? sources(join(dir, entry.name)) : entry.name.endsWith('.ts') ? [join(dir, entry.name)] : []));
}

describe('the layout', () => {
  it('the arrows between machines/ and src/ run one way: nothing in machines/ imports src/', () => {
    const crossing = sources('machines').filter((file) => /from '\.\.\/src\//.test(readFileSync(file, 'utf8')));
    expect(crossing).toEqual([]);
  });

  it('no library file imports a cloud SDK package: they are optional peers, loaded only by assumeRoleMint, on first use', () => {
    const all = [...sources('src'), ...sources('machines')].map((file) => [file, readFileSync(file, 'utf8')] as const);
    const importing = all.filter(([, text]) => /(from|import\()\s*'@(azure|aws-sdk|smithy|aws-crypto)\//.test(text)).map(([file]) => file);
    expect(importing).toEqual([]);
    // the one dynamic import, through a variable so that bundlers and type-checkers leave it alone
    expect(all.filter(([, text]) => text.includes("'@aws-sdk/client-sts'")).map(([file]) => file)).toEqual(['src/aws/assume-role-mint.ts']);
  });

  it('the suite’s lists of test files name files that exist, each once (a renamed file would lose its place or its own process)', () => {
    for (const list of [START_ORDER, OWN_PROCESS, REAL_PROCESSES]) {
      expect(list.filter((file) => !existsSync(file))).toEqual([]);
      expect(new Set(list).size).toBe(list.length);
    }
  });

  it('one copy of the MINT_TIMEOUT message and of the timeout race', () => {
    const all = [...sources('src'), ...sources('machines')].map((file) => [file, readFileSync(file, 'utf8')] as const);
    expect(all.filter(([, text]) => text.includes("'MINT_TIMEOUT',")).map(([file]) => file)).toEqual(['machines/credential-error.ts']);
    expect(
      all
        .filter(([, text]) => /systemClock\.setTimeout|globalThis\.setTimeout\(/.test(text))
        .map(([file]) => file)
        .sort(),
    ).toEqual(['src/clock.ts', 'src/testing/manual-clock.ts'].sort());
  });
});

describe('the XState behaviour the provider relies on', () => {
  // src/environment.ts: the delays read the time from `self.clock` (the actor's `clock` option), and
  // the `mint` actor finds its attempt setup by the actor it was invoked from (the `self` its input
  // mapper is given), registered under the actor `createActor` returned. If an XState upgrade changes
  // either, this fails first.
  it('delays see the actor as `self`, its `clock` option as `self.clock`; an invoke’s input sees the actor as `self`', async () => {
    const clock = {
      setTimeout: (callback: () => void, ms: number) => setTimeout(callback, ms),
      clearTimeout: (handle: unknown) => clearTimeout(handle as NodeJS.Timeout),
    };
    const seenByDelay: unknown[] = [];
    let seenByInput: unknown;
    const machine = createMachine(
      {
        initial: 'waiting',
        states: {
          waiting: { after: { soon: 'running' } },
          running: {
            invoke: {
              src: fromPromise(async ({ input }: { input: { parent: unknown } }) => {
                seenByInput = input.parent;
              }),
              input: ({ self }) => ({ parent: self }),
              onDone: 'done',
            },
          },
          done: { type: 'final' },
        },
      },
      {
        delays: {
          soon: ({ self }) => {
            seenByDelay.push(self, (self as unknown as { clock?: unknown }).clock);
            return 1;
          },
        },
      },
    );
    const actor = createActor(machine, { clock });
    actor.start();
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(seenByDelay[0]).toBe(actor);
    expect(seenByDelay[1]).toBe(clock);
    expect(seenByInput).toBe(actor);
    expect(actor.getSnapshot().status).toBe('done');
  });
});
