import { CredentialError } from '../../machines/credential-error.js';
import { describeShape } from '../describe-shape.js';
import { base64url } from '../base64url.js';

/** A private key as users hold it: a `CryptoKey`, a private JWK, or PEM text (PKCS#8; in Node also PKCS#1 and SEC1). */
export type PrivateKeyInput = CryptoKey | JsonWebKey | string;

/** The JWS algorithms a client assertion or a DPoP proof is signed with. */
export type SigningAlgorithm = 'RS256' | 'RS384' | 'RS512' | 'PS256' | 'PS384' | 'PS512' | 'ES256' | 'ES384' | 'ES512' | 'Ed25519' | 'EdDSA';

/**
 * Checks the shape of a private key option at once (so a wrong key fails construction, not the
 * first mint), and returns how to import it: non-extractable, usable only to sign. The key text
 * is held only until it is imported, and never appears in an error.
 */
export function signingKeyOption(owner: string, name: string, value: unknown, algorithm: unknown): () => Promise<CryptoKey> {
  if (algorithm !== undefined && (typeof algorithm !== 'string' || !(algorithm in IMPORT_PARAMETERS))) {
    throw new CredentialError('INVALID_CONFIG', `${owner}: algorithm must be one of ${Object.keys(IMPORT_PARAMETERS).join(', ')}, got ${describeShape(algorithm)}`);
  }
  const chosen = algorithm as SigningAlgorithm | undefined;
  if (isCryptoKey(value)) {
    if (value.type !== 'private' || !value.usages.includes('sign')) {
      throw new CredentialError('INVALID_CONFIG', `${owner}: ${name} must be a private CryptoKey usable to sign, got a ${value.type} key for ${value.usages.join(', ') || 'nothing'}`);
    }
    return () => Promise.resolve(value);
  }
  if (typeof value === 'string') {
    const pem = /-----BEGIN ([A-Z ]+)-----([\s\S]+?)-----END \1-----/.exec(value);
    if (pem === null) throw new CredentialError('INVALID_CONFIG', `${owner}: ${name} as text must be a PEM private key (-----BEGIN PRIVATE KEY-----)`);
    const label = pem[1]!;
    if (label === 'ENCRYPTED PRIVATE KEY')
      throw new CredentialError('INVALID_CONFIG', `${owner}: ${name} is an encrypted PEM key; decrypt it first (e.g. with node:crypto createPrivateKey({ key, passphrase }))`);
    if (!PEM_PRIVATE_LABELS.includes(label)) throw new CredentialError('INVALID_CONFIG', `${owner}: ${name} is a PEM ${label}, not a private key`);
    const text = value;
    return async () => {
      const der = label === 'PRIVATE KEY' ? base64Bytes(pem[2]!) : await pkcs8FromOtherPem(owner, name, text);
      const alg = chosen ?? algorithmOfPkcs8(owner, name, der);
      return importKey(owner, name, 'pkcs8', der, alg);
    };
  }
  if (typeof value === 'object' && value !== null && typeof (value as JsonWebKey).kty === 'string') {
    const jwk = value as JsonWebKey;
    if (typeof jwk.d !== 'string') throw new CredentialError('INVALID_CONFIG', `${owner}: ${name} is a public JWK (no "d"); the private key is needed to sign`);
    const alg = chosen ?? algorithmOfJwk(owner, name, jwk);
    // import only the key material: a JWK's own alg, key_ops and ext would override the choices here
    const { alg: _alg, key_ops: _ops, ext: _ext, use: _use, ...material } = jwk;
    return () => importKey(owner, name, 'jwk', material, alg);
  }
  throw new CredentialError('INVALID_CONFIG', `${owner}: ${name} must be a CryptoKey, a private JWK or PEM text, got ${describeShape(value)}`);
}

/**
 * The `x5t#S256` of a certificate (RFC 7515 section 4.1.8): the base64url SHA-256 of its DER, as
 * Entra ID's certificate credentials name the key a client assertion is signed with.
 *
 * @example
 * ```ts
 * await certificateThumbprint(readFileSync('client.crt', 'utf8')); // 'kZ1u8…'
 * ```
 */
export async function certificateThumbprint(certificate: string): Promise<string> {
  const pem = /-----BEGIN CERTIFICATE-----([\s\S]+?)-----END CERTIFICATE-----/.exec(certificate);
  if (pem === null) throw new CredentialError('INVALID_CONFIG', 'certificate must be PEM text (-----BEGIN CERTIFICATE-----)');
  const digest = await crypto.subtle.digest('SHA-256', base64Bytes(pem[1]!));
  return base64url(new Uint8Array(digest));
}

const PEM_PRIVATE_LABELS: readonly string[] = ['PRIVATE KEY', 'RSA PRIVATE KEY', 'EC PRIVATE KEY'];

type ImportParameters = RsaHashedImportParams | EcKeyImportParams | Algorithm;
const IMPORT_PARAMETERS: Readonly<Record<SigningAlgorithm, ImportParameters>> = {
  RS256: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
  RS384: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-384' },
  RS512: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-512' },
  PS256: { name: 'RSA-PSS', hash: 'SHA-256' },
  PS384: { name: 'RSA-PSS', hash: 'SHA-384' },
  PS512: { name: 'RSA-PSS', hash: 'SHA-512' },
  ES256: { name: 'ECDSA', namedCurve: 'P-256' },
  ES384: { name: 'ECDSA', namedCurve: 'P-384' },
  ES512: { name: 'ECDSA', namedCurve: 'P-521' },
  Ed25519: { name: 'Ed25519' },
  EdDSA: { name: 'Ed25519' },
};

async function importKey(owner: string, name: string, format: 'pkcs8' | 'jwk', material: Uint8Array | JsonWebKey, alg: SigningAlgorithm): Promise<CryptoKey> {
  try {
    // non-extractable: once imported, the key can sign and nothing else, not even be read back
    return format === 'jwk'
      ? await crypto.subtle.importKey('jwk', material as JsonWebKey, IMPORT_PARAMETERS[alg], false, ['sign'])
      : await crypto.subtle.importKey('pkcs8', material as Uint8Array<ArrayBuffer>, IMPORT_PARAMETERS[alg], false, ['sign']);
  } catch (error) {
    // the platform's words only (they never quote the key), not its error object
    const reason = error instanceof Error ? error.message : 'the key was refused';
    throw new CredentialError('INVALID_CONFIG', `${owner}: ${name} could not be imported as a ${alg} signing key: ${reason}`);
  }
}

/** The algorithm a private JWK signs with: its own `alg`, else the one its key type and curve imply (RS256 for RSA). */
function algorithmOfJwk(owner: string, name: string, jwk: JsonWebKey): SigningAlgorithm {
  if (typeof jwk.alg === 'string' && jwk.alg in IMPORT_PARAMETERS) return jwk.alg as SigningAlgorithm;
  if (jwk.kty === 'RSA') return 'RS256';
  if (jwk.kty === 'EC' && jwk.crv !== undefined && jwk.crv in CURVES) return CURVES[jwk.crv]!;
  if (jwk.kty === 'OKP' && jwk.crv === 'Ed25519') return 'Ed25519';
  throw new CredentialError(
    'INVALID_CONFIG',
    `${owner}: ${name} is a JWK of kty ${String(jwk.kty)}${jwk.crv === undefined ? '' : ` crv ${jwk.crv}`}; give algorithm, one of ${Object.keys(IMPORT_PARAMETERS).join(', ')}`,
  );
}

const CURVES: Readonly<Record<string, SigningAlgorithm>> = { 'P-256': 'ES256', 'P-384': 'ES384', 'P-521': 'ES512' };

/** The algorithm a PKCS#8 key implies, read from the OIDs in its DER (RS256 for RSA; RSA-PSS needs `algorithm`). */
function algorithmOfPkcs8(owner: string, name: string, der: Uint8Array): SigningAlgorithm {
  const hex = Array.from(der.subarray(0, 64), (byte) => byte.toString(16).padStart(2, '0')).join('');
  if (hex.includes(OID.rsa)) return 'RS256';
  if (hex.includes(OID.ed25519)) return 'Ed25519';
  if (hex.includes(OID.ec)) {
    if (hex.includes(OID.p256)) return 'ES256';
    if (hex.includes(OID.p384)) return 'ES384';
    if (hex.includes(OID.p521)) return 'ES512';
  }
  throw new CredentialError('INVALID_CONFIG', `${owner}: ${name} is a PKCS#8 key whose algorithm is not known here; give algorithm, one of ${Object.keys(IMPORT_PARAMETERS).join(', ')}`);
}

/** DER encodings of the OIDs that name a key's algorithm (with their tag and length bytes). */
const OID = {
  rsa: '06092a864886f70d010101',
  ec: '06072a8648ce3d0201',
  p256: '06082a8648ce3d030107',
  p384: '06052b81040022',
  p521: '06052b81040023',
  ed25519: '06032b6570',
} as const;

/** PKCS#1 (`RSA PRIVATE KEY`) or SEC1 (`EC PRIVATE KEY`) as PKCS#8, through `node:crypto` (WebCrypto reads only PKCS#8). */
async function pkcs8FromOtherPem(owner: string, name: string, pem: string): Promise<Uint8Array> {
  let nodeCrypto: NodeCrypto;
  try {
    const specifier = 'node:crypto'; // a variable: a browser bundle never resolves it
    nodeCrypto = (await import(specifier)) as NodeCrypto;
  } catch {
    throw new CredentialError('INVALID_CONFIG', `${owner}: ${name} is PKCS#1 or SEC1 PEM, which only Node reads; give PKCS#8 (openssl pkcs8 -topk8 -nocrypt)`);
  }
  try {
    return new Uint8Array(nodeCrypto.createPrivateKey(pem).export({ format: 'der', type: 'pkcs8' }));
  } catch (error) {
    const reason = error instanceof Error ? error.message : 'the key was refused';
    throw new CredentialError('INVALID_CONFIG', `${owner}: ${name} could not be read: ${reason}`);
  }
}

/** The part of `node:crypto` used here (typed here: the published types compile without Node's). */
interface NodeCrypto {
  createPrivateKey(pem: string): { export(options: { format: 'der'; type: 'pkcs8' }): Uint8Array };
}

function base64Bytes(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text.replace(/\s+/g, ''));
  return Uint8Array.from(binary, (char) => char.charCodeAt(0));
}

function isCryptoKey(value: unknown): value is CryptoKey {
  return typeof CryptoKey === 'function' && value instanceof CryptoKey;
}
