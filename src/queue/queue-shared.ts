/**
 * What both queue engines share so that they behave identically: tunables and their defaults,
 * input validation, job ids, list cursors, the failure written when a worker is lost, and the
 * errors for illegal state changes. Nothing here touches SQLite or Redis.
 */
import { randomBytes } from 'node:crypto';
import { AppError, MAX_ECHO_CHARS, errors, requireIntegerInRange } from '../errors.js';
import type { EnqueueInput, JobEvent, JobFailure, JobStatus, QueueStats } from './job-queue.js';

/** Tunables that both engines accept with the same meaning. */
export interface JobQueueTunables {
  /** Attempts of a job enqueued without `maxAttempts`. @default 3 */
  defaultMaxAttempts?: number;
  /** Most QUEUED jobs the queue holds; enqueueing beyond it throws QUEUE_FULL. @default unlimited */
  maxQueued?: number;
  /**
   * Delay before a retryable failure runs again; `attempt` is the 1-based attempt that failed.
   * @default 500·2^(attempt−1) ms, capped at 30 s
   */
  retryBackoffMs?: (attempt: number) => number;
  /** Finished jobs and their events are deleted this long after they finished. @default 7 days */
  retentionMs?: number;
  /** QUEUED jobs that waited this long since they were (re)queued become EXPIRED. @default never */
  queuedTtlMs?: number;
  /** How often retention, expiry and lost-worker sweeps run (also once at start). @default 60 s */
  sweepIntervalMs?: number;
  /**
   * Held jobs (`EnqueueInput.hold`) neither released nor discarded this long after they were
   * enqueued are discarded by the sweep: the operation that held them died with its process.
   * @default 10 minutes
   */
  heldTtlMs?: number;
  /**
   * A worker counts as live in `stats().workers` this long after its last `announce`.
   * @default 15 s (a JobRunner announces every 5 s)
   */
  workerTtlMs?: number;
  /** Milliseconds since the epoch; injectable for tests. @default Date.now */
  clock?: () => number;
  /**
   * Told about trouble the queue survives (a failed sweep, a risky Redis setting); the return
   * value is ignored. @default process.emitWarning
   */
  onWarning?: (message: string, cause?: unknown) => void;
}

/** The tunables with every default applied. */
export type ResolvedTunables = Required<Omit<JobQueueTunables, 'maxQueued' | 'queuedTtlMs'>> &
  Pick<JobQueueTunables, 'maxQueued' | 'queuedTtlMs'>;

/** `defaultMaxAttempts` when not given. */
export const DEFAULT_MAX_ATTEMPTS = 3;
/** `retentionMs` when not given: 7 days. */
export const DEFAULT_RETENTION_MS = 7 * 24 * 60 * 60 * 1000;
/** `sweepIntervalMs` when not given: 1 minute. */
export const DEFAULT_SWEEP_INTERVAL_MS = 60_000;
/** `heldTtlMs` when not given: 10 minutes. */
export const DEFAULT_HELD_TTL_MS = 10 * 60_000;
/** `workerTtlMs` when not given: three missed announces of a JobRunner. */
export const DEFAULT_WORKER_TTL_MS = 15_000;
const MAX_BACKOFF_MS = 30_000;

/** Our priorities are integers in [−PRIORITY_LIMIT, PRIORITY_LIMIT] so BullMQ's 2²¹ range fits. */
export const PRIORITY_LIMIT = 1_000_000;

/** 500 ms, 1 s, 2 s, … capped at 30 s. */
export function defaultRetryBackoffMs(attempt: number): number {
  return Math.min(500 * 2 ** Math.max(0, attempt - 1), MAX_BACKOFF_MS);
}

/** Applies the documented defaults in one place. */
export function resolveTunables(tunables: JobQueueTunables): ResolvedTunables {
  const {
    defaultMaxAttempts = DEFAULT_MAX_ATTEMPTS,
    maxQueued,
    retryBackoffMs = defaultRetryBackoffMs,
    retentionMs = DEFAULT_RETENTION_MS,
    queuedTtlMs,
    sweepIntervalMs = DEFAULT_SWEEP_INTERVAL_MS,
    heldTtlMs = DEFAULT_HELD_TTL_MS,
    workerTtlMs = DEFAULT_WORKER_TTL_MS,
    clock = Date.now,
    onWarning = (message: string) => process.emitWarning(message, 'JobQueueWarning'),
  } = tunables;
  return {
    defaultMaxAttempts,
    maxQueued,
    retryBackoffMs,
    retentionMs,
    queuedTtlMs,
    sweepIntervalMs,
    heldTtlMs,
    workerTtlMs,
    clock,
    onWarning,
  };
}

/**
 * Checks what the engines store as numbers and returns the effective priority and attempts.
 * @throws AppError BAD_USER_INPUT
 */
export function validateEnqueue(
  input: EnqueueInput,
  defaultMaxAttempts: number,
): { priority: number; maxAttempts: number } {
  const priority = requireIntegerInRange(
    'priority',
    input.priority ?? 0,
    -PRIORITY_LIMIT,
    PRIORITY_LIMIT,
  );
  const maxAttempts = requireIntegerInRange(
    'maxAttempts',
    input.maxAttempts ?? defaultMaxAttempts,
    1,
    Number.MAX_SAFE_INTEGER,
  );
  if (input.tenant.length === 0) {
    throw errors.badInput('tenant', 'expected a non-empty tenant');
  }
  if (input.retentionMs !== undefined) {
    requireIntegerInRange('retentionMs', input.retentionMs, 1, Number.MAX_SAFE_INTEGER);
  }
  return { priority, maxAttempts };
}

let lastIdMs = -1;
let idCounter = 0;

/**
 * A UUIDv7-shaped id (RFC 9562 §5.7) whose 12 `rand_a` bits count jobs within a millisecond, so
 * ids made by one process sort like their creation order; `(createdAt, id)` list order then
 * matches enqueue order even for jobs created in the same millisecond.
 */
export function newJobId(nowMs: number): string {
  let ms = Math.max(Math.floor(nowMs), lastIdMs);
  if (ms === lastIdMs) {
    idCounter += 1;
    if (idCounter > 0xfff) {
      ms += 1;
      idCounter = 0;
    }
  } else {
    idCounter = 0;
  }
  lastIdMs = ms;
  const bytes = randomBytes(16);
  bytes.writeUIntBE(ms, 0, 6);
  bytes[6] = 0x70 | (idCounter >> 8);
  bytes[7] = idCounter & 0xff;
  bytes[8] = 0x80 | ((bytes[8] ?? 0) & 0x3f);
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** A lease token: unguessable, so a stale worker cannot forge a newer claim. */
export function newLeaseToken(): string {
  return randomBytes(16).toString('base64url');
}

/** The list cursor: base64url of `[createdAtMs, id]`, the same for both engines. */
export function encodeCursor(createdAtMs: number, id: string): string {
  return Buffer.from(JSON.stringify([createdAtMs, id])).toString('base64url');
}

/** @throws AppError BAD_USER_INPUT when the cursor was not made by `encodeCursor`. */
export function decodeCursor(cursor: string): { createdAtMs: number; id: string } {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (
      Array.isArray(value) &&
      value.length === 2 &&
      Number.isInteger(value[0]) &&
      typeof value[1] === 'string'
    ) {
      return { createdAtMs: value[0] as number, id: value[1] };
    }
  } catch {
    // Falls through to the uniform error below: a cursor is opaque, its parse error is noise.
  }
  throw errors.badInput('after', 'expected a cursor returned by a previous page', {
    received: cursor.slice(0, MAX_ECHO_CHARS),
  });
}

/** @throws AppError BAD_USER_INPUT */
export function validatePageSize(first: number): void {
  requireIntegerInRange('first', first, 1, 1000);
}

/** The failure of a job whose last attempt's worker stopped renewing its lease. */
export function workerLostFailure(attempts: number, maxAttempts: number): JobFailure {
  return {
    code: 'WORKER_LOST',
    message: `the worker stopped renewing its lease; ${attempts} of ${maxAttempts} attempts used`,
    retryable: false,
  };
}

/**
 * The reason on the `retrying` event of a job whose worker stopped renewing its lease and that
 * runs again (attempts left); lua-prelude.ts writes the same text.
 */
export function workerLostRetry(attempts: number, maxAttempts: number): JobFailure {
  return {
    code: 'WORKER_LOST',
    message: `the worker stopped renewing its lease; running it again (${attempts} of ${maxAttempts} attempts used)`,
    retryable: true,
  };
}

/** QUEUE_FULL, retryable: the same request may succeed once workers drain the queue. */
export function queueFull(maxQueued: number): AppError {
  return errors.queueFull(maxQueued);
}

/** CONFLICT: the idempotency key was used before with other parameters. */
export function idempotencyConflict(idempotencyKey: string): AppError {
  return errors.conflict(
    `idempotency key ${JSON.stringify(idempotencyKey)} was already used with different parameters; ` +
      'send the same input to get that job, or use a new key',
    { idempotencyKey },
  );
}

/** A worker's call with a token that no longer owns the job. */
export function leaseLost(id: string, status: JobStatus): AppError {
  return errors.conflict(
    `job ${id} is not leased by this claim (status ${status}); the lease expired or was reclaimed`,
    { id, status },
  );
}

/** CONFLICT: only QUEUED and RUNNING jobs can be cancelled. */
export function cannotCancel(id: string, status: JobStatus): AppError {
  return errors.conflict(
    `job ${id} cannot be cancelled: expected QUEUED or RUNNING, got ${status}`,
    {
      id,
      status,
    },
  );
}

/** CONFLICT: only FAILED and CANCELLED jobs can be retried. */
export function cannotRetry(id: string, status: JobStatus): AppError {
  return errors.conflict(
    `job ${id} cannot be retried: expected FAILED or CANCELLED, got ${status}`,
    {
      id,
      status,
    },
  );
}

/**
 * What an engine stores as a job's own retention: null when it asks for none or for at least
 * the queue's (the queue's then applies, and stays the one setting that can shorten it).
 */
export function ownRetention(asked: number | undefined, queueRetentionMs: number): number | null {
  return asked === undefined || asked >= queueRetentionMs ? null : asked;
}

/** CONFLICT: only finished jobs can be deleted; a QUEUED or RUNNING one is cancelled first. */
export function cannotDelete(id: string, status: JobStatus): AppError {
  return errors.conflict(
    `job ${id} cannot be deleted: expected SUCCEEDED, FAILED, CANCELLED or EXPIRED, got ${status}; cancel it first`,
    { id, status },
  );
}

/** The live `deleted` notification of a job just deleted: its last sequence and status. */
export function deletedEvent(
  job: { id: string; tenant: string; sequence: number; status: JobStatus },
  nowMs: number,
): JobEvent {
  return {
    jobId: job.id,
    tenant: job.tenant,
    type: 'deleted',
    sequence: job.sequence,
    status: job.status,
    at: new Date(nowMs).toISOString(),
  };
}

/** A call before `start()` or after `close()`: a bug of the caller, not of the request. */
export function queueClosed(): AppError {
  return errors.internal('the job queue is not started or already closed');
}

const ALL_STATUSES: readonly JobStatus[] = [
  'QUEUED',
  'RUNNING',
  'SUCCEEDED',
  'FAILED',
  'CANCELLED',
  'EXPIRED',
];

/** Stats from a count per status (absent statuses count 0) and the live workers. */
export function countsToStats(countOf: (status: JobStatus) => number, workers: number): QueueStats {
  const byStatus = Object.fromEntries(ALL_STATUSES.map((s) => [s, countOf(s)])) as Record<
    JobStatus,
    number
  >;
  return { depth: byStatus.QUEUED, running: byStatus.RUNNING, byStatus, workers };
}

/** Milliseconds since the epoch → ISO-8601, or null. */
export function isoOrNull(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

/**
 * Wakes `waitForWork` callers: `notify()` resolves every pending wait, a wait resolves by itself
 * after its timeout, and `close()` releases everyone so shutdown never hangs on a sleeping worker.
 */
export class WorkSignal {
  private readonly waiters = new Set<() => void>();
  private closed = false;
  /** Bumped by every notify: a waiter that started before an async step compares it. */
  private notifications = 0;

  get version(): number {
    return this.notifications;
  }

  /**
   * @param since a `version` read before the caller's own async work: a notify that landed in
   *   between wakes the caller at once instead of being lost.
   */
  wait(timeoutMs: number, since = this.notifications): Promise<void> {
    // After close a worker loop must fall through at once and see the queue is gone.
    if (this.closed || since !== this.notifications) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve();
      };
      // Not unref'd: a worker loop parked here is what keeps a worker-only process alive.
      const timer = setTimeout(done, Math.max(0, timeoutMs));
      this.waiters.add(done);
    });
  }

  notify(): void {
    this.notifications++;
    for (const done of [...this.waiters]) done();
  }

  close(): void {
    this.closed = true;
    this.notify();
  }
}
