import { CredentialError } from '../../machines/credential-error.js';
import { Secret } from '../../machines/secret.js';
import { checkOptions, requireOption } from '../check-options.js';
import { describeShape } from '../describe-shape.js';

/** Options of {@link mutualTlsFetch}. */
export interface MutualTlsOptions {
  /** The client certificate (PEM), with its chain if the server needs one. */
  readonly certificate: string;
  /** Its private key (PEM), held as a {@link Secret}. */
  readonly privateKey: string | Secret;
  /** The certificate authorities to trust for the servers (PEM; default: the platform's). */
  readonly ca?: string | readonly string[];
}

/** A `fetch` that presents a client certificate on every connection; `close()` ends its connections. */
export interface MutualTlsFetch {
  (input: RequestInfo | URL, init?: RequestInit): Promise<Response>;
  /** Closes its connections; a call after it is refused with `STOPPED`. */
  close(): Promise<void>;
}

/**
 * A `fetch` for mutual TLS (RFC 8705), Node only: every connection presents `certificate`. Give the
 * same one to the OAuth mint (`fetch`, with `clientAuthentication: 'tls_client_auth'` or
 * `'self_signed_tls_client_auth'`) and to `authorizedFetch` (`fetch`): the issuer authenticates the
 * client by its certificate and binds the token to it (`cnf.x5t#S256`), and the resource accepts
 * the token only over a connection that presents the same certificate. Built on the `undici`
 * package (an optional peer dependency: `npm install undici`), loaded at the first request.
 *
 * @example
 * ```ts
 * const tls = mutualTlsFetch({ certificate: readFileSync('client.crt', 'utf8'), privateKey: readFileSync('client.key', 'utf8') });
 * const provider = await createCredentialProvider({
 *   mint: clientCredentialsMint({ issuer, clientId: 'orders', clientAuthentication: 'tls_client_auth', fetch: tls }),
 * });
 * const api = authorizedFetch(provider, { fetch: tls });
 * ```
 */
export function mutualTlsFetch(options: MutualTlsOptions): MutualTlsFetch {
  const owner = 'mutualTlsFetch';
  checkOptions(options, { owner, known: ['certificate', 'privateKey', 'ca'] });
  const { certificate, ca } = options;
  requireOption(owner, 'certificate', typeof certificate === 'string' && certificate.includes('-----BEGIN CERTIFICATE-----'), 'must be PEM text (-----BEGIN CERTIFICATE-----)', certificate);
  const privateKey = options.privateKey instanceof Secret ? options.privateKey : typeof options.privateKey === 'string' ? new Secret(options.privateKey) : null;
  if (privateKey === null || !privateKey.reveal().includes('PRIVATE KEY-----'))
    throw new CredentialError('INVALID_CONFIG', `${owner}: privateKey must be PEM text (-----BEGIN PRIVATE KEY-----), got ${describeShape(options.privateKey)}`);
  const authorities = ca === undefined ? undefined : [ca].flat();
  requireOption(
    owner,
    'ca',
    authorities === undefined || authorities.every((one) => typeof one === 'string' && one.includes('-----BEGIN CERTIFICATE-----')),
    'must be PEM text or a list of PEM texts',
    ca,
  );
  let client: Promise<{ fetch: UndiciFetch; agent: UndiciAgent }> | undefined;
  let closed = false;
  const connect = () =>
    (client ??= loadUndici().then(({ Agent, fetch }) => ({
      fetch,
      agent: new Agent({ connect: { cert: certificate, key: privateKey.reveal(), ...(authorities === undefined ? {} : { ca: authorities }) } }),
    })));
  const send = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    if (closed) throw new CredentialError('STOPPED', `${owner}: closed`);
    const { fetch, agent } = await connect();
    return fetch(input, { ...init, dispatcher: agent });
  };
  return Object.assign(send, {
    async close() {
      closed = true;
      if (client !== undefined) await (await client).agent.close();
    },
  });
}

/** The part of `undici` used here (typed here: the published types do not need undici's). */
type UndiciFetch = (input: RequestInfo | URL, init: RequestInit & { dispatcher: UndiciAgent }) => Promise<Response>;
interface UndiciAgent {
  close(): Promise<void>;
}
interface Undici {
  Agent: new (options: { connect: { cert: string; key: string; ca?: string[] } }) => UndiciAgent;
  fetch: UndiciFetch;
}

async function loadUndici(): Promise<Undici> {
  const specifier = 'undici'; // a variable: bundlers and browsers never resolve it
  try {
    return (await import(specifier)) as Undici;
  } catch {
    throw new CredentialError('UNCONFIGURED', 'mutualTlsFetch needs the undici package (Node only): npm install undici');
  }
}
