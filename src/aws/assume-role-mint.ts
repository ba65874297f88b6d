import { CredentialError } from '../../machines/credential-error.js';
import { checkOptions, requireOption } from '../check-options.js';
import type { Mint } from '../mint.js';
import type { AwsKeys } from './aws-keys.js';
import { StsError, toStsError } from './sts-error.js';

/** What `assumeRoleMint` needs of an STS client: `@aws-sdk/client-sts`'s `STSClient` has it. */
export interface StsClientLike {
  send(command: object, options?: { abortSignal?: AbortSignal }): Promise<unknown>;
}

/** Options of {@link assumeRoleMint}. */
export interface AssumeRoleMintOptions {
  /** The role to assume (`arn:aws:iam::123456789012:role/orders`). */
  roleArn: string;
  /** The session's name, in CloudTrail (2 to 64 of `[\w+=,.@-]`). */
  roleSessionName: string;
  /** The keys' lifetime in seconds (900 to 43200, within the role's maximum; STS's default is 3600). */
  durationSeconds?: number;
  /** AssumeRole's `ExternalId`, for a role in another account that asks for one. */
  externalId?: string;
  /** An inline session policy (JSON) narrowing the role's permissions. */
  policy?: string;
  /**
   * AssumeRoleWithWebIdentity instead of AssumeRole: returns the current OIDC token (read it from
   * `AWS_WEB_IDENTITY_TOKEN_FILE` on EKS each time: it is rotated). The call is then unsigned.
   */
  webIdentityToken?: () => string | Promise<string>;
  /**
   * The STS client (an `STSClient`). Default: one built on first use with `region`, `endpoint`
   * and `maxAttempts: 1`: this library's breaker and backoff decide when to try again, not the SDK's.
   */
  client?: StsClientLike;
  /** The default client's region (default: the SDK's own resolution, e.g. `AWS_REGION`). */
  region?: string;
  /** The default client's endpoint (a VPC endpoint, or a local STS in tests). */
  endpoint?: string;
}

/**
 * A mint of AWS keys through STS `AssumeRole`, or `AssumeRoleWithWebIdentity` with
 * `webIdentityToken`, on `@aws-sdk/client-sts` (an optional peer dependency, loaded on first use).
 * Resolves with the key triple as one secret and STS's `Expiration`; rejects with an
 * {@link StsError}. Serve its keys to AWS SDK clients with `toAwsCredentialProvider`.
 *
 * @example
 * ```ts
 * const keys = await createCredentialProvider({
 *   mint: assumeRoleMint({ roleArn: 'arn:aws:iam::123456789012:role/orders', roleSessionName: 'orders-api' }),
 *   refresh: 'proactive',
 * });
 * ```
 */
export function assumeRoleMint(options: AssumeRoleMintOptions): Mint<AwsKeys> {
  checkOptions(options, { owner: OWNER, known: OPTION_NAMES });
  const { roleArn, roleSessionName, durationSeconds, externalId, policy, webIdentityToken, client, region, endpoint } = options;
  requireThat('roleArn', typeof roleArn === 'string' && /^arn:[\w-]+:iam::\d{12}:role\/\S+$/.test(roleArn), 'must be a role ARN (arn:aws:iam::123456789012:role/name)', roleArn);
  requireThat('roleSessionName', typeof roleSessionName === 'string' && /^[\w+=,.@-]{2,64}$/.test(roleSessionName), 'must be 2 to 64 of letters, digits and +=,.@_-', roleSessionName);
  requireThat(
    'durationSeconds',
    durationSeconds === undefined || (Number.isInteger(durationSeconds) && durationSeconds >= 900 && durationSeconds <= 43_200),
    'must be an integer from 900 to 43200',
    durationSeconds,
  );
  requireThat('webIdentityToken', webIdentityToken === undefined || typeof webIdentityToken === 'function', 'must be a function returning the current token', webIdentityToken);
  requireThat('externalId', externalId === undefined || (typeof externalId === 'string' && webIdentityToken === undefined), 'must be a string, and is not sent with webIdentityToken', externalId);
  requireThat('client', client === undefined || typeof (client as { send?: unknown }).send === 'function', 'must be an STSClient', client);
  let sts: Promise<StsModule> | undefined;
  let defaultClient: StsClientLike | undefined;
  return async ({ signal }) => {
    sts ??= loadSts();
    const { STSClient, AssumeRoleCommand, AssumeRoleWithWebIdentityCommand } = await sts;
    const stsClient = client ?? (defaultClient ??= new STSClient({ maxAttempts: 1, ...(region === undefined ? {} : { region }), ...(endpoint === undefined ? {} : { endpoint }) }));
    const common = { RoleArn: roleArn, RoleSessionName: roleSessionName, DurationSeconds: durationSeconds, Policy: policy };
    let output: unknown;
    try {
      const command =
        webIdentityToken === undefined ? new AssumeRoleCommand({ ...common, ExternalId: externalId }) : new AssumeRoleWithWebIdentityCommand({ ...common, WebIdentityToken: await webIdentityToken() });
      output = await stsClient.send(command, { abortSignal: signal });
    } catch (error) {
      throw toStsError(error, signal);
    }
    const { AccessKeyId, SecretAccessKey, SessionToken, Expiration } = (output as { Credentials?: Record<string, unknown> } | undefined)?.Credentials ?? {};
    if (typeof AccessKeyId !== 'string' || typeof SecretAccessKey !== 'string' || typeof SessionToken !== 'string' || !(Expiration instanceof Date)) {
      throw new StsError('InvalidResponse', 'the response holds no complete Credentials (AccessKeyId, SecretAccessKey, SessionToken, Expiration)');
    }
    return { secret: { accessKeyId: AccessKeyId, secretAccessKey: SecretAccessKey, sessionToken: SessionToken }, expiresAt: Expiration };
  };
}

const OWNER = 'assumeRoleMint';
const OPTION_NAMES: readonly string[] = ['roleArn', 'roleSessionName', 'durationSeconds', 'externalId', 'policy', 'webIdentityToken', 'client', 'region', 'endpoint'];

/** The part of `@aws-sdk/client-sts` this mint uses. */
interface StsModule {
  STSClient: new (config: object) => StsClientLike;
  AssumeRoleCommand: new (input: object) => object;
  AssumeRoleWithWebIdentityCommand: new (input: object) => object;
}

async function loadSts(): Promise<StsModule> {
  try {
    // a variable specifier: bundlers and type-checkers leave the optional peer alone
    const name = '@aws-sdk/client-sts';
    return (await import(name)) as StsModule;
  } catch (error) {
    throw new CredentialError('UNCONFIGURED', `${OWNER} needs @aws-sdk/client-sts: npm install @aws-sdk/client-sts`, { cause: error });
  }
}

function requireThat(option: string, ok: boolean, requirement: string, value: unknown): void {
  requireOption(OWNER, option, ok, requirement, value);
}
