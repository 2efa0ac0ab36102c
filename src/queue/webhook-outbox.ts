/**
 * The webhook outbox: the part of the queue seam that makes webhooks durable. Each engine writes
 * a job's outbox entries in the same atomic step as the state change they report (SQLite: the
 * change's transaction, `emit` in sqlite/transactions.ts; Redis: the change's Lua script, `emit`
 * in redis/lua-prelude.ts), so a crash between the change and its delivery loses nothing. A
 * delivery service (services/webhook-delivery-service.ts) claims due entries under a lease, sends
 * them and settles each attempt. docs/architecture.md lists which transitions write one. The
 * contract's types (`WebhookOutbox`, `OutboxDelivery`…) live in job-queue.ts; these are the rules
 * both engines apply (the Lua scripts mirror them: lua-webhook-scripts.ts).
 */
import type { JobEventType, WebhookEvent, WebhookSpec } from './job-queue.js';

/** What a webhook can report, in the GraphQL enum's order. */
export const WEBHOOK_EVENTS: readonly WebhookEvent[] = [
  'STARTED',
  'PROGRESS',
  'SUCCEEDED',
  'FAILED',
  'CANCELLED',
  'EXPIRED',
];

/** What a webhook reports when its input names no events: the four endings. */
export const DEFAULT_WEBHOOK_EVENTS: readonly WebhookEvent[] = [
  'SUCCEEDED',
  'FAILED',
  'CANCELLED',
  'EXPIRED',
];

/**
 * The job event that writes each webhook event. STARTED only for a run's first attempt
 * (`attempts` 1 after the claim: a new job, or one that `retryJob` ran again), not for the
 * re-claims of retryable failures and lost workers.
 */
export const WEBHOOK_EVENT_OF: Readonly<Partial<Record<JobEventType, WebhookEvent>>> = {
  active: 'STARTED',
  progress: 'PROGRESS',
  completed: 'SUCCEEDED',
  failed: 'FAILED',
  cancelled: 'CANCELLED',
  expired: 'EXPIRED',
};

/** PROGRESS is written at most once per this many ms per job (the rest are left out). */
export const PROGRESS_WEBHOOK_INTERVAL_MS = 1000;

/**
 * The webhook event `type` writes for a job whose webhook is `spec`, or null for none.
 * @param lastProgressAt when the job last wrote a PROGRESS entry (epoch ms), null if never
 */
export function webhookEventFor(
  type: JobEventType,
  job: { attempts: number; webhook: WebhookSpec | null },
  lastProgressAt: number | null,
  nowMs: number,
): WebhookEvent | null {
  const event = WEBHOOK_EVENT_OF[type];
  if (!event || !job.webhook?.events.includes(event)) return null;
  if (event === 'STARTED' && job.attempts !== 1) return null;
  if (
    event === 'PROGRESS' &&
    lastProgressAt !== null &&
    nowMs - lastProgressAt < PROGRESS_WEBHOOK_INTERVAL_MS
  ) {
    return null;
  }
  return event;
}

/**
 * The Standard Webhooks `webhook-id` of the entry a job event writes: unique (job ids are, and
 * a job's sequence only grows, `retryJob` included), the same on every attempt.
 */
export function webhookId(jobId: string, sequence: number): string {
  return `msg_${jobId}_${sequence}`;
}

/** Attempts kept per job for `deliveries` (older ones are dropped). */
export const WEBHOOK_ATTEMPTS_KEPT = 50;
