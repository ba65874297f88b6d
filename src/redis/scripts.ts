/**
 * The protocol's Lua scripts: each runs atomically on the Redis node that holds the credential's
 * keys (they share one hash tag, so Redis Cluster routes them together). KEYS are always, in order:
 * the shared token, the lease, the fence counter, the fleet's failure count, the fleet's open breaker,
 * the refresh-token record. A token value starts with its fence (`fence:...`), and a record with its
 * version (`version|...`), which the scripts read without opening them.
 */

/**
 * What a process that needs a token finds: `{'token', value, pttl}` (a shared token other than the
 * one it holds, told apart by the sealed value's random IV rather than by fence, so that a Redis
 * that lost its data and restarted its fence counter is still shared from; with its remaining life
 * read here, so no host's clock is compared with another's),
 * `{'open', pttl}` (the fleet's breaker is open), `{'wait', pttl}` (another process holds the lease),
 * or `{'lease', fence, record}` (this process now holds the lease, with a new fence, and the
 * refresh-token record, `''` when there is none).
 * ARGV: owner id (this process / this attempt), lease ms, the IV of the sealed token this process
 * holds ('' for none), this process's id, '1' if this process holds an attempt under a lease of this
 * credential now ('0' otherwise: a lease of its own is then an orphan, taken over at once).
 */
export const ACQUIRE = `
local value = redis.call('GET', KEYS[1])
if value then
  local id = string.match(value, '^%d+:[^:]+:([^:]+):')
  if id and id ~= ARGV[3] then
    local ttl = redis.call('PTTL', KEYS[1])
    if ttl > 0 or ttl == -1 then return {'token', value, ttl} end
  end
end
local open = redis.call('PTTL', KEYS[5])
if open > 0 then return {'open', open} end
local held = redis.call('PTTL', KEYS[2])
if held > 0 then
  -- a lease of this very process (ARGV[4]) that it holds no attempt under (ARGV[5] = '0') is an
  -- orphan: a lease request that timed out here (Redis stalled) and ran after its caller gave up
  local holder = redis.call('GET', KEYS[2]) or ''
  if not (ARGV[5] == '0' and string.sub(holder, 1, #ARGV[4] + 1) == ARGV[4] .. '/') then return {'wait', held} end
end
local fence = redis.call('INCR', KEYS[3])
redis.call('SET', KEYS[2], ARGV[1] .. ':' .. fence, 'PX', ARGV[2])
return {'lease', fence, redis.call('GET', KEYS[6]) or ''}
`;

/**
 * The lease holder shares its token: written only if its fence is newer than the stored token's (a
 * holder whose lease lapsed while a newer token was written cannot overwrite it), with the token's
 * remaining life as its TTL; the fleet's failures are cleared (unless its breaker is open), the lease released, and the
 * credential's hash published. Returns 1 if written, 0 if a newer token was there.
 * ARGV: owner:fence, fence, sealed value, ttl ms (0: no expiry), channel, message, (unused),
 * the IV of a stored value this process could not authenticate ('' for none): such a value is
 * overwritten whatever fence it claims, so a value nobody can open cannot pin the credential.
 */
export const PUBLISH_TOKEN = `
local current = redis.call('GET', KEYS[1])
if current then
  local fence = tonumber(string.match(current, '^(%d+):'))
  local id = string.match(current, '^%d+:[^:]+:([^:]+):')
  -- a value this process could not authenticate (ARGV[8]) is replaced whatever fence it claims
  if fence and fence >= tonumber(ARGV[2]) and not (ARGV[8] ~= '' and id == ARGV[8]) then
    if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) end
    return 0
  end
end
if tonumber(ARGV[4]) > 0 then
  redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[4])
else
  redis.call('SET', KEYS[1], ARGV[3])
end
-- an answer closes the breaker, unless it is open (the answer is to an attempt sent before it opened)
if redis.call('PTTL', KEYS[5]) <= 0 then redis.call('DEL', KEYS[4]) end
if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) end
redis.call('PUBLISH', ARGV[5], ARGV[6])
return 1
`;

/**
 * Replaces the refresh-token record if it is still the one the writer read (compared by the version
 * written in clear before it: `version|sealed`; `''` for none), and wakes the waiters. A record
 * written before a grant is sent (`begin`) also needs the writer to hold the lease still; a grant's
 * outcome does not (an answer is written whenever it comes, even after the lease lapsed: nobody else
 * may send the refresh token meanwhile, the record says so). A new sign-in replaces the record it read
 * (one this process cannot open included: it compares the version written beside it).
 * Returns 1 if written, 0 if the record changed, -1 if a `begin` no longer holds the lease.
 * ARGV: expected version, new `version|sealed`, kind ('begin', 'outcome' or 'signIn'), owner:fence, channel, message.
 */
export const WRITE_RECORD = `
local current = redis.call('GET', KEYS[6])
local version = ''
if current then version = string.match(current, '^([^|]*)|') or '' end
if version ~= ARGV[1] then return 0 end
if ARGV[3] == 'begin' and redis.call('GET', KEYS[2]) ~= ARGV[4] then return -1 end
redis.call('SET', KEYS[6], ARGV[2])
redis.call('PUBLISH', ARGV[5], ARGV[6])
return 1
`;

/** The refresh-token record as stored (`''` for none). */
export const READ_RECORD = `
return redis.call('GET', KEYS[6]) or ''
`;

/**
 * The lease holder's mint failed at the issuer: the library's breaker rules (`machines/breaker.ts`)
 * written for Redis, the opening kept as the open key's TTL.
 * - Open (an attempt sent before it opened): nothing counts, but a `Retry-After` ending later lengthens it.
 * - Otherwise one more failure: on a `Retry-After` it opens for what the issuer asked; at the threshold,
 *   or when it has opened since the last answer (half-open: this failure was the probe), for the
 *   cooldown; for the later of the two when both apply.
 * The count lives until an answer clears it (consecutive failures, however far apart); a count at or
 * past the threshold is how the fleet remembers that its breaker opened (an opening below it, by a
 * lone `Retry-After`, raises it there). The lease is released and waiters woken (they find the
 * breaker open, or take the lease themselves). Returns `{failures, openForMs}` (`-1`: not opened).
 * ARGV: owner:fence, threshold, cooldown ms, retry-after ms (-1: none; capped by maxRetryAfterMs), channel, message.
 */
export const RECORD_FAILURE = `
if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) end
local threshold = tonumber(ARGV[2])
local cooldown = tonumber(ARGV[3])
local retryAfter = tonumber(ARGV[4])
local openFor = -1
local failures = tonumber(redis.call('GET', KEYS[4]) or '0')
local open = redis.call('PTTL', KEYS[5])
if open > 0 then
  if retryAfter > open then openFor = retryAfter end
else
  failures = redis.call('INCR', KEYS[4])
  if failures >= threshold then openFor = cooldown end
  if retryAfter >= 0 and retryAfter > openFor then openFor = retryAfter end
  if openFor >= 0 and failures < threshold then redis.call('SET', KEYS[4], ARGV[2]) end
end
if openFor > 0 then redis.call('SET', KEYS[5], 'open', 'PX', openFor) end
redis.call('PUBLISH', ARGV[5], ARGV[6])
return {failures, openFor}
`;

/**
 * Releases a lease taken by an attempt whose lease request timed out (sent on the same connection,
 * it runs right after that request once Redis answers again). ARGV: owner (process / attempt).
 */
export const RELEASE_ORPHAN = `
local holder = redis.call('GET', KEYS[2])
if holder and string.sub(holder, 1, #ARGV[1] + 1) == ARGV[1] .. ':' then
  redis.call('DEL', KEYS[2])
  return 1
end
return 0
`;

/** Releases the lease if this process still holds it (its mint was abandoned, or the key refused). ARGV: owner:fence, channel, message. */
export const RELEASE = `
if redis.call('GET', KEYS[2]) == ARGV[1] then
  redis.call('DEL', KEYS[2])
  redis.call('PUBLISH', ARGV[2], ARGV[3])
  return 1
end
return 0
`;
