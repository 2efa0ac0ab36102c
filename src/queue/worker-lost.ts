/**
 * The failures recorded when a worker stops renewing its lease. lua-prelude.ts writes the same
 * JSON in the Redis engine: the texts are part of what both engines store, keep them in step.
 */
import type { JobFailure } from './job-queue.js';

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
