/**
 * The ETA's read of the Redis queue: the work ahead of a QUEUED job in today's claim order
 * (priority, then FIFO: the `:queue` ZSET's lexical order, lua-prelude.ts `queueMember`). Kept
 * apart from the scripts of state changes: a fair claim order replaces it whole.
 */

/**
 * KEYS 12: the job's hash. ARGV 4: id. Returns { position, imagesAhead }, or { 0, 0 } when the
 * job is not QUEUED. Reads the params of every job ahead (their hashes, found from the members'
 * ids), in chunks so a deep queue never builds one huge reply table; `count` is the first field
 * of the stored params JSON (job-request.ts keeps that order), matched without decoding it.
 */
export const WORK_AHEAD = `
local key = KEYS[12]
local id = ARGV[4]
local h = redis.call('HMGET', key, 'status', 'priority', 'createdAt')
if h[1] ~= 'QUEUED' then return { 0, 0 } end
local rank = redis.call('ZRANK', QUEUE, queueMember(id, h[2], h[3]))
if not rank then return { 0, 0 } end
local images = 0
local from = 0
while from < rank do
  local to = math.min(rank - 1, from + 999)
  for _, member in ipairs(redis.call('ZRANGE', QUEUE, from, to)) do
    local other = string.match(member, '^[^:]*:[^:]*:(.*)$')
    local params = redis.call('HGET', jobKey(other), 'params')
    local count = params and tonumber(string.match(params, '"count":(%d+)'))
    images = images + (count or 1)
  end
  from = to + 1
end
return { rank + 1, images }
`;
