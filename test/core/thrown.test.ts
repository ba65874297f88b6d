/**
 * What the library reads of a value a mint threw (`readThrown`, `summaryOf` in `machines/thrown.ts`),
 * value by value and field by field: the whole facts compared, so that a fact read wrongly, a bound
 * moved or a guard dropped is told apart. The provider-level effects (a breaker that counts, a
 * `Retry-After` honoured, nothing leaked) are tested where they happen (`hostile-errors.test.ts`,
 * `retry-after.test.ts`).
 */
import { describe, expect, it } from 'vitest';
import { CredentialError } from '../../machines/credential-error.js';
import { readThrown, summaryOf } from '../../machines/thrown.js';

const plainFacts = { retryAfterMs: null, issuerNotAsked: false, credentialError: false };

describe('readThrown', () => {
  it.each<[string, unknown, object]>([
    ['a string', 'boom', { name: 'NonError', message: 'a string was thrown', ...plainFacts }],
    ['a number', 42, { name: 'NonError', message: 'a number was thrown', ...plainFacts }],
    ['undefined', undefined, { name: 'NonError', message: 'a undefined was thrown', ...plainFacts }],
    ['null', null, { name: 'NonError', message: 'a null was thrown', ...plainFacts }],
    [
      'a plain object that looks like an error',
      { name: 'Error', message: 'looks like one', code: 'E1', status: 500, retryAfterMs: 10 },
      { name: 'NonError', message: 'a object was thrown', code: 'E1', status: 500, ...plainFacts, retryAfterMs: 10 },
    ],
    ['a function', Object.assign(() => {}, { code: 'F' }), { name: 'NonError', message: 'a function was thrown', code: 'F', ...plainFacts }],
    ['an Error', new Error('slow down'), { name: 'Error', message: 'slow down', ...plainFacts }],
    ['a TypeError', new TypeError('bad'), { name: 'TypeError', message: 'bad', ...plainFacts }],
    ['an Error with an empty name', Object.assign(new Error('m'), { name: '' }), { name: 'Error', message: 'm', ...plainFacts }],
    ['an Error whose name is no string', Object.assign(new Error('m'), { name: 7 }), { name: 'Error', message: 'm', ...plainFacts }],
    ['an Error whose message is no string', Object.assign(new Error('m'), { message: 3 }), { name: 'Error', message: 'an error without a message was thrown', ...plainFacts }],
    [
      'an Error with an HTTP status and a Retry-After',
      Object.assign(new Error('429'), { status: 429, retryAfterMs: 5_000 }),
      { name: 'Error', message: '429', status: 429, ...plainFacts, retryAfterMs: 5_000 },
    ],
    ['a Retry-After of 0', Object.assign(new Error('m'), { retryAfterMs: 0 }), { name: 'Error', message: 'm', ...plainFacts, retryAfterMs: 0 }],
    ['a negative Retry-After', Object.assign(new Error('m'), { retryAfterMs: -1 }), { name: 'Error', message: 'm', ...plainFacts }],
    ['an infinite Retry-After', Object.assign(new Error('m'), { retryAfterMs: Infinity }), { name: 'Error', message: 'm', ...plainFacts }],
    ['a Retry-After that is a string', Object.assign(new Error('m'), { retryAfterMs: '5000' }), { name: 'Error', message: 'm', ...plainFacts }],
    ['a status that is NaN', Object.assign(new Error('m'), { status: Number.NaN }), { name: 'Error', message: 'm', ...plainFacts }],
    ['a status that is a string', Object.assign(new Error('m'), { status: '500' }), { name: 'Error', message: 'm', ...plainFacts }],
    ['a code that is no string', Object.assign(new Error('m'), { code: 500 }), { name: 'Error', message: 'm', ...plainFacts }],
    ['issuerNotAsked: true', Object.assign(new Error('m'), { issuerNotAsked: true }), { name: 'Error', message: 'm', ...plainFacts, issuerNotAsked: true }],
    ["issuerNotAsked: 'true'", Object.assign(new Error('m'), { issuerNotAsked: 'true' }), { name: 'Error', message: 'm', ...plainFacts }],
    ['a CredentialError', new CredentialError('MINT_TIMEOUT', 'late'), { name: 'CredentialError', message: 'late', code: 'MINT_TIMEOUT', ...plainFacts, credentialError: true }],
  ])('%s', (_, thrown, facts) => {
    expect(readThrown(thrown)).toStrictEqual(facts);
  });

  it('cuts what it reads to size: a name at 200 characters, a message at 2,000, a code at 200', () => {
    const error = Object.assign(new Error('m'.repeat(3_000)), { name: 'N'.repeat(300), code: 'C'.repeat(300) });
    const facts = readThrown(error);
    expect([facts.name.length, facts.message.length, facts.code?.length]).toEqual([200, 2_000, 200]);
  });

  it('never throws: getters that throw read as absent, a Proxy that throws on every trap reads as no Error', () => {
    const boom = () => {
      throw new Error('getter');
    };
    const hostile = new Error('hidden');
    for (const key of ['name', 'message', 'code', 'status', 'retryAfterMs', 'issuerNotAsked']) Object.defineProperty(hostile, key, { get: boom });
    expect(readThrown(hostile)).toStrictEqual({ name: 'Error', message: 'an error without a message was thrown', ...plainFacts });
    const proxy = new Proxy({}, { get: boom, getPrototypeOf: boom });
    expect(readThrown(proxy)).toStrictEqual({ name: 'NonError', message: 'a object was thrown', ...plainFacts });
  });
});

describe('summaryOf', () => {
  it('keeps the name, the message and the code, and marks the library’s own errors', () => {
    expect(summaryOf(readThrown(Object.assign(new Error('m'), { code: 'E', status: 500, retryAfterMs: 3 })))).toStrictEqual({ name: 'Error', message: 'm', code: 'E' });
    expect(summaryOf(readThrown(new Error('m')))).toStrictEqual({ name: 'Error', message: 'm' });
    expect(summaryOf(readThrown(new CredentialError('STOPPED', 'stopped')))).toStrictEqual({ name: 'CredentialError', message: 'stopped', code: 'STOPPED', ours: true });
  });
});
