/**
 * The errors both engines answer for an illegal state change or call, built from the catalogue's
 * named constructors (errors.ts) so that callers cannot tell which engine refused.
 */
import { errors, type AppError } from '../errors.js';
import type { JobStatus } from './job-queue.js';

/** CONFLICT: the idempotency key was used before with other parameters. */
export function idempotencyConflict(idempotencyKey: string): AppError {
  return errors.conflict(
    `idempotency key ${JSON.stringify(idempotencyKey)} was already used with different parameters; ` +
      'send the same input to get that job, or use a new key',
    { idempotencyKey },
  );
}

/** CONFLICT: a worker's call with a token that no longer owns the job. */
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
    { id, status },
  );
}

/** CONFLICT: only FAILED and CANCELLED jobs can be retried. */
export function cannotRetry(id: string, status: JobStatus): AppError {
  return errors.conflict(
    `job ${id} cannot be retried: expected FAILED or CANCELLED, got ${status}`,
    { id, status },
  );
}

/** CONFLICT: only finished jobs can be deleted; a QUEUED or RUNNING one is cancelled first. */
export function cannotDelete(id: string, status: JobStatus): AppError {
  return errors.conflict(
    `job ${id} cannot be deleted: expected SUCCEEDED, FAILED, CANCELLED or EXPIRED, got ${status}; cancel it first`,
    { id, status },
  );
}

/** INTERNAL_SERVER_ERROR: a call before `start()` or after `close()`, a bug of the caller. */
export function queueClosed(): AppError {
  return errors.internal('the job queue is not started or already closed');
}
