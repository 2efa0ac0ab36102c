/**
 * The Redis engine's housekeeping scripts (redis-sweep.ts runs them); conventions in
 * lua-prelude.ts. Both take only the shared KEYS: the jobs they touch are found in the indexes,
 * so each job's keys are computed from its id.
 */

/**
 * ARGV 4… queuedTtlMs or '', retentionMs, batch size. One bounded pass of housekeeping; returns
 * { changed count, BullMQ ids of expired jobs to drop… }.
 */
export const SWEEP = `
local queuedTtlMs, retentionMs, batch = ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6])
local changed, drop = 0, {}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', LEASES, '-inf', NOW)) do
  if endLostLease(id) then changed = changed + 1 end
end
if queuedTtlMs ~= '' then
  local cutoff = NOW - tonumber(queuedTtlMs)
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', QUEUED_AT, '-inf', cutoff, 'LIMIT', 0, batch)) do
    move(id, 'QUEUED', 'EXPIRED', NOW)
    redis.call('HSET', jobKey(id), 'finishedAt', NOW_S, 'availableAt', '')
    emit(id, 'expired', '')
    table.insert(drop, redis.call('HGET', jobKey(id), 'bullId'))
    changed = changed + 1
  end
end
-- The queue's retention, then jobs that asked for less (EXPIRING is scored by their end).
for _, due in ipairs({ { FINISHED, NOW - retentionMs }, { EXPIRING, NOW } }) do
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', due[1], '-inf', due[2], 'LIMIT', 0, batch)) do
    removeJob(id)
    changed = changed + 1
  end
end
return { changed, unpack(drop) }
`;

/**
 * ARGV 4… BullMQ key prefix (\`<prefix>:<queue>:\`), min age ms. Jobs that should be in BullMQ
 * but are not (a process died between our script and its BullMQ call): QUEUED ones, and RUNNING
 * ones whose lease is long gone. BullMQ's job keys are computed from that prefix and each job's
 * bullId. Returns flat { id, bullId, priority, kind, availableAt }….
 */
export const ORPHANS = `
local bullPrefix, minAgeMs = ARGV[4], tonumber(ARGV[5])
local cutoff = NOW - minAgeMs
local found = {}
local function check(id)
  local h = redis.call('HMGET', jobKey(id), 'bullId', 'priority', 'kind', 'availableAt',
    'updatedAt', 'held')
  -- A held job is kept from BullMQ on purpose until it is released.
  if h[1] and (not h[6] or h[6] == '') and tonumber(h[5]) <= cutoff and
      redis.call('EXISTS', bullPrefix .. h[1]) == 0 then
    table.insert(found, id)
    table.insert(found, h[1])
    table.insert(found, h[2])
    table.insert(found, h[3])
    table.insert(found, h[4] ~= '' and h[4] or NOW_S)
  end
end
-- Oldest first and bounded, so a huge backlog never blocks Redis for long.
for _, id in ipairs(redis.call('ZRANGEBYSCORE', QUEUED_AT, '-inf', cutoff, 'LIMIT', 0, 1000)) do
  check(id)
end
for _, id in ipairs(redis.call('ZRANGEBYSCORE', LEASES, '-inf', cutoff, 'LIMIT', 0, 1000)) do
  check(id)
end
return found
`;
