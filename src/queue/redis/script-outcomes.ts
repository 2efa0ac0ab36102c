/**
 * What the Redis engine's scripts answer (the first element of a reply), and the one mapping of
 * a refusing answer onto the catalogue's errors, after BullMQ's finished-errors: callers name
 * the outcomes they accept and never interpret a refusal themselves, so both engines refuse with
 * the same `AppError`s.
 */
import { errors, type AppError } from '../../errors.js';
import { JOB_STATUSES, type JobStatus } from '../job-queue.js';
import {
  cannotCancel,
  cannotDelete,
  cannotRetry,
  idempotencyConflict,
  leaseLost,
} from '../queue-errors.js';

/** The outcome words of the scripts (lua-scripts.ts, lua-worker-scripts.ts). */
export enum ScriptOutcome {
  /** hitaEnqueue: a new job; its hash follows. */
  Created = 'created',
  /** hitaEnqueue: the job of the same idempotency key; its hash follows. */
  Existing = 'existing',
  /** hitaCancel: a QUEUED job ended; hitaFinish, hitaFail, hitaRelease: a cancel request won. */
  Cancelled = 'cancelled',
  /** hitaCancel: a RUNNING job's worker is asked to stop. */
  CancelRequested = 'requested',
  /** The change was made (hitaRetry, hitaProgress, hitaFinish). */
  Ok = 'ok',
  /** hitaDelete: the job is gone; its removal note follows. */
  Deleted = 'deleted',
  /** hitaClaim: the delivery's job is now RUNNING under the new lease; its hash follows. */
  Claimed = 'claimed',
  /** hitaClaim: a delivery the record does not expect, to be dropped. */
  Stale = 'stale',
  /** hitaClaim: every due job's tenant is at HITA_TENANT_MAX_RUNNING; hand the delivery back. */
  Wait = 'wait',
  /** hitaClaim: a lost lease's job ended (cancelled, or no attempt left) instead. */
  Ended = 'ended',
  /** hitaRelease: the job is QUEUED again. */
  Released = 'released',
  /** hitaFail: the job runs again after its backoff. */
  Retrying = 'retrying',
  /** hitaFail: the job is FAILED. */
  Failed = 'failed',
  /** Refusal: no job has this id. */
  Missing = 'missing',
  /** Refusal (hitaEnqueue): `maxQueued` jobs already wait. */
  QueueFull = 'full',
  /** Refusal (hitaEnqueue): the tenant already has `tenantMaxQueued` jobs waiting. */
  TenantQueueFull = 'tenant-full',
  /** Refusal (hitaEnqueue): the idempotency key belongs to a job with other parameters. */
  IdempotencyConflict = 'conflict',
}

/**
 * The change a script was asked for. A script that refuses because of the job's status answers
 * that status (QUEUED, RUNNING, …), and the change decides which CONFLICT it becomes.
 */
export type ScriptChange = 'enqueue' | 'cancel' | 'retry' | 'delete' | 'leased-call';

/** What a refusal's error names. */
export interface OutcomeContext {
  jobId: string;
  change: ScriptChange;
  /** The queue's limit, for QUEUE_FULL. */
  maxQueued?: number;
  /** The tenant's limit, for QUEUE_FULL with scope tenant. */
  tenantMaxQueued?: number;
  /** The request's key, for the idempotency CONFLICT. */
  idempotencyKey?: string;
}

const STATUSES: ReadonlySet<string> = new Set<string>(JOB_STATUSES);

/** The CONFLICT of a job whose status forbids the change (enqueue never answers a status). */
const STATUS_CONFLICTS: Partial<Record<ScriptChange, (id: string, status: JobStatus) => AppError>> =
  {
    cancel: cannotCancel,
    retry: cannotRetry,
    delete: cannotDelete,
    'leased-call': leaseLost,
  };

/** The error of each refusing outcome word. */
const REFUSALS: Partial<Record<ScriptOutcome, (context: OutcomeContext) => AppError>> = {
  [ScriptOutcome.Missing]: ({ jobId }) => errors.notFound('job', jobId),
  [ScriptOutcome.QueueFull]: ({ maxQueued }) => errors.queueFull(maxQueued ?? 0, 'global'),
  [ScriptOutcome.TenantQueueFull]: ({ tenantMaxQueued }) =>
    errors.queueFull(tenantMaxQueued ?? 0, 'tenant'),
  [ScriptOutcome.IdempotencyConflict]: ({ idempotencyKey }) =>
    idempotencyConflict(idempotencyKey ?? ''),
};

/**
 * The error of an outcome its caller does not accept: NOT_FOUND, QUEUE_FULL, the idempotency
 * CONFLICT, the change's CONFLICT for a job status, and INTERNAL_SERVER_ERROR for a word no
 * script answers (a script and its caller out of step: a bug, never the request).
 */
export function scriptError(outcome: unknown, context: OutcomeContext): AppError {
  const word = String(outcome);
  const refusal = REFUSALS[word as ScriptOutcome];
  if (refusal) return refusal(context);
  const conflict = STATUSES.has(word) ? STATUS_CONFLICTS[context.change] : undefined;
  if (conflict) return conflict(context.jobId, word as JobStatus);
  return errors.internal(
    `the Redis script for ${context.change} of job ${context.jobId} answered ${JSON.stringify(word)}`,
  );
}

/**
 * `outcome` when it is one of `accepted`.
 * @throws AppError as {@link scriptError} maps it, for any other outcome
 */
export function expectOutcome<const T extends ScriptOutcome>(
  outcome: unknown,
  accepted: readonly T[],
  context: OutcomeContext,
): T {
  if ((accepted as readonly unknown[]).includes(outcome)) return outcome as T;
  throw scriptError(outcome, context);
}
