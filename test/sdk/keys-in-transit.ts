/**
 * What happens to AWS keys between a provider and S3, for the workers that send S3 requests with
 * them (`aws-fleet-worker.ts`, `sdk-source-worker.ts`): the keys handed to the SDK's signer for the
 * request in flight (one at a time), whether they were already expired when handed (what the library
 * must never do), and S3's refusals of keys that were valid when handed but expired on the way (a
 * machine this busy can delay a request longer than 2-second keys had left).
 */
import type { CredentialProvider } from '../../src/index.js';
import { toAwsCredentialProvider, type AwsKeys } from '../../src/aws/index.js';

type AwsCredentials = ReturnType<typeof toAwsCredentialProvider>;

/** The S3 client's `credentials`, and the counts of what became of the keys it handed out. */
export interface KeysInTransit {
  /** The keys provider to give the S3 client: the provider's, noting each handing. */
  readonly credentials: (options?: Parameters<AwsCredentials>[0]) => ReturnType<AwsCredentials>;
  /** Keys handed to the signer already expired. */
  readonly expiredServed: () => number;
  /** Requests S3 refused for keys that were valid when handed (counted by {@link KeysInTransit.refusedOnTheWay}). */
  readonly expiredInTransit: () => number;
  /** Whether S3 refused a request for keys that expired on the way (and counts it if so). */
  readonly refusedOnTheWay: (error: unknown) => boolean;
  /** When the keys of the last request were handed to the signer (`Date.now()`; 0 before any). */
  readonly handedOutAt: () => number;
}

/**
 * Watches the keys `provider` hands to an S3 client.
 *
 * @example
 * ```ts
 * const keys = keysInTransit(provider);
 * const s3 = new S3Client({ credentials: keys.credentials });
 * ```
 */
export function keysInTransit(provider: CredentialProvider<AwsKeys>): KeysInTransit {
  const served = toAwsCredentialProvider(provider);
  let handedOut = { at: 0, expiresAt: Number.POSITIVE_INFINITY };
  let expiredServed = 0;
  let expiredInTransit = 0;
  return {
    credentials: async (options) => {
      const given = await served(options);
      handedOut = { at: Date.now(), expiresAt: given.expiration?.getTime() ?? Number.POSITIVE_INFINITY };
      if (handedOut.expiresAt <= handedOut.at) expiredServed++;
      return given;
    },
    expiredServed: () => expiredServed,
    expiredInTransit: () => expiredInTransit,
    refusedOnTheWay: (error) => {
      const onTheWay = error instanceof Error && error.message.includes('expired keys') && handedOut.expiresAt > handedOut.at;
      if (onTheWay) expiredInTransit++;
      return onTheWay;
    },
    handedOutAt: () => handedOut.at,
  };
}
