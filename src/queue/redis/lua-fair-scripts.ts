/**
 * The claim's choice of job on Redis (conventions in lua-prelude.ts). BullMQ hands out a
 * delivery; this picks which QUEUED job it serves, from our own claim order (':queue', whose
 * members carry the fair tag: fair-scheduling.ts), skipping tenants at HITA_TENANT_MAX_RUNNING.
 * The claim script then swaps deliveries between the delivered job and the chosen one, so each
 * QUEUED job keeps exactly one waiting delivery and BullMQ's own order stops mattering.
 */

/**
 * Defines `pickJob(maxRunning)`: the id of the best due, unheld QUEUED job whose tenant is below
 * `maxRunning` (nil: no cap), or nil. It reads the head of ':queue' (SCAN members: jobs in a
 * backoff or held sit there too, so a few are skipped); under a cap, or when that head held
 * nothing due, the head of each waiting tenant's ':tq:<tenant>' instead, so a capped tenant's
 * backlog is never walked. O(tenants · SCAN) at worst, O(SCAN) in the common case.
 * `pickJobOr(id, maxRunning)` falls back to the delivered job.
 */
export const PICK_FAIR = `
local SCAN = 16
local function memberId(member) return string.match(member, '^%d+:%d+:%d+:(.*)$') end
local function isDue(id)
  local h = redis.call('HMGET', jobKey(id), 'availableAt', 'held', 'tenant')
  if h[2] and h[2] ~= '' then return false, h[3] end
  local at = tonumber(h[1])
  return at ~= nil and at <= NOW, h[3]
end
local function isBelowCap(tenant, maxRunning)
  return maxRunning == nil or tonumber(redis.call('HGET', TENANT_RUNNING, tenant) or '0') < maxRunning
end
-- The first due member of one sorted set whose tenant is below the cap, or nil.
local function firstDue(zkey, maxRunning)
  for _, member in ipairs(redis.call('ZRANGE', zkey, 0, SCAN - 1)) do
    local id = memberId(member)
    local due, tenant = isDue(id)
    if due and isBelowCap(tenant, maxRunning) then return member end
  end
  return nil
end
local function pickJob(maxRunning)
  local head = firstDue(QUEUE, maxRunning)
  if head then return memberId(head) end
  local best = nil
  local waiting = redis.call('HKEYS', TENANT_QUEUED)
  for _, tenant in ipairs(waiting) do
    if isBelowCap(tenant, maxRunning) then
      local member = firstDue(tenantQueueKey(tenant), nil)
      if member and (best == nil or member < best) then best = member end
    end
  end
  if best then return memberId(best) end
  return nil
end
-- pickJob, or else the delivered job itself when it is due and its tenant below the cap: the
-- heads read above may all be held or in a backoff, and the delivery must not wait for them.
local function pickJobOr(deliveredId, maxRunning)
  local chosen = pickJob(maxRunning)
  if chosen then return chosen end
  local due, tenant = isDue(deliveredId)
  if due and isBelowCap(tenant, maxRunning) then return deliveredId end
  return nil
end
`;
