/**
 * The Redis engine's scripts for held jobs (`EnqueueInput.hold`); conventions in lua-scripts.ts.
 * A held job is QUEUED in every index except `:available`, has a `held` field (when it was
 * enqueued) and a member in `:held`, and was never handed to BullMQ: nothing can claim it.
 * `unindex` (lua-prelude.ts) clears both marks whenever a job leaves QUEUED. These scripts take
 * only the shared KEYS: their jobs come as a list of ids or from HELD, so each job's keys (and
 * the tenant index and idempotency key read from its hash) are computed from the data.
 */

/** Published on the events channel after a release: wakes waiting workers, is not an event. */
export const WORK_SIGNAL = 'work';

/** ARGV 4… ids. Returns flat { id, bullId, priority, kind }… of the jobs it released. */
export const RELEASE_HELD = `
local FIRST_ID = 4
local released = {}
for i = FIRST_ID, #ARGV do
  local id = ARGV[i]
  local key = jobKey(id)
  local h = redis.call('HMGET', key, 'status', 'held', 'bullId', 'priority', 'kind')
  if h[1] == 'QUEUED' and h[2] and h[2] ~= '' then
    redis.call('HDEL', key, 'held')
    redis.call('ZREM', HELD, id)
    redis.call('HSET', key, 'availableAt', NOW_S)
    redis.call('ZADD', AVAILABLE, NOW, id)
    for _, value in ipairs({ id, h[3], h[4], h[5] }) do table.insert(released, value) end
  end
end
if #released > 0 then redis.call('PUBLISH', CHANNEL, '${WORK_SIGNAL}') end
return released
`;

/** Deletes one job if it is still held: record, indexes, tenant entry, idempotency key, events. */
const DISCARD_ONE = `
local function discard(id)
  local key = jobKey(id)
  redis.call('ZREM', HELD, id)
  local h = redis.call('HMGET', key, 'status', 'held', 'tenantKey', 'idemKey', 'createdAt')
  if h[1] ~= 'QUEUED' or not h[2] or h[2] == '' then return 0 end
  unindex(id, 'QUEUED')
  redis.call('ZREM', h[3], string.format('%015d:%s', tonumber(h[5]), id))
  if h[4] ~= '' and redis.call('GET', h[4]) == id then redis.call('DEL', h[4]) end
  redis.call('DEL', key, eventsKey(id))
  return 1
end
`;

/** ARGV 4… ids. Returns how many it deleted. */
export const DISCARD =
  DISCARD_ONE +
  `
local FIRST_ID = 4
local deleted = 0
for i = FIRST_ID, #ARGV do deleted = deleted + discard(ARGV[i]) end
return deleted
`;

/**
 * ARGV 4… cutoff (epoch ms), batch size. Discards held jobs enqueued at or before the cutoff;
 * returns how many `:held` members it looked at (each is gone from `:held` afterwards).
 */
export const DISCARD_STALE =
  DISCARD_ONE +
  `
local cutoff, batch = ARGV[4], tonumber(ARGV[5])
local ids = redis.call('ZRANGEBYSCORE', HELD, '-inf', cutoff, 'LIMIT', 0, batch)
for _, id in ipairs(ids) do discard(id) end
return #ids
`;
