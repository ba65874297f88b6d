/**
 * The small public pieces, exactly: `isCredentialError`, `mintTimeoutError`, `CredentialError#toJSON`, `isExclusiveMint`,
 * and what `util.inspect` prints for a `Secret`. Found by mutation testing (`npm run mutate`).
 */
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { CredentialError, isCredentialError, mintTimeoutError } from '../../machines/credential-error.js';
import { Secret } from '../../machines/secret.js';
import { isExclusiveMint, type Mint } from '../../src/mint.js';
import { refreshTokenMint } from '../../src/oauth2/index.js';

describe('isCredentialError', () => {
  it('is true for a CredentialError (of the code, when one is given) and false for anything else', () => {
    const stopped = new CredentialError('STOPPED', 'stopped');
    expect(isCredentialError(stopped)).toBe(true);
    expect(isCredentialError(stopped, 'STOPPED')).toBe(true);
    expect(isCredentialError(stopped, 'BREAKER_OPEN')).toBe(false);
    expect(isCredentialError(Object.assign(new Error('stopped'), { code: 'STOPPED' }), 'STOPPED')).toBe(false);
    expect(isCredentialError(Object.assign(new Error('stopped'), { code: 'STOPPED' }))).toBe(false);
    expect(isCredentialError(undefined)).toBe(false);
  });

  it('is false, and throws nothing, for a Proxy whose getPrototypeOf throws', () => {
    const hostile = new Proxy(new CredentialError('STOPPED', 'stopped'), {
      getPrototypeOf() {
        throw new Error('no prototype for you');
      },
    });
    expect(isCredentialError(hostile)).toBe(false);
    expect(isCredentialError(hostile, 'STOPPED')).toBe(false);
  });
});

describe('mintTimeoutError', () => {
  it('names what did not settle, the time, and the step it was at when one was said', () => {
    expect(mintTimeoutError(30_000)).toMatchObject({ code: 'MINT_TIMEOUT', message: 'the mint did not settle within 30000 ms' });
    expect(mintTimeoutError(250, 'the lease holder’s mint').message).toBe('the lease holder’s mint did not settle within 250 ms');
    expect(mintTimeoutError(30_000, 'the mint', 'token request to https://login.example/token').message).toBe(
      'the mint did not settle within 30000 ms; it was at the token request to https://login.example/token',
    );
  });
});

describe('CredentialError#toJSON', () => {
  it('is its name, code and message, and nothing else', () => {
    expect(JSON.stringify(new CredentialError('MINT_TIMEOUT', 'the mint did not settle within 30000 ms', { cause: new Error('inner') }))).toBe(
      '{"name":"CredentialError","code":"MINT_TIMEOUT","message":"the mint did not settle within 30000 ms"}',
    );
  });
});

describe('isExclusiveMint', () => {
  it('is true only for a mint marked exclusive: true (a rotating refresh-token grant)', () => {
    const plain: Mint = async () => ({ secret: 's', expiresAt: null });
    expect(isExclusiveMint(plain)).toBe(false);
    expect(isExclusiveMint(Object.assign(async () => ({ secret: 's', expiresAt: null }), { exclusive: 'yes' }) as unknown as Mint)).toBe(false);
    expect(isExclusiveMint(refreshTokenMint({ tokenEndpoint: 'https://login.example/token', clientId: 'c', refreshToken: 'r' }))).toBe(true);
  });
});

describe('Secret under util.inspect', () => {
  it('prints exactly Secret <REDACTED>, alone and inside objects', () => {
    const secret = new Secret('hunter2');
    expect(inspect(secret)).toBe('Secret <REDACTED>');
    expect(inspect({ token: secret })).toBe('{ token: Secret <REDACTED> }');
  });
});
