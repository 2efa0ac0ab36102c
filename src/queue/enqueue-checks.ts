/**
 * What both engines check and derive from an `EnqueueInput` before they store it, so a request
 * refused by one is refused by the other with the same error.
 */
import { errors, requireIntegerInRange } from '../errors.js';
import type { EnqueueInput } from './job-queue.js';

/** Our priorities are integers in [−PRIORITY_LIMIT, PRIORITY_LIMIT] so BullMQ's 2²¹ range fits. */
export const PRIORITY_LIMIT = 1_000_000;

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

/**
 * What an engine stores as a job's own retention: null when it asks for none or for at least
 * the queue's (the queue's then applies, and stays the one setting that can shorten it).
 */
export function ownRetention(asked: number | undefined, queueRetentionMs: number): number | null {
  return asked === undefined || asked >= queueRetentionMs ? null : asked;
}
