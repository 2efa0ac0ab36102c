/**
 * The Redis engine's state changes as Lua scripts: Redis runs each one atomically, so a job's
 * fields, its indexes, the status counts, its event and the sequence bump land together even with
 * many API and worker processes. Every script takes ARGV[1] = key prefix, ARGV[2] = now (epoch
 * ms), ARGV[3] = now (ISO-8601), then its own arguments. Keys are built from the prefix inside the
 * scripts; with a hash-tagged prefix such as `{hita}` they all live in one Redis Cluster slot.
 *
 * Records are hashes whose JSON fields (params, outputs, progress, error) pass through as opaque
 * strings: Lua's cjson would round numbers to 14 digits and turn `[]` into `{}`.
 */

import type { Redis } from 'ioredis';
import { DISCARD, DISCARD_STALE, RELEASE_HELD } from './lua-held-scripts.js';
import { PRELUDE } from './lua-prelude.js';
import {
  ANNOUNCE,
  CLAIM,
  FAIL,
  FINISH,
  HEARTBEAT,
  PROGRESS,
  RELEASE,
} from './lua-worker-scripts.js';

/** ARGV 4… id, tenant, kind, model, params, priority, maxAttempts, idempotencyKey (JSON),
 * idempotency Redis key or '', tenant index key, maxQueued or '', idempotency fingerprint or '',
 * '1' to hold the job (lua-held-scripts.ts) or '', the job's own retention (ms) or ''. */
const ENQUEUE = `
local id, idemKey, fingerprint = ARGV[4], ARGV[12], ARGV[15] or ''
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
if ARGV[14] ~= '' and
  tonumber(redis.call('HGET', P .. ':counts', 'QUEUED') or '0') >= tonumber(ARGV[14]) then
  return { 'full' }
end
redis.call('HSET', jobKey(id), 'id', id, 'tenant', ARGV[5], 'kind', ARGV[6], 'model', ARGV[7],
  'params', ARGV[8], 'priority', ARGV[9], 'maxAttempts', ARGV[10], 'idempotencyKey', ARGV[11],
  'idemKey', idemKey, 'tenantKey', ARGV[13], 'sequence', 0, 'attempts', 0, 'progress', 'null',
  'outputs', '[]', 'error', 'null', 'createdAt', NOW_S, 'updatedAt', NOW_S, 'startedAt', '',
  'finishedAt', '', 'queuedAt', NOW_S, 'availableAt', NOW_S, 'leaseToken', '', 'leaseUntil', '',
  'workerId', '', 'cancelRequested', '0', 'run', 1, 'bullId', id .. '-1',
  'idemFingerprint', fingerprint, 'retentionMs', ARGV[17] or '')
index(id, 'QUEUED', NOW)
if ARGV[16] == '1' then
  redis.call('HSET', jobKey(id), 'held', NOW_S)
  redis.call('ZREM', P .. ':available', id)
  redis.call('ZADD', P .. ':held', NOW, id)
end
redis.call('ZADD', ARGV[13], 0, string.format('%015d:%s', NOW, id))
if idemKey ~= '' then redis.call('SET', idemKey, id) end
emit(id, 'added', '')
return { 'created', redis.call('HGETALL', jobKey(id)) }
`;

/** ARGV 4… id. */
const CANCEL = `
local id = ARGV[4]
local key = jobKey(id)
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

/** ARGV 4… id. */
const RETRY = `
local id = ARGV[4]
local key = jobKey(id)
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

/** ARGV 4… id. 0 when not QUEUED, else the 1-based place in claim order. */
const POSITION = `
local h = redis.call('HMGET', jobKey(ARGV[4]), 'status', 'priority', 'createdAt')
if h[1] ~= 'QUEUED' then return 0 end
return redis.call('ZRANK', P .. ':queue', queueMember(ARGV[4], h[2], h[3])) + 1
`;

/**
 * ARGV 4… queuedTtlMs or '', retentionMs, batch size. One bounded pass of housekeeping; returns
 * { changed count, BullMQ ids of expired jobs to drop… }.
 */
const SWEEP = `
local changed, drop = 0, {}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', P .. ':leases', '-inf', NOW)) do
  if endLostLease(id) then changed = changed + 1 end
end
if ARGV[4] ~= '' then
  local cutoff = NOW - tonumber(ARGV[4])
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', P .. ':queued-at', '-inf', cutoff,
      'LIMIT', 0, tonumber(ARGV[6]))) do
    move(id, 'QUEUED', 'EXPIRED', NOW)
    redis.call('HSET', jobKey(id), 'finishedAt', NOW_S, 'availableAt', '')
    emit(id, 'expired', '')
    table.insert(drop, redis.call('HGET', jobKey(id), 'bullId'))
    changed = changed + 1
  end
end
-- The queue's retention, then jobs that asked for less (':expiring' is scored by their end).
for _, due in ipairs({ { ':finished', NOW - tonumber(ARGV[5]) }, { ':expiring', NOW } }) do
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', P .. due[1], '-inf', due[2],
      'LIMIT', 0, tonumber(ARGV[6]))) do
    removeJob(id)
    changed = changed + 1
  end
end
return { changed, unpack(drop) }
`;

/**
 * ARGV 4… id. Deletes a finished job (removeJob) and publishes a live-only `deleted` event (no
 * sequence bump, not in the event list). Returns { 'deleted', sequence, status, the removal
 * note }, { 'missing' }, or { status } for a job that is not finished.
 */
const DELETE = `
local id = ARGV[4]
local h = redis.call('HMGET', jobKey(id), 'status', 'sequence', 'tenant')
if not h[1] then return { 'missing' } end
if h[1] == 'QUEUED' or h[1] == 'RUNNING' then return { h[1] } end
removeJob(id)
redis.call('PUBLISH', P .. ':events', '{"jobId":' .. cjson.encode(id) .. ',"tenant":' ..
  cjson.encode(h[3]) .. ',"type":"deleted","sequence":' .. h[2] .. ',"status":"' .. h[1] ..
  '","at":"' .. ISO .. '"}')
return { 'deleted', redis.call('HGET', P .. ':removed', id) }
`;

/**
 * ARGV 4… BullMQ key prefix (\`<prefix>:<queue>:\`), min age ms. Jobs that should be in BullMQ
 * but are not (a process died between our script and its BullMQ call): QUEUED ones, and RUNNING
 * ones whose lease is long gone. Returns flat { id, bullId, priority, kind, availableAt }….
 */
const ORPHANS = `
local found = {}
local function check(id)
  local h = redis.call('HMGET', jobKey(id), 'bullId', 'priority', 'kind', 'availableAt',
    'updatedAt', 'held')
  -- A held job is kept from BullMQ on purpose until it is released.
  if h[1] and (not h[6] or h[6] == '') and tonumber(h[5]) <= NOW - tonumber(ARGV[5]) and
      redis.call('EXISTS', ARGV[4] .. h[1]) == 0 then
    table.insert(found, id)
    table.insert(found, h[1])
    table.insert(found, h[2])
    table.insert(found, h[3])
    table.insert(found, h[4] ~= '' and h[4] or NOW_S)
  end
end
local cutoff = NOW - tonumber(ARGV[5])
-- Oldest first and bounded, so a huge backlog never blocks Redis for long.
for _, id in ipairs(redis.call('ZRANGEBYSCORE', P .. ':queued-at', '-inf', cutoff,
    'LIMIT', 0, 1000)) do
  check(id)
end
for _, id in ipairs(redis.call('ZRANGEBYSCORE', P .. ':leases', '-inf', cutoff,
    'LIMIT', 0, 1000)) do
  check(id)
end
return found
`;

/** Script name → Lua source, for ioredis `defineCommand` (EVALSHA with EVAL fallback). */
export const LUA_SCRIPTS = {
  hitaEnqueue: PRELUDE + ENQUEUE,
  hitaClaim: PRELUDE + CLAIM,
  hitaHeartbeat: PRELUDE + HEARTBEAT,
  hitaProgress: PRELUDE + PROGRESS,
  hitaFinish: PRELUDE + FINISH,
  hitaFail: PRELUDE + FAIL,
  hitaRelease: PRELUDE + RELEASE,
  hitaAnnounce: PRELUDE + ANNOUNCE,
  hitaCancel: PRELUDE + CANCEL,
  hitaRetry: PRELUDE + RETRY,
  hitaPosition: PRELUDE + POSITION,
  hitaSweep: PRELUDE + SWEEP,
  hitaDelete: PRELUDE + DELETE,
  hitaOrphans: PRELUDE + ORPHANS,
  hitaReleaseHeld: PRELUDE + RELEASE_HELD,
  hitaDiscard: PRELUDE + DISCARD,
  hitaDiscardStale: PRELUDE + DISCARD_STALE,
} as const;

/** The name of one of the scripts above. */
export type LuaScriptName = keyof typeof LUA_SCRIPTS;

/** A script's reply: an outcome word, then what that outcome carries. */
export type ScriptReply = [string, ...unknown[]];

/**
 * Runs the scripts on one connection, adding the common arguments (prefix, now). ioredis
 * `defineCommand` sends EVALSHA and falls back to EVAL once per connection, so a Redis restart
 * that flushed its script cache costs nothing.
 */
export class LuaRunner {
  private readonly commands: Record<string, (...args: unknown[]) => Promise<unknown>>;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly clock: () => number,
  ) {
    for (const [name, lua] of Object.entries(LUA_SCRIPTS)) {
      redis.defineCommand(name, { numberOfKeys: 0, lua });
    }
    this.commands = redis as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
  }

  /** The raw reply of `name`. */
  run(name: LuaScriptName, args: (string | number)[]): Promise<unknown> {
    const now = this.clock();
    const command = this.commands[name] as (...args: unknown[]) => Promise<unknown>;
    return command.call(this.redis, this.prefix, now, new Date(now).toISOString(), ...args);
  }

  /** The reply of a script that answers `{ outcome, … }`. */
  async reply(name: LuaScriptName, args: (string | number)[]): Promise<ScriptReply> {
    return (await this.run(name, args)) as ScriptReply;
  }
}
