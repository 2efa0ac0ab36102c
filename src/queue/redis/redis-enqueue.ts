/** The Redis queue's enqueue: one Lua script writes the record, then BullMQ gets the run. */
import { ownRetention, validateEnqueue } from '../enqueue-checks.js';
import { imagesOf, tagCost } from '../fair-scheduling.js';
import type { JobIdGenerator } from '../job-ids.js';
import type { EnqueueInput, JobRecord } from '../job-queue.js';
import type { ResolvedTunables } from '../queue-tunables.js';
import type { BullDispatcher } from './bull-dispatcher.js';
import type { LuaRunner } from './lua-scripts.js';
import { hashToRecord, pairsToHash, type RedisKeys } from './redis-records.js';
import { expectOutcome, ScriptOutcome } from './script-outcomes.js';

export interface RedisEnqueueParts {
  lua: LuaRunner;
  bull: BullDispatcher;
  keys: RedisKeys;
  tunables: ResolvedTunables;
  ids: JobIdGenerator;
}

/**
 * Creates the job (or finds the one its idempotency key names) and dispatches it.
 * @throws AppError QUEUE_FULL, CONFLICT (idempotency key reused with another input)
 */
export async function enqueueOnRedis(
  parts: RedisEnqueueParts,
  input: EnqueueInput,
): Promise<{ job: JobRecord; created: boolean }> {
  const { lua, bull, keys, tunables, ids } = parts;
  const { priority, maxAttempts } = validateEnqueue(input, tunables.defaultMaxAttempts);
  const { tenant, idempotencyKey } = input;
  const id = ids.next(tunables.clock());
  const images = imagesOf(input.params);
  const ownKeys = [...lua.jobKeys(id), keys.tenant(tenant)];
  if (idempotencyKey !== undefined) ownKeys.push(keys.idempotency(tenant, idempotencyKey));
  const [word, pairs] = await lua.reply('hitaEnqueue', ownKeys, [
    id,
    tenant,
    input.kind,
    JSON.stringify(input.model),
    JSON.stringify(input.params),
    priority,
    maxAttempts,
    JSON.stringify(idempotencyKey ?? null),
    tunables.maxQueued ?? '',
    input.idempotencyFingerprint ?? '',
    input.hold ? '1' : '',
    ownRetention(input.retentionMs, tunables.retentionMs) ?? '',
    input.webhook ? JSON.stringify(input.webhook) : '',
    input.webhook ? `,${input.webhook.events.join(',')},` : '',
    images,
    tagCost(images, tenant, tunables.tenantWeights),
    tunables.scheduling,
    tunables.tenantMaxQueued ?? '',
  ]);
  const outcome = expectOutcome(word, [ScriptOutcome.Created, ScriptOutcome.Existing], {
    jobId: id,
    change: 'enqueue',
    maxQueued: tunables.maxQueued,
    tenantMaxQueued: tunables.tenantMaxQueued,
    idempotencyKey,
  });
  const hash = pairsToHash(pairs);
  // Should this process die right here, the sweep finds the orphan and dispatches it. A held
  // job reaches BullMQ only when released.
  const created = outcome === ScriptOutcome.Created;
  if (created && !input.hold) await bull.addRun(hash, 0);
  return { job: hashToRecord(hash), created };
}
