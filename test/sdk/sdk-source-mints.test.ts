import { describe, expect, it } from 'vitest';
import { CredentialError, Secret } from '../../src/index.js';
import { awsCredentialMint } from '../../src/aws/index.js';
import { tokenCredentialMint } from '../../src/azure/index.js';

/** The SDK-source mints' own rules, with scripted sources: what they refuse, and what they pass on. */
const signal = () => new AbortController().signal;

describe('awsCredentialMint()', () => {
  it('asks the source with forceRefresh, and passes the keys and their expiration on', async () => {
    const asked: unknown[] = [];
    const mint = awsCredentialMint((options) => {
      asked.push(options);
      return Promise.resolve({ accessKeyId: 'ASIAEXAMPLE', secretAccessKey: 'secret', sessionToken: 'session', expiration: new Date(1_000_000) });
    });
    const minted = await mint({ signal: signal() });
    expect(asked).toEqual([{ forceRefresh: true }]);
    expect(minted.expiresAt).toBe(1_000_000);
    expect(minted.secret).toEqual({ accessKeyId: 'ASIAEXAMPLE', secretAccessKey: 'secret', sessionToken: 'session' });
  });

  it('refuses long-term keys (no session token) with MINT_FAILED', async () => {
    const mint = awsCredentialMint(() => Promise.resolve({ accessKeyId: 'AKIAEXAMPLE', secretAccessKey: 'secret' }));
    await expect(mint({ signal: signal() })).rejects.toMatchObject({ code: 'MINT_FAILED', message: expect.stringMatching(/long-term keys/) as string });
  });

  it('a failing source is MINT_FAILED naming its error; an aborted mint rejects with the signal’s reason at once', async () => {
    const failing = awsCredentialMint(() => Promise.reject(Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsProviderError' })));
    await expect(failing({ signal: signal() })).rejects.toMatchObject({ code: 'MINT_FAILED', message: expect.stringContaining('CredentialsProviderError: Could not load credentials') as string });
    const controller = new AbortController();
    const hanging = awsCredentialMint(() => new Promise(() => {}));
    const pending = hanging({ signal: controller.signal });
    controller.abort(new Error('gave up'));
    await expect(pending).rejects.toThrow('gave up');
  });

  it('refuses a source that is not a function', () => {
    expect(() => awsCredentialMint({} as never)).toThrow(CredentialError);
  });
});

describe('tokenCredentialMint()', () => {
  it('passes the scopes, the signal, the claims and the tenant; the expiry and the refresh hint come through', async () => {
    const asked: { scopes: unknown; options: unknown }[] = [];
    const mint = tokenCredentialMint(
      {
        getToken: (scopes, options) => {
          asked.push({ scopes, options });
          return Promise.resolve({ token: 'azure-token', expiresOnTimestamp: 2_000_000, refreshAfterTimestamp: 1_500_000, tokenType: 'Bearer' });
        },
      },
      { scopes: ['https://vault.azure.net/.default'], tenantId: 'contoso' },
    );
    const abort = signal();
    const minted = await mint({ signal: abort, claims: '{"access_token":{}}' });
    expect(asked).toEqual([{ scopes: ['https://vault.azure.net/.default'], options: { abortSignal: abort, claims: '{"access_token":{}}', tenantId: 'contoso' } }]);
    expect(minted).toMatchObject({ expiresAt: 2_000_000, refreshAfter: 1_500_000, tokenType: 'Bearer' });
    expect((minted.secret as Secret).reveal()).toBe('azure-token');
  });

  it('a null token, or one with no expiry, is MINT_FAILED; so is the SDK’s error, named', async () => {
    await expect(tokenCredentialMint({ getToken: () => Promise.resolve(null) }, { scopes: ['s'] })({ signal: signal() })).rejects.toMatchObject({ code: 'MINT_FAILED' });
    await expect(tokenCredentialMint({ getToken: () => Promise.resolve({ token: 't', expiresOnTimestamp: Number.NaN }) }, { scopes: ['s'] })({ signal: signal() })).rejects.toMatchObject({
      code: 'MINT_FAILED',
    });
    const unavailable = Object.assign(new Error('ManagedIdentityCredential: no endpoint'), { name: 'CredentialUnavailableError' });
    await expect(tokenCredentialMint({ getToken: () => Promise.reject(unavailable) }, { scopes: ['s'] })({ signal: signal() })).rejects.toMatchObject({
      code: 'MINT_FAILED',
      message: expect.stringContaining('CredentialUnavailableError') as string,
    });
  });

  it('refuses bad options at construction', () => {
    expect(() => tokenCredentialMint({ getToken: () => Promise.resolve(null) }, { scopes: [] })).toThrow(/scopes must be a non-empty array/);
    expect(() => tokenCredentialMint({} as never, { scopes: ['s'] })).toThrow(/must be an Azure TokenCredential/);
    expect(() => tokenCredentialMint({ getToken: () => Promise.resolve(null) }, { scopes: ['s'], scope: 'x' } as never)).toThrow(/unknown option scope/);
  });
});
