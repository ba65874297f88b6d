/**
 * `credential-actor/aws`: AWS keys kept by a provider or a pool, served to AWS SDK v3 clients as
 * their credential provider, and minted through STS.
 *
 * @packageDocumentation
 */
export { toAwsCredentialProvider } from './credential-provider.js';
export type { AwsCredentialIdentity, AwsCredentialProvider, PoolAwsCredentialOptions } from './credential-provider.js';
export type { AwsKeys } from './aws-keys.js';
export { assumeRoleMint } from './assume-role-mint.js';
export { awsCredentialMint } from './credential-source-mint.js';
export type { AwsCredentialSource } from './credential-source-mint.js';
export type { AssumeRoleMintOptions, StsClientLike } from './assume-role-mint.js';
export { StsError } from './sts-error.js';
