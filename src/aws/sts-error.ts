import { CredentialError } from '../../machines/credential-error.js';

/** STS error codes that mean "slow down" although STS answers them with HTTP 400. */
const THROTTLING_CODES = new Set(['Throttling', 'ThrottlingException', 'RequestLimitExceeded', 'TooManyRequestsException']);

/**
 * `STS_ERROR`: an STS call failed (`assumeRoleMint`). A `CredentialError` like every error the
 * library makes; STS's own detail is in fields of its own: `stsCode` (`AccessDenied`,
 * `ExpiredToken`, `RegionDisabledException`, ...) or a transport code (`ECONNREFUSED`), the HTTP
 * `status`, and the `requestId` to quote to AWS support. The SDK's exception is dropped: it holds
 * the raw response.
 *
 * `status` is what the breaker classifies by (`defaultClassifyFailure`: a 4xx is the key's fault,
 * anything else the issuer's). STS answers throttling with HTTP 400; an `StsError` reports it as
 * 429, which is what it means, so a throttled fleet counts against the issuer, not against one role.
 *
 * @example
 * ```ts
 * provider.on('refresh.failed', ({ error }) => {
 *   if (error instanceof StsError && error.stsCode === 'AccessDenied') alertOps(error.requestId);
 * });
 * ```
 */
export class StsError extends CredentialError {
  /** STS's error code, or the transport's (`ECONNREFUSED`, `TimeoutError`). */
  readonly stsCode: string;
  /** The HTTP status (429 for throttling, see above); `undefined` when no response came back. */
  readonly status: number | undefined;
  /** STS's request id, when a response came back. */
  readonly requestId: string | undefined;

  /**
   * @param code STS's error code or the transport's.
   * @param message what happened; never a key.
   * @param details the response's status and request id, and the transport's cause.
   * @example
   * ```ts
   * new StsError('AccessDenied', 'not authorized to perform sts:AssumeRole', { status: 403 });
   * ```
   */
  constructor(code: string, message: string, details: { status?: number | undefined; requestId?: string | undefined; cause?: unknown } = {}) {
    super('STS_ERROR', `STS: ${code}: ${message}`, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'StsError';
    this.stsCode = code;
    this.status = details.status !== undefined && THROTTLING_CODES.has(code) ? 429 : details.status;
    this.requestId = details.requestId;
  }

  /**
   * A plain summary for structured logs.
   *
   * @example
   * ```ts
   * JSON.stringify(error); // {"name":"StsError","code":"STS_ERROR","message":"STS: AccessDenied: ...","stsCode":"AccessDenied","status":403,...}
   * ```
   */
  override toJSON(): ReturnType<CredentialError['toJSON']> & { stsCode: string; status?: number; requestId?: string } {
    return {
      ...super.toJSON(),
      stsCode: this.stsCode,
      ...(this.status === undefined ? {} : { status: this.status }),
      ...(this.requestId === undefined ? {} : { requestId: this.requestId }),
    };
  }
}

/**
 * Whatever the STS client threw, as an {@link StsError}: a service exception keeps its code,
 * message, status and request id; a transport failure its code and message. An aborted attempt
 * rejects with its signal's reason, as every mint does.
 */
export function toStsError(error: unknown, signal: AbortSignal): unknown {
  if (signal.aborted) return signal.reason;
  const { name, message, code, $metadata } = (typeof error === 'object' && error !== null ? error : {}) as {
    name?: unknown;
    message?: unknown;
    code?: unknown;
    $metadata?: { httpStatusCode?: unknown; requestId?: unknown };
  };
  const status = typeof $metadata?.httpStatusCode === 'number' ? $metadata.httpStatusCode : undefined;
  const requestId = typeof $metadata?.requestId === 'string' ? $metadata.requestId : undefined;
  const errorCode = typeof code === 'string' ? code : typeof name === 'string' && name.length > 0 ? name : 'UnknownError';
  const text = typeof message === 'string' && message.length > 0 ? message : 'no message';
  // a transport failure (no response) keeps its code as the cause; a service exception is dropped whole
  const cause = status === undefined && typeof code === 'string' ? { code } : undefined;
  return new StsError(errorCode, text, { status, requestId, cause });
}
