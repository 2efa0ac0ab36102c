/**
 * The Redis engine's webhook outbox scripts (claim and settle); conventions in lua-prelude.ts,
 * which also writes the entries (`writeOutbox`, from `emit`) and deletes them with their job
 * (`removeJob`). Both take only the shared KEYS: entry keys are computed from the prefix and
 * the ids found in ':outbox'.
 */

/**
 * ARGV 4… limit, leaseMs, lease token. Up to `limit` due entries, each re-scored to its lease's
 * end (so no other claim sees it before then) with its attempt counted. Returns one flat
 * [field, value, …] hash per entry.
 */
export const CLAIM_DELIVERIES = `
local limit, leaseMs, token = tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6]
local claimed = {}
for _, entryId in ipairs(redis.call('ZRANGEBYSCORE', OUTBOX, '-inf', NOW, 'LIMIT', 0, limit)) do
  local key = outboxKey(entryId)
  if redis.call('EXISTS', key) == 1 then
    redis.call('ZADD', OUTBOX, NOW + leaseMs, entryId)
    redis.call('HINCRBY', key, 'attempts', 1)
    redis.call('HSET', key, 'leaseToken', token)
    table.insert(claimed, redis.call('HGETALL', key))
  else
    redis.call('ZREM', OUTBOX, entryId)
  end
end
return claimed
`;

/**
 * ARGV 4… entry id, lease token, status (DELIVERED | FAILED | GAVE_UP), HTTP status or '', the
 * next attempt's time (epoch ms) or '' to remove the entry. Returns 1, or 0 when the lease was
 * lost (nothing changed).
 */
export const SETTLE_DELIVERY = `
local entryId, token, status, httpStatus, retryAt = ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8]
local key = outboxKey(entryId)
local h = redis.call('HMGET', key, 'leaseToken', 'jobId', 'event', 'attempts')
if not h[1] or h[1] ~= token then return 0 end
local log = webhookLogKey(h[2])
redis.call('RPUSH', log, '{"event":"' .. h[3] .. '","attempt":' .. h[4] .. ',"status":"' ..
  status .. '","httpStatus":' .. (httpStatus ~= '' and httpStatus or 'null') .. ',"at":"' ..
  ISO .. '"}')
redis.call('LTRIM', log, -50, -1)
if retryAt ~= '' then
  redis.call('HSET', key, 'leaseToken', '')
  redis.call('ZADD', OUTBOX, tonumber(retryAt), entryId)
else
  redis.call('DEL', key)
  redis.call('ZREM', OUTBOX, entryId)
  redis.call('SREM', jobOutboxKey(h[2]), entryId)
end
return 1
`;
