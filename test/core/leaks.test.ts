import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { CredentialError } from '../../src/index.js';
import { flush, HOUR, outcome, SECRET, startProvider } from '../helpers.js';

function expectNoSecret(text: string): void {
  expect(text.includes(SECRET)).toBe(false);
}

const INSPECT_CUSTOM = Symbol.for('nodejs.util.inspect.custom');

/**
 * Where `needle` can be read in `root`'s object graph: each object visited once, every own property
 * (enumerable or not, string or symbol keys, their names too) that holds a value, the entries of
 * each Map and Set, the bytes of each buffer, what each custom inspect function returns, and what
 * inspect prints of a promise or a WeakMap (whose contents only it can read). This
 * reads all that `inspect(root, { depth: null, showHidden: true })` prints and more, and it cannot
 * see what inspect cannot either (private fields, closures). inspect itself walks every path to an
 * object (a snapshot's statechart definition is reachable from each of its nodes: 130 MB of text,
 * 4 s of CPU), this walk each object once.
 */
function pathsHolding(root: unknown, needle: string): string[] {
  const found: string[] = [];
  const seen = new Set<object>();
  const pending: [unknown, string][] = [[root, '$']];
  const decoder = new TextDecoder('utf-8', { fatal: false });
  const text = (value: unknown, path: string) => {
    if (typeof value === 'string' && value.includes(needle)) found.push(path);
  };
  while (pending.length > 0) {
    const [value, path] = pending.pop()!;
    text(value, path);
    if ((typeof value !== 'object' && typeof value !== 'function') || value === null || seen.has(value)) continue;
    seen.add(value);
    if (ArrayBuffer.isView(value)) text(decoder.decode(value), `${path} (bytes)`);
    if (value instanceof ArrayBuffer) text(decoder.decode(new Uint8Array(value)), `${path} (bytes)`);
    if (value instanceof Map) for (const [key, entry] of value) pending.push([key, `${path}.<key>`], [entry, `${path}.get()`]);
    if (value instanceof Set) for (const entry of value) pending.push([entry, `${path}.<entry>`]);
    // what only inspect can read (a settled promise's value, a WeakMap's entries): its own text
    if (value instanceof Promise || value instanceof WeakMap || value instanceof WeakSet) text(inspect(value, { depth: null, showHidden: true }), `${path} (inspected)`);
    const custom = (value as { [INSPECT_CUSTOM]?: unknown })[INSPECT_CUSTOM];
    if (typeof custom === 'function') pending.push([(custom as (depth: number, options: object, view: typeof inspect) => unknown).call(value, Infinity, {}, inspect), `${path} (inspected)`]);
    if (ArrayBuffer.isView(value)) continue; // its indices are its bytes, read above
    for (const key of Reflect.ownKeys(value)) {
      const name = typeof key === 'string' ? key : (key.description ?? '');
      text(name, `${path} (a key)`);
      const descriptor = Reflect.getOwnPropertyDescriptor(value, key)!;
      // a getter is not called: inspect prints [Getter] (it may have effects)
      if ('value' in descriptor) pending.push([descriptor.value, `${path}.${name}`]);
    }
  }
  return found;
}

describe('the secret never leaks', () => {
  it('is absent from serialized tokens, snapshots, clones, provider state and errors', { timeout: 60_000 }, async () => {
    const errors: unknown[] = [];
    const { clock, script, provider } = await startProvider({ breakerThreshold: 1, mintTimeoutMs: 10_000 });
    const token = await provider.currentToken();
    expect(token.secret.reveal()).toContain(SECRET); // the value is there to leak

    // the whole object graph of the snapshot, read by pathsHolding at each moment (above: what
    // inspect with no depth limit prints, at a fraction of its cost), and what inspect prints of it
    const views = (): string[] => {
      const snapshot = provider.actor.getSnapshot();
      expect(pathsHolding(snapshot, SECRET)).toEqual([]);
      return [
        inspect(snapshot),
        inspect(snapshot, { depth: 4, showHidden: true }),
        JSON.stringify(token),
        String(token.secret),
        `${token.secret}`,
        inspect(token, { depth: null, showHidden: true }),
        JSON.stringify(snapshot),
        JSON.stringify(structuredClone(snapshot.context)),
        inspect(structuredClone(snapshot.context), { depth: null, showHidden: true }),
        JSON.stringify(provider),
        inspect(provider, { depth: null }),
      ];
    };
    views().forEach(expectNoSecret);

    // mid-refresh, with the mint actor alive as a child, then with its output cached
    clock.advance(0.9 * HOUR);
    await provider.currentToken();
    expect(provider.actor.getSnapshot().children).not.toEqual({}); // the mint actor is alive
    views().forEach(expectNoSecret);
    script.last.resolve({ secret: `${SECRET}-2`, expiresAt: 2 * HOUR });
    await flush();
    expect(provider.actor.getSnapshot().context.token.secret.reveal()).toBe(`${SECRET}-2`);
    views().forEach(expectNoSecret);

    // every error path
    clock.advance(2 * HOUR);
    const timedOut = outcome(provider.currentToken());
    clock.advance(10_000);
    errors.push((await timedOut).ok ? null : ((await timedOut) as { error: unknown }).error);
    const denied = await outcome(provider.currentToken());
    errors.push((denied as { error: unknown }).error);
    await provider.stop();
    const stopped = await outcome(provider.currentToken());
    errors.push((stopped as { error: unknown }).error);
    expect(errors.map((error) => (error as CredentialError).code)).toEqual(['MINT_TIMEOUT', 'BREAKER_OPEN', 'STOPPED']);
    for (const error of errors) {
      expectNoSecret((error as Error).message);
      expectNoSecret(inspect(error, { depth: null }));
      expectNoSecret(JSON.stringify(error));
    }
    views().forEach(expectNoSecret);
  });
});

describe('pathsHolding, the walk that reads a snapshot for the secret', () => {
  it('finds it wherever inspect would print it, and where inspect hides it; not in a private field or a closure', () => {
    class Hidden {
      readonly #value = SECRET;
      peek = () => this.#value;
    }
    const cycle: Record<string, unknown> = { hidden: new Hidden(), closure: () => SECRET };
    cycle.self = cycle;
    expect(pathsHolding(cycle, SECRET)).toEqual([]);
    const deep = { a: { b: { c: { d: { e: { f: { g: { h: { i: { j: `x${SECRET}y` } } } } } } } } } };
    const nonEnumerable = Object.defineProperty({}, 'quiet', { value: SECRET, enumerable: false });
    const symbolKeyed = { [Symbol('kept')]: SECRET };
    const named = { [SECRET]: 1 };
    const printed = { [INSPECT_CUSTOM]: () => `shown: ${SECRET}` };
    const cases: [string, unknown][] = [
      ['deep', deep],
      ['non-enumerable', nonEnumerable],
      ['symbol-keyed', symbolKeyed],
      ['a key', named],
      ['a Map key', new Map([[SECRET, 1]])],
      ['a Map value', new Map([[1, { v: SECRET }]])],
      ['a Set entry', new Set([SECRET])],
      ['bytes', new TextEncoder().encode(`..${SECRET}..`)],
      ['an ArrayBuffer', new TextEncoder().encode(SECRET).buffer],
      ['a custom inspect', printed],
      ['an error', new Error(`failed with ${SECRET}`)],
      ['an array', [0, [1, [2, SECRET]]]],
      ['a settled promise', Promise.resolve({ value: SECRET })],
      ['a WeakMap', new WeakMap([[cycle, SECRET]])],
    ];
    for (const [where, value] of cases) expect(pathsHolding({ cycle, where: value }, SECRET), where).not.toEqual([]);
  });
});
