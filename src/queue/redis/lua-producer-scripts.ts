/**
 * The Redis engine's scripts for the API's calls (enqueue, cancel, retry, position, delete);
 * conventions in lua-prelude.ts. Each names its own KEYS and ARGV on its first lines.
 */

/**
 * KEYS 12… the job's hash, its event list, the tenant index, the idempotency key (absent when
 * the request has none). ARGV 4… id, tenant, kind, model, params, priority, maxAttempts,
 * idempotencyKey (JSON), maxQueued or '', idempotency fingerprint or '', '1' to hold the job
 * (lua-held-scripts.ts) or '', the job's own retention (ms) or '', the webhook's JSON or '', its
 * events as ',STARTED,SUCCEEDED,' or '', the job's images, its tag cost (fair-scheduling.ts),
 * 'fair' or 'fifo', the tenant's most QUEUED jobs or ''. The job an idempotency key
 * names is found in the data: its hash key is computed from the id stored there.
 */
export const ENQUEUE = `
local key, tenantKey, idemKey = KEYS[12], KEYS[14], KEYS[15] or ''
local id, tenant, kind, model, params = ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8]
local priority, maxAttempts, idempotencyKey = ARGV[9], ARGV[10], ARGV[11]
local maxQueued, fingerprint, hold, retentionMs = ARGV[12], ARGV[13] or '', ARGV[14], ARGV[15] or ''
local webhook, webhookEvents = ARGV[16] or '', ARGV[17] or ''
local images, tagCost, scheduling, tenantMaxQueued = ARGV[18], ARGV[19], ARGV[20], ARGV[21]
if idemKey ~= '' then
  local existing = redis.call('GET', idemKey)
  if existing and redis.call('EXISTS', jobKey(existing)) == 1 then
    -- A job stored before fingerprints has none: it matches any request, as it did then.
    local stored = redis.call('HGET', jobKey(existing), 'idemFingerprint')
    if fingerprint ~= '' and stored and stored ~= '' and stored ~= fingerprint then
      return { 'conflict' }
    end
    return { 'existing', redis.call('HGETALL', jobKey(existing)) }
  end
end
if maxQueued ~= '' and tonumber(redis.call('HGET', COUNTS, 'QUEUED') or '0') >= tonumber(maxQueued) then
  return { 'full' }
end
local tenantQueued = tonumber(redis.call('HGET', TENANT_QUEUED, tenant) or '0')
if tenantMaxQueued ~= '' and tenantQueued >= tonumber(tenantMaxQueued) then
  return { 'tenant-full' }
end
-- The start tag (startTag in fair-scheduling.ts): the virtual time, or the tenant's finish tag
-- while it still has jobs waiting.
local tag = 0
if scheduling == 'fair' then
  tag = tonumber(redis.call('GET', VIRTUAL_TIME) or '0')
  if tenantQueued > 0 then
    tag = math.max(tag, tonumber(redis.call('HGET', TENANT_FINISH, tenant) or '0'))
  end
  redis.call('HSET', TENANT_FINISH, tenant, string.format('%d', tag + tonumber(tagCost)))
end
redis.call('HSET', key, 'id', id, 'tenant', tenant, 'kind', kind, 'model', model,
  'params', params, 'priority', priority, 'maxAttempts', maxAttempts,
  'idempotencyKey', idempotencyKey, 'idemKey', idemKey, 'tenantKey', tenantKey, 'sequence', 0,
  'attempts', 0, 'progress', 'null', 'outputs', '[]', 'error', 'null', 'createdAt', NOW_S,
  'updatedAt', NOW_S, 'startedAt', '', 'finishedAt', '', 'queuedAt', NOW_S, 'availableAt', NOW_S,
  'leaseToken', '', 'leaseUntil', '', 'workerId', '', 'cancelRequested', '0', 'run', 1,
  'bullId', id .. '-1', 'idemFingerprint', fingerprint, 'retentionMs', retentionMs,
  'webhook', webhook, 'webhookUrl', webhook ~= '' and cjson.decode(webhook).url or '',
  'webhookEvents', webhookEvents, 'images', images, 'fairTag', string.format('%d', tag))
index(id, 'QUEUED', NOW)
if hold == '1' then
  redis.call('HSET', key, 'held', NOW_S)
  redis.call('ZREM', AVAILABLE, id)
  redis.call('ZADD', HELD, NOW, id)
end
redis.call('ZADD', tenantKey, 0, string.format('%015d:%s', NOW, id))
if idemKey ~= '' then redis.call('SET', idemKey, id) end
emit(id, 'added', '')
return { 'created', redis.call('HGETALL', key) }
`;

/** KEYS 12… the job's hash, its event list. ARGV 4… id. */
export const CANCEL = `
local key = KEYS[12]
local id = ARGV[4]
local status = redis.call('HGET', key, 'status')
if not status then return { 'missing' } end
if status == 'QUEUED' then
  move(id, 'QUEUED', 'CANCELLED', NOW)
  redis.call('HSET', key, 'finishedAt', NOW_S, 'availableAt', '')
  emit(id, 'cancelled', '')
  return { 'cancelled', redis.call('HGETALL', key) }
end
if status == 'RUNNING' then
  -- Still RUNNING until its worker stops: the published event is what tells the worker. Asked
  -- twice: no change, no second event.
  if redis.call('HGET', key, 'cancelRequested') ~= '1' then
    redis.call('HSET', key, 'cancelRequested', '1')
    emit(id, 'cancel-requested', '')
  end
  return { 'requested', redis.call('HGETALL', key) }
end
return { status }
`;

/** KEYS 12… the job's hash, its event list. ARGV 4… id. */
export const RETRY = `
local key = KEYS[12]
local id = ARGV[4]
local status = redis.call('HGET', key, 'status')
if not status then return { 'missing' } end
if status ~= 'FAILED' and status ~= 'CANCELLED' then return { status } end
local run = redis.call('HINCRBY', key, 'run', 1)
unindex(id, status)
redis.call('HSET', key, 'attempts', 0, 'progress', 'null', 'outputs', '[]', 'error', 'null',
  'startedAt', '', 'finishedAt', '', 'queuedAt', NOW_S, 'availableAt', NOW_S,
  'cancelRequested', '0', 'workerId', '', 'bullId', id .. '-' .. run)
index(id, 'QUEUED', NOW)
emit(id, 'retrying', '')
return { 'ok', redis.call('HGETALL', key) }
`;

/**
 * Only the shared KEYS. ARGV 4… ids. Returns flat { position, imagesAhead }… per id, { 0, 0 }
 * for a job that is not QUEUED: the rank in ':queue', and per image count n, n times the
 * members of ':queue-images:<n>' before the job's (ZLEXCOUNT: O(log N) each, no scan).
 */
export const WORK_AHEAD = `
local out = {}
local counts = redis.call('HKEYS', IMAGE_COUNTS)
for i = 4, #ARGV do
  local id = ARGV[i]
  local h = redis.call('HMGET', jobKey(id), 'status', 'priority', 'fairTag', 'createdAt')
  if h[1] ~= 'QUEUED' then
    table.insert(out, 0)
    table.insert(out, 0)
  else
    local member = queueMember(id, h[2], h[3], h[4])
    local images = 0
    for _, n in ipairs(counts) do
      images = images + tonumber(n) * redis.call('ZLEXCOUNT', imagesQueueKey(n), '-', '(' .. member)
    end
    table.insert(out, redis.call('ZRANK', QUEUE, member) + 1)
    table.insert(out, images)
  end
end
return out
`;

/**
 * KEYS 12… the job's hash, its event list. ARGV 4… id. Deletes a finished job (removeJob) and
 * publishes a live-only `deleted` event (no sequence bump, not in the event list). Returns
 * { 'deleted', the removal note }, { 'missing' }, or { status } for a job that is not finished.
 * The tenant index and idempotency key it clears are read from the job's hash.
 */
export const DELETE = `
local key = KEYS[12]
local id = ARGV[4]
local h = redis.call('HMGET', key, 'status', 'sequence', 'tenant')
if not h[1] then return { 'missing' } end
if h[1] == 'QUEUED' or h[1] == 'RUNNING' then return { h[1] } end
removeJob(id)
redis.call('PUBLISH', CHANNEL, '{"jobId":' .. cjson.encode(id) .. ',"tenant":' ..
  cjson.encode(h[3]) .. ',"type":"deleted","sequence":' .. h[2] .. ',"status":"' .. h[1] ..
  '","at":"' .. ISO .. '"}')
return { 'deleted', redis.call('HGET', REMOVED, id) }
`;
