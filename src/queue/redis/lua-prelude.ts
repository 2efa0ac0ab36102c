/**
 * Lua functions shared by every script of the Redis engine (see lua-scripts.ts): key names,
 * status indexes and counts, and the one way an event is written (sequence bump, event list,
 * publish), so no script can change a job's visible state without its event.
 */

/**
 * Prepended to every script. KEYS[1…11] are the engine's shared keys, the same for every script
 * and in the order of `sharedKeys()` (redis-records.ts): the helpers below reach most of them.
 * A script's own keys follow from KEYS[12]. ARGV[1…3] are the key prefix, now (epoch ms) and now
 * (ISO-8601); a script's own arguments follow from ARGV[4]. A job's own keys (its hash and event
 * list) are computed here from its id, because sweeps and batch calls find their ids in the data.
 */
export const PRELUDE = `
local QUEUE, QUEUED_AT, AVAILABLE, HELD, LEASES = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local FINISHED, EXPIRING, COUNTS, REMOVED, REMOVED_AT = KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10]
local WORKERS = KEYS[11]
local P, NOW_S, ISO = ARGV[1], ARGV[2], ARGV[3]
local NOW = tonumber(NOW_S)
-- A pub/sub channel, not a key: every event and the work signal are published on it.
local CHANNEL = P .. ':events'
local function jobKey(id) return P .. ':job:' .. id end
local function eventsKey(id) return P .. ':events:' .. id end
-- Claim order as a sortable string: priority descending, then the fair tag (0 under fifo;
-- fair-scheduling.ts), then creation, then id.
local function queueMember(id, priority, tag, createdAt)
  return string.format('%07d:%016d:%015d:%s', 1000000 - tonumber(priority), tonumber(tag) or 0,
    tonumber(createdAt), id)
end
-- Fair scheduling's keys, computed like a job's own (every QUEUED/RUNNING change keeps them):
-- ':tq:<tenant>' a tenant's QUEUED members in claim order; ':queue-images:<n>' the members of
-- jobs of n images (images ahead = sum of n times a ZLEXCOUNT each); hashes of QUEUED and
-- RUNNING jobs per tenant, of queued jobs per image count, and of each tenant's finish tag.
local TENANT_QUEUED, TENANT_RUNNING = P .. ':tenant-queued', P .. ':tenant-running'
local TENANT_FINISH, VIRTUAL_TIME = P .. ':tenant-finish', P .. ':virtual-time'
local IMAGE_COUNTS = P .. ':queue-image-counts'
local function tenantQueueKey(tenant) return P .. ':tq:' .. tenant end
local function imagesQueueKey(images) return P .. ':queue-images:' .. images end
local function bump(hash, field, by)
  if redis.call('HINCRBY', hash, field, by) <= 0 then redis.call('HDEL', hash, field) end
end
local function unindex(id, status)
  if status == 'QUEUED' then
    local h = redis.call('HMGET', jobKey(id), 'priority', 'fairTag', 'createdAt', 'tenant', 'images')
    local member = queueMember(id, h[1], h[2], h[3])
    local images = h[5] or '1'
    redis.call('ZREM', QUEUE, member)
    redis.call('ZREM', tenantQueueKey(h[4]), member)
    redis.call('ZREM', imagesQueueKey(images), member)
    bump(TENANT_QUEUED, h[4], -1)
    bump(IMAGE_COUNTS, images, -1)
    redis.call('ZREM', QUEUED_AT, id)
    redis.call('ZREM', AVAILABLE, id)
    -- Leaving QUEUED ends a hold (lua-held-scripts.ts): a retry later runs the job for real.
    redis.call('HDEL', jobKey(id), 'held')
    redis.call('ZREM', HELD, id)
  elseif status == 'RUNNING' then
    redis.call('ZREM', LEASES, id)
    bump(TENANT_RUNNING, redis.call('HGET', jobKey(id), 'tenant'), -1)
  else
    redis.call('ZREM', FINISHED, id)
    redis.call('ZREM', EXPIRING, id)
  end
  redis.call('HINCRBY', COUNTS, status, -1)
end
-- score: queuedAt when QUEUED, leaseUntil when RUNNING, finishedAt otherwise. A QUEUED job's
-- availableAt must already be set: waitForWork reads the next one from ':available'. A finished
-- job with its own retention is also in ':expiring', scored by when that retention ends.
local function index(id, status, score)
  if status == 'QUEUED' then
    local h = redis.call('HMGET', jobKey(id), 'priority', 'fairTag', 'createdAt', 'availableAt',
      'tenant', 'images')
    local member = queueMember(id, h[1], h[2], h[3])
    local images = h[6] or '1'
    redis.call('ZADD', QUEUE, 0, member)
    redis.call('ZADD', tenantQueueKey(h[5]), 0, member)
    redis.call('ZADD', imagesQueueKey(images), 0, member)
    redis.call('HINCRBY', TENANT_QUEUED, h[5], 1)
    redis.call('HINCRBY', IMAGE_COUNTS, images, 1)
    redis.call('ZADD', QUEUED_AT, score, id)
    redis.call('ZADD', AVAILABLE, h[4], id)
  elseif status == 'RUNNING' then
    redis.call('ZADD', LEASES, score, id)
    redis.call('HINCRBY', TENANT_RUNNING, redis.call('HGET', jobKey(id), 'tenant'), 1)
  else
    redis.call('ZADD', FINISHED, score, id)
    local own = redis.call('HGET', jobKey(id), 'retentionMs')
    if own and own ~= '' then redis.call('ZADD', EXPIRING, score + tonumber(own), id) end
  end
  redis.call('HINCRBY', COUNTS, status, 1)
  redis.call('HSET', jobKey(id), 'status', status)
end
-- The webhook outbox (WebhookOutbox; its scripts are in lua-webhook-scripts.ts). Its keys are
-- computed from the prefix, like a job's own keys: any change of any job may write an entry.
-- ':outbox' is a ZSET of entry ids scored by when each is due (backoff, or a claim's lease end);
-- ':outbox:<id>' the entry's hash; ':outbox-of:<job>' a job's entries; ':webhook-log:<job>' its
-- last attempts (a list of JSON, trimmed to 50).
local OUTBOX = P .. ':outbox'
local function outboxKey(entryId) return P .. ':outbox:' .. entryId end
local function jobOutboxKey(id) return P .. ':outbox-of:' .. id end
local function webhookLogKey(id) return P .. ':webhook-log:' .. id end
-- Same table and rules as WEBHOOK_EVENT_OF and webhookEventFor (webhook-outbox.ts).
local WEBHOOK_EVENT_OF = { active = 'STARTED', progress = 'PROGRESS', completed = 'SUCCEEDED',
  failed = 'FAILED', cancelled = 'CANCELLED', expired = 'EXPIRED' }
local function writeOutbox(id, eventType, seq)
  local event = WEBHOOK_EVENT_OF[eventType]
  if not event then return end
  local key = jobKey(id)
  local w = redis.call('HMGET', key, 'webhookUrl', 'webhookEvents', 'attempts', 'webhookProgressAt')
  if not w[1] or w[1] == '' or not string.find(w[2], ',' .. event .. ',', 1, true) then return end
  if event == 'STARTED' and w[3] ~= '1' then return end
  if event == 'PROGRESS' then
    if w[4] and w[4] ~= '' and NOW - tonumber(w[4]) < 1000 then return end
    redis.call('HSET', key, 'webhookProgressAt', NOW_S)
  end
  local fields, job = redis.call('HGETALL', key), {}
  for i = 1, #fields, 2 do job[fields[i]] = fields[i + 1] end
  local entryId = 'msg_' .. id .. '_' .. seq
  redis.call('HSET', outboxKey(entryId), 'id', entryId, 'jobId', id, 'tenant', job.tenant,
    'event', event, 'url', w[1], 'job', cjson.encode(job), 'createdAt', NOW_S, 'attempts', 0,
    'leaseToken', '')
  redis.call('ZADD', OUTBOX, NOW, entryId)
  redis.call('SADD', jobOutboxKey(id), entryId)
end
local function move(id, from, to, score)
  unindex(id, from)
  index(id, to, score)
end
-- Bumps the sequence, appends the event and publishes it; extra is '' or ',"error":{...}'.
-- status: the job's status as the event shows it; the job's current status when omitted.
local function emit(id, eventType, extra, status)
  local key = jobKey(id)
  local seq = redis.call('HINCRBY', key, 'sequence', 1)
  redis.call('HSET', key, 'updatedAt', NOW_S)
  local h = redis.call('HMGET', key, 'tenant', 'status')
  local event = '{"jobId":' .. cjson.encode(id) .. ',"tenant":' .. cjson.encode(h[1]) ..
    ',"type":"' .. eventType .. '","sequence":' .. seq .. ',"status":"' .. (status or h[2]) ..
    '","at":"' .. ISO .. '"' .. extra .. '}'
  redis.call('RPUSH', eventsKey(id), event)
  redis.call('PUBLISH', CHANNEL, event)
  writeOutbox(id, eventType, seq)
end
-- The one way a finished job goes (deleteJob and retention): record, indexes, tenant entry,
-- idempotency key and events, leaving its note in ':removed' (JobRemovals) for the retention
-- service. params and outputs pass through as the JSON text they were stored as. Its pending
-- webhook deliveries and attempts go too, in this same script.
local function removeJob(id)
  local key = jobKey(id)
  local h = redis.call('HMGET', key, 'status', 'tenantKey', 'idemKey', 'createdAt', 'tenant',
    'params', 'outputs')
  if not h[1] then return false end
  unindex(id, h[1])
  redis.call('ZREM', h[2], string.format('%015d:%s', tonumber(h[4]), id))
  if h[3] ~= '' and redis.call('GET', h[3]) == id then redis.call('DEL', h[3]) end
  redis.call('HSET', REMOVED, id, '{"id":' .. cjson.encode(id) .. ',"tenant":' ..
    cjson.encode(h[5]) .. ',"params":' .. h[6] .. ',"outputs":' .. h[7] .. '}')
  redis.call('ZADD', REMOVED_AT, NOW, id)
  for _, entryId in ipairs(redis.call('SMEMBERS', jobOutboxKey(id))) do
    redis.call('ZREM', OUTBOX, entryId)
    redis.call('DEL', outboxKey(entryId))
  end
  redis.call('DEL', key, eventsKey(id), jobOutboxKey(id), webhookLogKey(id))
  return true
end
local function finishRunning(id, to, errorJson)
  move(id, 'RUNNING', to, NOW)
  redis.call('HSET', jobKey(id), 'finishedAt', NOW_S, 'leaseToken', '', 'leaseUntil', '',
    'error', errorJson)
end
-- Same text as workerLostFailure() in worker-lost.ts.
local function workerLost(attempts, maxAttempts)
  return cjson.encode({ code = 'WORKER_LOST', retryable = false,
    message = 'the worker stopped renewing its lease; ' .. attempts .. ' of ' .. maxAttempts ..
      ' attempts used' })
end
-- Same text as workerLostRetry() in worker-lost.ts.
local function workerLostRetry(attempts, maxAttempts)
  return cjson.encode({ code = 'WORKER_LOST', retryable = true,
    message = 'the worker stopped renewing its lease; running it again (' .. attempts .. ' of ' ..
      maxAttempts .. ' attempts used)' })
end
-- A lease that ran out with a cancel request or no attempts left ends the job; else nil.
local function endLostLease(id)
  local h = redis.call('HMGET', jobKey(id), 'status', 'cancelRequested', 'attempts', 'maxAttempts')
  if h[1] ~= 'RUNNING' then return nil end
  if h[2] == '1' then
    finishRunning(id, 'CANCELLED', 'null')
    emit(id, 'cancelled', '')
    return 'cancelled'
  end
  if tonumber(h[3]) >= tonumber(h[4]) then
    local err = workerLost(h[3], h[4])
    finishRunning(id, 'FAILED', err)
    emit(id, 'failed', ',"error":' .. err)
    return 'failed'
  end
  return nil
end
-- 'ok' when token holds the RUNNING job's lease, else 'missing' or the job's status.
local function leased(id, token)
  local h = redis.call('HMGET', jobKey(id), 'status', 'leaseToken')
  if not h[1] then return 'missing' end
  if h[1] ~= 'RUNNING' or h[2] ~= token then return h[1] end
  return 'ok'
end
`;
