/**
 * An AWS key triple, as a secret of three parts: the parts are only ever used together (SigV4 signs
 * with the secret key, and sends the key id and the session token), so they are cached, compared,
 * redacted and sealed in Redis as one.
 */
export type AwsKeys = {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken: string;
};
