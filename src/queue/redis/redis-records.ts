/** Key names of the Redis engine and the mapping of its job hashes to the contract's types. */
import type {
  JobEvent,
  JobFailure,
  JobKind,
  JobParams,
  JobProgress,
  JobRecord,
  JobStatus,
  RemovedJob,
  WebhookSpec,
} from '../job-queue.js';
import { PRIORITY_LIMIT } from '../enqueue-checks.js';
import { isoOrNull } from '../job-shapes.js';

/** BullMQ's queue name under our prefix: its keys are `<prefix>:jobs:…`. */
export const BULL_QUEUE_NAME = 'jobs';

/**
 * Our keys. Tenant and idempotency key are URI-encoded so that a `:` inside one cannot make two
 * different (tenant, key) pairs collide.
 */
export function redisKeys(prefix: string) {
  return {
    job: (id: string) => `${prefix}:job:${id}`,
    events: (id: string) => `${prefix}:events:${id}`,
    tenant: (tenant: string) => `${prefix}:tenant:${encodeURIComponent(tenant)}`,
    idempotency: (tenant: string, key: string) =>
      `${prefix}:idem:${encodeURIComponent(tenant)}:${encodeURIComponent(key)}`,
    /** QUEUED jobs in claim order (members `queueMember`, lua-prelude.ts; all scored 0). */
    queue: `${prefix}:queue`,
    /** QUEUED jobs by when they were (re)queued: the queued TTL and the orphan check. */
    queuedAt: `${prefix}:queued-at`,
    /** QUEUED jobs by the time they become claimable (backoff); held jobs are not in it. */
    available: `${prefix}:available`,
    /** Held jobs (`EnqueueInput.hold`) by when they were enqueued. */
    held: `${prefix}:held`,
    /** RUNNING jobs by when their lease ends. */
    leases: `${prefix}:leases`,
    /** Finished jobs by when they finished (the queue's retention). */
    finished: `${prefix}:finished`,
    /** Finished jobs with their own shorter retention, by when it ends. */
    expiring: `${prefix}:expiring`,
    /** Jobs per status: a hash status → count. */
    counts: `${prefix}:counts`,
    /** Notes of deleted jobs (JobRemovals): a hash id → JSON, and a ZSET by removal time. */
    removed: `${prefix}:removed`,
    removedAt: `${prefix}:removed-at`,
    /** The webhook outbox: entry ids by when each is due (lua-prelude.ts names the rest). */
    outbox: `${prefix}:outbox`,
    outboxEntry: (entryId: string) => `${prefix}:outbox:${entryId}`,
    jobOutbox: (id: string) => `${prefix}:outbox-of:${id}`,
    webhookLog: (id: string) => `${prefix}:webhook-log:${id}`,
    /** Live workers: a ZSET of worker ids scored by their last announce (epoch ms). */
    workers: `${prefix}:workers`,
    /** Workers' throughput figures: a hash worker id → JSON (throughput-board.ts). */
    throughput: `${prefix}:throughput`,
    /** The pub/sub channel of every event and the work signal (not a key). */
    channel: `${prefix}:events`,
    /** Where BullMQ keeps a job's hash: `<bullPrefix><bullId>`. */
    bullJobPrefix: `${prefix}:${BULL_QUEUE_NAME}:`,
  };
}

/** The key names of one prefix. */
export type RedisKeys = ReturnType<typeof redisKeys>;

/**
 * KEYS[1…11] of every script, in the order lua-prelude.ts names them (QUEUE … WORKERS): the
 * indexes, counts and notes that the prelude's helpers keep in step with the job hashes.
 */
export function sharedKeys(keys: RedisKeys): readonly string[] {
  return [
    keys.queue,
    keys.queuedAt,
    keys.available,
    keys.held,
    keys.leases,
    keys.finished,
    keys.expiring,
    keys.counts,
    keys.removed,
    keys.removedAt,
    keys.workers,
  ];
}

/** The tenant index member: `createdAt` (15 digits) and id, so lexical order is list order. */
export function tenantMember(createdAtMs: number, id: string): string {
  return `${String(createdAtMs).padStart(15, '0')}:${id}`;
}

/**
 * BullMQ serves priority 1 first and caps priorities at 2²¹; ours are "higher first" in
 * [−10⁶, 10⁶], which maps into [48 576, 2 048 576]. 0 is avoided: BullMQ would treat it as
 * "no priority" and serve it before every prioritised job.
 */
export function toBullPriority(priority: number): number {
  return PRIORITY_LIMIT + 48_576 - priority;
}

/** A job hash as Redis scripts return it: a flat [field, value, …] array. */
export function pairsToHash(pairs: unknown): Record<string, string> {
  const hash: Record<string, string> = {};
  if (!Array.isArray(pairs)) return hash;
  for (let i = 0; i + 1 < pairs.length; i += 2) hash[String(pairs[i])] = String(pairs[i + 1]);
  return hash;
}

function msOrNull(value: string | undefined): number | null {
  return value === undefined || value === '' ? null : Number(value);
}

/** The contract's record from a job hash; internal fields (lease, BullMQ id…) stay behind. */
export function hashToRecord(hash: Record<string, string>): JobRecord {
  const json = <T>(field: string): T => JSON.parse(hash[field] ?? 'null') as T;
  const outputs = json<JobRecord['outputs'] | null>('outputs');
  return {
    id: hash.id ?? '',
    tenant: hash.tenant ?? '',
    kind: hash.kind as JobKind,
    status: hash.status as JobStatus,
    sequence: Number(hash.sequence),
    model: json<string | null>('model'),
    params: json<JobParams>('params'),
    priority: Number(hash.priority),
    idempotencyKey: json<string | null>('idempotencyKey'),
    attempts: Number(hash.attempts),
    maxAttempts: Number(hash.maxAttempts),
    workerId: hash.workerId ? hash.workerId : null,
    progress: json<JobProgress | null>('progress'),
    outputs: Array.isArray(outputs) ? outputs : [],
    error: json<JobFailure | null>('error'),
    // Pending only while RUNNING: an ended job keeps the flag, but its status already tells.
    cancelRequested: hash.status === 'RUNNING' && hash.cancelRequested === '1',
    retentionMs: msOrNull(hash.retentionMs),
    webhook: hash.webhook ? (JSON.parse(hash.webhook) as WebhookSpec) : null,
    createdAt: new Date(Number(hash.createdAt)).toISOString(),
    updatedAt: new Date(Number(hash.updatedAt)).toISOString(),
    startedAt: isoOrNull(msOrNull(hash.startedAt)),
    finishedAt: isoOrNull(msOrNull(hash.finishedAt)),
  };
}

/** A removal note as removeJob (lua-prelude.ts) wrote it. */
export function parseRemovedJob(text: string): RemovedJob {
  const note = JSON.parse(text) as RemovedJob;
  return { ...note, outputs: Array.isArray(note.outputs) ? note.outputs : [] };
}

/** An event as the scripts wrote it (already the contract's JSON shape). */
export function parseEvent(text: string): JobEvent {
  return JSON.parse(text) as JobEvent;
}
