import { exportJWK, generateKeyPair } from 'jose';
import { describe, expect, it } from 'vitest';
import { CredentialError } from '../../src/index.js';
import { clientAssertion, clientCredentialsMint, jwtBearerMint, privateKeyJwt, tokenExchangeMint } from '../../src/oauth2/index.js';

/** Bad client authentication and grant options: each a typed INVALID_CONFIG that names what is wrong, at construction. */
const base = { tokenEndpoint: 'https://login.example/token', clientId: 'billing' };
const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
const privateJwk = await exportJWK(privateKey);
const publicJwk = await exportJWK(publicKey);

const refused = (build: () => unknown, message: RegExp) => {
  let caught: unknown;
  try {
    build();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(CredentialError);
  expect(caught).toMatchObject({ code: 'INVALID_CONFIG' });
  expect((caught as Error).message).toMatch(message);
  return caught as CredentialError;
};

describe('client authentication options', () => {
  it.each([
    { name: 'a public JWK', build: () => privateKeyJwt({ privateKey: publicJwk }), message: /public JWK \(no "d"\)/ },
    {
      name: 'a certificate given as the key',
      build: () => privateKeyJwt({ privateKey: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----' }),
      message: /PEM CERTIFICATE, not a private key/,
    },
    {
      name: 'an encrypted PEM key',
      build: () => privateKeyJwt({ privateKey: '-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE KEY-----' }),
      message: /encrypted PEM key; decrypt it first/,
    },
    { name: 'text that is no PEM', build: () => privateKeyJwt({ privateKey: 'hunter2' }), message: /must be a PEM private key/ },
    { name: 'a number', build: () => privateKeyJwt({ privateKey: 42 as never }), message: /must be a CryptoKey, a private JWK or PEM text, got a number/ },
    { name: 'an unknown algorithm', build: () => privateKeyJwt({ privateKey: privateJwk, algorithm: 'HS256' as never }), message: /algorithm must be one of RS256/ },
    { name: 'a misspelt option', build: () => privateKeyJwt({ privateKey: privateJwk, keyID: 'k' } as never), message: /unknown option keyID; did you mean keyId\?/ },
    { name: 'a certificate that is not PEM', build: () => privateKeyJwt({ privateKey: privateJwk, certificate: 'abc' }), message: /certificate must be PEM text/ },
    { name: 'an audience that is no URL', build: () => privateKeyJwt({ privateKey: privateJwk, audience: 'token endpoint' }), message: /audience must be 'tokenEndpoint', 'issuer' or a URL/ },
    {
      name: 'an assertion source of no known shape',
      build: () => clientAssertion({ path: '/var/run/token' } as never),
      message: /source must be a string, a Secret, a function returning one, \{ file \} or a provider/,
    },
    {
      name: 'both a secret and a key',
      build: () => clientCredentialsMint({ ...base, clientSecret: 's', clientAuthentication: privateKeyJwt({ privateKey: privateJwk }) }),
      message: /give clientSecret or a private_key_jwt clientAuthentication, not both/,
    },
    { name: 'client_secret_jwt without a secret', build: () => clientCredentialsMint({ ...base, clientAuthentication: 'client_secret_jwt' }), message: /'client_secret_jwt' needs clientSecret/ },
    { name: "'none' for client credentials", build: () => clientCredentialsMint({ ...base, clientAuthentication: 'none' }), message: /for confidential clients/ },
    {
      name: 'no authentication for client credentials',
      build: () => clientCredentialsMint(base as never),
      message: /clientSecret or clientAuthentication \(privateKeyJwt\(…\), clientAssertion\(…\)\) is required/,
    },
    {
      name: 'an unknown method name',
      build: () => clientCredentialsMint({ ...base, clientSecret: 's', clientAuthentication: 'private_key_jwt' as never }),
      message: /clientAuthentication must be 'client_secret_basic'.*privateKeyJwt\(…\) or clientAssertion\(…\), got a string/,
    },
    { name: 'a JWT bearer grant without its assertion', build: () => jwtBearerMint({ ...base } as never), message: /jwtBearerMint: assertion must be a string/ },
    { name: 'a token exchange without its subject token', build: () => tokenExchangeMint({ ...base } as never), message: /tokenExchangeMint: subjectToken must be a string/ },
    { name: 'an actor token without its type', build: () => tokenExchangeMint({ ...base, subjectToken: 't', actorToken: 'a' }), message: /actorTokenType goes with actorToken/ },
    {
      name: 'a misspelt grant option',
      build: () => tokenExchangeMint({ ...base, subjectToken: 't', subjectTokentype: 'x' } as never),
      message: /unknown option subjectTokentype; did you mean subjectTokenType\?/,
    },
  ])('refuses $name', ({ build, message }) => {
    const error = refused(build, message);
    expect(error.message).not.toContain(privateJwk.d!);
  });

  it('a key whose material is refused fails its first mint with INVALID_CONFIG, the key not quoted', async () => {
    const mint = clientCredentialsMint({ ...base, clientAuthentication: privateKeyJwt({ privateKey: { ...privateJwk, d: 'AAAA' } }) });
    const error = await mint({ signal: new AbortController().signal }).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: 'INVALID_CONFIG', message: expect.stringMatching(/privateKey could not be imported as a ES256 signing key/) as string });
    expect((error as Error).message).not.toContain('AAAA');
  });

  it('an assertion function that returns nothing fails the mint with MINT_FAILED, before any request', async () => {
    let requests = 0;
    const mint = clientCredentialsMint({
      ...base,
      fetch: () => {
        requests++;
        return Promise.resolve(Response.json({}));
      },
      clientAuthentication: clientAssertion(() => ''),
    });
    await expect(mint({ signal: new AbortController().signal })).rejects.toMatchObject({
      code: 'MINT_FAILED',
      message: expect.stringMatching(/source from the function must be a non-empty string or Secret/) as string,
    });
    expect(requests).toBe(0);
  });
});
