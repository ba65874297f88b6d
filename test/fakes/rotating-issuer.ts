/**
 * A token endpoint with rotating refresh tokens and strict reuse detection, as a `fetch` (so the
 * real `refreshTokenMint` and oauth4webapi run against it), on any clock: every refresh token is good
 * once; a spent one presented again revokes its whole family (as Auth0, Okta, Keycloak and
 * oidc-provider do), unless it comes within the optional reuse interval. Faults are scripted per
 * request: refused before reaching it, lost on the way back, held (answered later, or never), a 503,
 * or a 200 whose body fails the client's checks but carries a new refresh token.
 *
 * Its ledger is what the tests assert: every refresh token presented (`presented`), reuse detected
 * (`reuses`), families revoked. A test never prints a token: they are short made-up strings.
 */
export type IssuerFault =
  /** The connection is refused: nothing reaches the issuer (a Node error code, or a browser's bare TypeError); the next request of any kind, a reachability check included. */
  | { readonly kind: 'refused'; readonly withCode: boolean }
  /** The request reaches the issuer (its refresh token is spent) and the answer is lost (reset, no code in a browser). */
  | { readonly kind: 'lost'; readonly withCode: boolean }
  /** The request reaches the issuer; its answer is held until `release()` (or the signal aborts: the answer is lost). */
  | { readonly kind: 'held' }
  /** 503 with `Retry-After`, nothing spent. */
  | { readonly kind: 'unavailable'; readonly retryAfterSeconds?: number }
  /** 200 with a new refresh token, but `scope` is an array: the client refuses the answer. */
  | { readonly kind: 'malformed' };

export interface HeldAnswer {
  readonly refreshToken: string;
  /** Who sent it (the request's `x-tab` header), and when it reached the issuer. */
  readonly from: string;
  readonly at: number;
  /** Set once `release()` was called. */
  readonly released: boolean;
  /** Delivers the answer (if its caller still waits). */
  release(): void;
  /** The caller gave up (its signal aborted) before the answer was released. */
  readonly abandoned: boolean;
}

export interface RotatingIssuerOptions {
  readonly clock: { now(): number };
  readonly accessTokenTtlSeconds?: number;
  /** A spent refresh token presented again within this many ms of its first use is answered, not treated as reuse. */
  readonly reuseIntervalMs?: number;
}

interface TokenEntry {
  readonly family: number;
  usedAt: number | null;
  next: string | null;
}

export function rotatingIssuer(options: RotatingIssuerOptions) {
  const ttl = options.accessTokenTtlSeconds ?? 60;
  const tokens = new Map<string, TokenEntry>();
  const revoked = new Set<number>();
  let families = 0;
  let minted = 0;
  const faults: IssuerFault[] = [];
  const ledger = {
    /** Every refresh token presented to the issuer, in order (a refused connection presents nothing; a 503 does). */
    presented: [] as string[],
    /** Grants answered with a new token. */
    grants: 0,
    /** Spent refresh tokens presented again outside the reuse interval. */
    reuses: 0,
    /** Answers that were `invalid_grant`. */
    invalidGrants: 0,
    /** HEAD requests (reachability checks) that reached it. */
    probes: 0,
    held: [] as HeldAnswer[],
  };
  let down = false;

  function signIn(): string {
    const family = ++families;
    const token = `rt-${family}-0`;
    tokens.set(token, { family, usedAt: null, next: null });
    return token;
  }

  function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
    return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });
  }

  /** What the issuer does with a grant that reached it. */
  function grant(refreshToken: string, malformed: boolean): Response {
    ledger.presented.push(refreshToken);
    const entry = tokens.get(refreshToken);
    if (entry === undefined || revoked.has(entry.family)) {
      ledger.invalidGrants++;
      return json(400, { error: 'invalid_grant', error_description: 'refresh token unknown or revoked' });
    }
    const now = options.clock.now();
    if (entry.usedAt !== null) {
      if (options.reuseIntervalMs !== undefined && now - entry.usedAt < options.reuseIntervalMs && entry.next !== null) {
        return answer(entry.next, malformed);
      }
      ledger.reuses++;
      ledger.invalidGrants++;
      revoked.add(entry.family);
      return json(400, { error: 'invalid_grant', error_description: 'refresh token reused: the family is revoked' });
    }
    entry.usedAt = now;
    const generation = Number(refreshToken.split('-')[2]) + 1;
    const next = `rt-${entry.family}-${generation}`;
    tokens.set(next, { family: entry.family, usedAt: null, next: null });
    entry.next = next;
    ledger.grants++;
    return answer(next, malformed);
  }

  function answer(next: string, malformed: boolean): Response {
    minted++;
    return json(200, { access_token: `at-${minted}`, token_type: 'Bearer', expires_in: ttl, refresh_token: next, ...(malformed ? { scope: ['a', 'b'] } : {}) });
  }

  const fetchImpl = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const signal = init?.signal ?? undefined;
    if (signal?.aborted) throw signal.reason;
    if ((init?.method ?? 'GET') === 'HEAD') {
      // a refused connection refuses whatever comes next, a reachability check included
      if (down || faults[0]?.kind === 'refused') {
        if (!down) faults.shift();
        throw new TypeError('Failed to fetch');
      }
      ledger.probes++;
      return new Response(null, { status: 405 });
    }
    const body = new URLSearchParams(String(init?.body ?? ''));
    const refreshToken = body.get('refresh_token') ?? '';
    const fault = faults.shift();
    if (down || fault?.kind === 'refused') {
      const withCode = fault?.kind === 'refused' ? fault.withCode : true;
      throw new TypeError(withCode ? 'fetch failed' : 'Failed to fetch', withCode ? { cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }) } : undefined);
    }
    if (fault?.kind === 'unavailable') {
      ledger.presented.push(refreshToken); // it reached the issuer, which refused to take it
      return json(503, { error: 'temporarily_unavailable' }, fault.retryAfterSeconds === undefined ? {} : { 'retry-after': String(fault.retryAfterSeconds) });
    }
    const response = grant(refreshToken, fault?.kind === 'malformed');
    if (fault?.kind === 'lost') {
      throw new TypeError(fault.withCode ? 'fetch failed' : 'Failed to fetch', fault.withCode ? { cause: Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }) } : undefined);
    }
    if (fault?.kind === 'held') {
      return new Promise<Response>((resolve, reject) => {
        const held = {
          refreshToken,
          from: new Headers(init?.headers).get('x-tab') ?? '',
          at: options.clock.now(),
          abandoned: false,
          released: false,
          release: () => {
            held.released = true;
            resolve(response);
          },
        };
        ledger.held.push(held);
        signal?.addEventListener(
          'abort',
          () => {
            held.abandoned = true;
            reject(signal.reason);
          },
          { once: true },
        );
      });
    }
    return response;
  };

  return {
    ledger,
    /** A new family's first refresh token, as a sign-in returns it. */
    signIn,
    fetch: fetchImpl as typeof fetch,
    /** The next requests meet these faults, in order. */
    fault(...next: IssuerFault[]) {
      faults.push(...next);
    },
    /** Drops the faults not met yet. */
    clearFaults() {
      faults.length = 0;
    },
    /** Every request is refused until `up()`. */
    down() {
      down = true;
    },
    up() {
      down = false;
    },
    /** Whether a refresh token's family was revoked. */
    isRevoked(refreshToken: string): boolean {
      const entry = tokens.get(refreshToken);
      return entry !== undefined && revoked.has(entry.family);
    },
    /** The newest refresh token of a family that is still unspent (what a holder should have). */
    liveTokenOf(family: number): string | null {
      for (const [token, entry] of tokens) if (entry.family === family && entry.usedAt === null && !revoked.has(family)) return token;
      return null;
    },
  };
}

export type RotatingIssuer = ReturnType<typeof rotatingIssuer>;
