/**
 * The Redis engine's scripts for worker calls; conventions in lua-prelude.ts. The single-job
 * scripts take KEYS 12… the job's hash and its event list, and name their ARGV on their first
 * lines.
 */

/**
 * ARGV 4… id, BullMQ job id of the delivery, token, workerId, leaseMs, graceMs, 'fair' or
 * 'fifo', the tenants' most RUNNING jobs or '', BullMQ's job key prefix. A delivery of a QUEUED
 * job serves the job `pickJobOr` chooses (lua-fair-scripts.ts): when that is another job, the two
 * swap deliveries (record fields and BullMQ's `data`), so the chosen one runs under this
 * delivery's lock and the other keeps the chosen one's waiting delivery. { 'wait' } when every
 * due job's tenant is at its cap: the caller hands the delivery back.
 */
export const CLAIM = `
local key = KEYS[12]
local id, bullId, token, workerId = ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local leaseMs, graceMs = tonumber(ARGV[8]), tonumber(ARGV[9])
local scheduling, maxRunning, bullPrefix = ARGV[10], tonumber(ARGV[11]), ARGV[12]
-- The delivery's job as BullMQ holds it now: a swap by another claim may have rewritten it
-- after this caller fetched the delivery.
local data = redis.call('HGET', bullPrefix .. bullId, 'data')
local owner = data and cjson.decode(data).id
if owner and owner ~= id then id, key = owner, jobKey(owner) end
local h = redis.call('HMGET', key, 'status', 'bullId', 'leaseUntil')
local status = h[1]
-- Deliveries the record does not expect (cancelled, finished, superseded) are dropped.
if not status or h[2] ~= bullId then return { 'stale' } end
if status == 'RUNNING' then
  -- BullMQ hands a RUNNING job out again only after its lock expired: the worker is lost.
  if (tonumber(h[3]) or 0) > NOW + graceMs then return { 'stale' } end
  local ended = endLostLease(id)
  if ended then return { 'ended', ended } end
  -- It runs again: first the event that says why, as if it went back to the queue and out again
  -- (the record itself moves RUNNING → RUNNING below, its status indexes untouched).
  local a = redis.call('HMGET', key, 'attempts', 'maxAttempts')
  emit(id, 'retrying', ',"error":' .. workerLostRetry(a[1], a[2]), 'QUEUED')
elseif status ~= 'QUEUED' then
  return { 'stale' }
else
  local chosen = pickJobOr(id, maxRunning)
  if not chosen then return { 'wait' } end
  if chosen ~= id then
    local other = redis.call('HGET', jobKey(chosen), 'bullId')
    redis.call('HSET', jobKey(chosen), 'bullId', bullId)
    redis.call('HSET', key, 'bullId', other)
    redis.call('HSET', bullPrefix .. bullId, 'data', cjson.encode({ id = chosen }))
    -- A delivery lost to a crash is not created here: the orphan sweep dispatches it again.
    if redis.call('EXISTS', bullPrefix .. other) == 1 then
      redis.call('HSET', bullPrefix .. other, 'data', cjson.encode({ id = id }))
    end
    id, key = chosen, jobKey(chosen)
  end
  if scheduling == 'fair' then
    local tag = tonumber(redis.call('HGET', key, 'fairTag') or '0')
    if tag > tonumber(redis.call('GET', VIRTUAL_TIME) or '0') then
      redis.call('SET', VIRTUAL_TIME, string.format('%d', tag))
    end
  end
end
local leaseUntil = NOW + leaseMs
move(id, status, 'RUNNING', leaseUntil)
redis.call('HINCRBY', key, 'attempts', 1)
redis.call('HSET', key, 'leaseToken', token, 'leaseUntil', string.format('%d', leaseUntil),
  'workerId', workerId, 'startedAt', NOW_S, 'progress', 'null', 'error', 'null', 'availableAt', '')
emit(id, 'active', '')
return { 'claimed', redis.call('HGETALL', key) }
`;

/**
 * KEYS 12… the job's hash (no event list: a heartbeat emits nothing). ARGV 4… id, token,
 * leaseMs, '1' to renew or '0' when BullMQ's lock is gone.
 */
export const HEARTBEAT = `
local key = KEYS[12]
local id, token, leaseMs, renew = ARGV[4], ARGV[5], tonumber(ARGV[6]), ARGV[7]
local h = redis.call('HMGET', key, 'status', 'leaseToken', 'cancelRequested', 'bullId')
if not h[1] then return { 0, 0, '' } end
local cancel = (h[1] == 'CANCELLED' or h[3] == '1') and 1 or 0
if h[1] ~= 'RUNNING' or h[2] ~= token then return { 0, cancel, h[4] } end
local leaseUntil = NOW + leaseMs
if renew ~= '1' then leaseUntil = 0 end
redis.call('HSET', key, 'leaseUntil', string.format('%d', leaseUntil))
redis.call('ZADD', LEASES, leaseUntil, id)
return { renew == '1' and 1 or 0, cancel, h[4] }
`;

/** ARGV 4… id, token, progress JSON. */
export const PROGRESS = `
local key = KEYS[12]
local id, token, progress = ARGV[4], ARGV[5], ARGV[6]
local owned = leased(id, token)
if owned ~= 'ok' then return { owned } end
redis.call('HSET', key, 'progress', progress)
emit(id, 'progress', ',"progress":' .. progress)
return { 'ok' }
`;

/**
 * ARGV 4… id, token, outcome ('completed' | 'cancelled'), outputs JSON or ''. A cancel requested
 * before a 'completed' call wins: the job ends CANCELLED and the outputs are not kept.
 */
export const FINISH = `
local key = KEYS[12]
local id, token, outcome, outputs = ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local owned = leased(id, token)
if owned ~= 'ok' then return { owned } end
if redis.call('HGET', key, 'cancelRequested') == '1' then outcome = 'cancelled' end
if outcome == 'completed' then
  finishRunning(id, 'SUCCEEDED', 'null')
  redis.call('HSET', key, 'outputs', outputs)
else
  finishRunning(id, 'CANCELLED', 'null')
end
emit(id, outcome, '')
return { 'ok', redis.call('HGETALL', key) }
`;

/**
 * ARGV 4… id, token. Hands a RUNNING job back: QUEUED at once with the claim's attempt undone;
 * its BullMQ delivery (same bullId) goes back to the head of its priority. A requested
 * cancellation ends it instead. Returns { outcome, hash, bullId }.
 */
export const RELEASE = `
local key = KEYS[12]
local id, token = ARGV[4], ARGV[5]
local owned = leased(id, token)
if owned ~= 'ok' then return { owned } end
local h = redis.call('HMGET', key, 'cancelRequested', 'bullId', 'attempts')
if h[1] == '1' then
  finishRunning(id, 'CANCELLED', 'null')
  emit(id, 'cancelled', '')
  return { 'cancelled', redis.call('HGETALL', key), h[2] }
end
local attempts = tonumber(h[3]) - 1
redis.call('HSET', key, 'attempts', attempts, 'progress', 'null', 'error', 'null',
  'queuedAt', NOW_S, 'availableAt', NOW_S, 'leaseToken', '', 'leaseUntil', '', 'workerId', '')
if attempts == 0 then redis.call('HSET', key, 'startedAt', '') end
move(id, 'RUNNING', 'QUEUED', NOW)
emit(id, 'retrying', '')
return { 'released', redis.call('HGETALL', key), h[2] }
`;

/**
 * ARGV 4… id, token, failure JSON, '1' when retryable, backoff ms. Returns { outcome
 * ('retrying' | 'failed' | 'cancelled'), hash, bullId of the claim's delivery }.
 */
export const FAIL = `
local key = KEYS[12]
local id, token, failure, retryable, backoffMs = ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8]
local owned = leased(id, token)
if owned ~= 'ok' then return { owned } end
local h = redis.call('HMGET', key, 'attempts', 'maxAttempts', 'cancelRequested', 'bullId')
-- A cancellation that was asked for wins over another try and over the failure.
if h[3] == '1' then
  finishRunning(id, 'CANCELLED', 'null')
  emit(id, 'cancelled', '')
  return { 'cancelled', redis.call('HGETALL', key), h[4] }
end
if retryable == '1' and tonumber(h[1]) < tonumber(h[2]) then
  local run = redis.call('HINCRBY', key, 'run', 1)
  redis.call('HSET', key, 'error', failure, 'queuedAt', NOW_S, 'availableAt',
    string.format('%d', NOW + tonumber(backoffMs)), 'leaseToken', '', 'leaseUntil', '',
    'workerId', '', 'bullId', id .. '-' .. run)
  move(id, 'RUNNING', 'QUEUED', NOW)
  emit(id, 'retrying', ',"error":' .. failure)
  return { 'retrying', redis.call('HGETALL', key), h[4] }
end
finishRunning(id, 'FAILED', failure)
emit(id, 'failed', ',"error":' .. failure)
return { 'failed', redis.call('HGETALL', key), h[4] }
`;

/**
 * Only the shared KEYS (WORKERS). ARGV 4… workerId, worker TTL ms, '1' to announce or '0' to
 * retire. The workers ZSET scores each id by its last announce; ids silent for longer than the
 * TTL are forgotten on the way.
 */
export const ANNOUNCE = `
local workerId, ttlMs, isLive = ARGV[4], tonumber(ARGV[5]), ARGV[6]
redis.call('ZREMRANGEBYSCORE', WORKERS, '-inf', NOW - ttlMs)
if isLive == '1' then
  redis.call('ZADD', WORKERS, NOW, workerId)
else
  redis.call('ZREM', WORKERS, workerId)
end
return 1
`;
