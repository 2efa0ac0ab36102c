/**
 * Delivers the webhook outbox, at least once: every `hita serve` process runs one (workers do
 * not). It claims due entries under a lease (so two replicas never send the same attempt),
 * POSTs each as a Standard Webhooks message signed with its tenant's secret, and settles the
 * attempt: 2xx delivered; 410 stops; a refused address fails without retries; anything else
 * (3xx, other 4xx, 5xx, timeouts, connection errors) is retried with exponential backoff and
 * jitter until the retry window ends. Attempts run beside the jobs, never in their way.
 * Spec: https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md
 */
import { Webhook } from 'standardwebhooks';
import type {
  AttemptOutcome,
  JobEvent,
  JobRecord,
  OutboxDelivery,
  WebhookOutbox,
} from '../queue/job-queue.js';
import type { Resolve } from './webhook-address-guard.js';
import { sendWebhook, type SendResult } from './webhook-sender.js';

/** What one attempt came to, as `hita_webhook_deliveries_total{outcome}` counts it. */
export type DeliveryOutcome = 'delivered' | 'retrying' | 'gave_up' | 'refused';

export interface WebhookDeliveryServiceOptions {
  outbox: WebhookOutbox;
  /** The queue's events: each one wakes the service, so an entry goes out without a poll's wait. */
  onEvent?: (listener: (event: JobEvent) => void) => () => void;
  /** The job as `job(id)` returns it, URLs signed now (called per attempt). */
  renderJob: (job: JobRecord) => Promise<unknown>;
  /** The tenant's `whsec_…` secret (webhook-secrets.ts). */
  secretFor: (tenant: string) => string;
  /** Retries stop this long after the event (HITA_WEBHOOK_RETRY_HOURS). @default 24 h */
  retryWindowMs?: number;
  /** Deadline of one attempt (HITA_WEBHOOK_TIMEOUT_SECONDS). @default 10 000 */
  timeoutMs?: number;
  /**
   * The first retry's delay; attempt n waits base·2^(n−1), capped at `maxBackoffMs`, times a
   * jitter in [0.5, 1) (HITA_WEBHOOK_BACKOFF_MS; tests make it small). @default 5000
   */
  backoffBaseMs?: number;
  /** @default 1 hour */
  maxBackoffMs?: number;
  /** HITA_WEBHOOK_ALLOW_PRIVATE: no address check. @default false */
  allowPrivate?: boolean;
  /** How often the outbox is polled besides the wake-ups. @default 250 */
  pollIntervalMs?: number;
  /** Attempts in flight at once. @default 32 */
  maxConcurrent?: number;
  /** @default the system resolver */
  resolve?: Resolve;
  /** @default Date.now */
  clock?: () => number;
  /** In [0, 1). @default Math.random */
  random?: () => number;
  /** Told about every attempt; the return value is ignored. */
  onAttempt?: (outcome: DeliveryOutcome, seconds: number) => void;
  /** Told about trouble the service survives (a failed claim). */
  onWarning?: (message: string, cause?: unknown) => void;
}

/** The delay before attempt `attempt + 1`: base·2^(attempt−1), capped, with jitter in [0.5, 1). */
export function backoffMs(attempt: number, baseMs: number, maxMs: number, random: number): number {
  return Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1)) * (0.5 + random / 2);
}

/** The Standard Webhooks `type` of an event: `job.succeeded`, `job.started`… */
export function webhookType(event: string): string {
  return `job.${event.toLowerCase()}`;
}

/** Claims and sends outbox entries until `close()`. */
export class WebhookDeliveryService {
  private readonly options: Required<
    Omit<WebhookDeliveryServiceOptions, 'onEvent' | 'resolve' | 'onAttempt' | 'onWarning'>
  > &
    Pick<WebhookDeliveryServiceOptions, 'onEvent' | 'resolve' | 'onAttempt' | 'onWarning'>;
  private readonly inFlight = new Set<Promise<void>>();
  private timer: NodeJS.Timeout | null = null;
  private unsubscribe: (() => void) | null = null;
  private ticking: Promise<void> | null = null;
  private isAgain = false;
  private isClosed = false;

  constructor(options: WebhookDeliveryServiceOptions) {
    const {
      retryWindowMs = 24 * 3_600_000,
      timeoutMs = 10_000,
      backoffBaseMs = 5000,
      maxBackoffMs = 3_600_000,
      allowPrivate = false,
      pollIntervalMs = 250,
      maxConcurrent = 32,
      clock = Date.now,
      random = Math.random,
      ...rest
    } = options;
    this.options = {
      ...rest,
      retryWindowMs,
      timeoutMs,
      backoffBaseMs,
      maxBackoffMs,
      allowPrivate,
      pollIntervalMs,
      maxConcurrent,
      clock,
      random,
    };
  }

  start(): void {
    if (this.timer || this.isClosed) return;
    this.timer = setInterval(() => this.wake(), this.options.pollIntervalMs);
    this.timer.unref();
    this.unsubscribe = this.options.onEvent?.(() => this.wake()) ?? null;
    this.wake();
  }

  /** Stops claiming and waits for the attempts in flight. Idempotent. */
  async close(): Promise<void> {
    this.isClosed = true;
    if (this.timer) clearInterval(this.timer);
    this.unsubscribe?.();
    await this.ticking;
    await Promise.allSettled([...this.inFlight]);
  }

  /** Looks for due entries now (coalesced: one claim at a time, another after it if asked). */
  wake(): void {
    if (this.isClosed) return;
    if (this.ticking) {
      this.isAgain = true;
      return;
    }
    this.ticking = this.tick().finally(() => {
      this.ticking = null;
      if (this.isAgain) {
        this.isAgain = false;
        this.wake();
      }
    });
  }

  private async tick(): Promise<void> {
    const { outbox, maxConcurrent, timeoutMs } = this.options;
    const free = maxConcurrent - this.inFlight.size;
    if (free <= 0) return;
    let claimed: OutboxDelivery[];
    try {
      // The lease covers the attempt's deadline plus rendering and DNS, with room to settle.
      claimed = await outbox.claimDeliveries(free, timeoutMs + 30_000);
    } catch (error) {
      this.options.onWarning?.('webhook outbox claim failed; retrying at the next poll', error);
      return;
    }
    for (const delivery of claimed) {
      const attempt = this.attempt(delivery);
      this.inFlight.add(attempt);
      void attempt.finally(() => {
        this.inFlight.delete(attempt);
        this.wake();
      });
    }
    if (claimed.length === free) this.isAgain = true;
  }

  private async attempt(delivery: OutboxDelivery): Promise<void> {
    const started = performance.now();
    let result: SendResult;
    try {
      result = await this.send(delivery);
    } catch (error) {
      // The body could not be made (the store could not sign a URL, say): retried like a 5xx.
      result = { kind: 'error', reason: (error as Error).message };
    }
    const { outcome, settled } = this.settle(delivery, result);
    try {
      await this.options.outbox.settleDelivery(delivery, settled);
    } catch (error) {
      // The lease runs out and the entry is sent again: at least once, never lost.
      this.options.onWarning?.(`webhook ${delivery.id}: settling its attempt failed`, error);
    }
    this.options.onAttempt?.(outcome, (performance.now() - started) / 1000);
  }

  private async send(delivery: OutboxDelivery): Promise<SendResult> {
    const { renderJob, secretFor, timeoutMs, allowPrivate, resolve, clock } = this.options;
    const body = JSON.stringify({
      type: webhookType(delivery.event),
      timestamp: delivery.job.updatedAt,
      data: { job: await renderJob(delivery.job) },
    });
    const now = new Date(clock());
    const signature = new Webhook(secretFor(delivery.tenant)).sign(delivery.id, now, body);
    return sendWebhook({
      url: delivery.url,
      headers: {
        'content-type': 'application/json',
        'user-agent': 'hita-serve-webhooks',
        'webhook-id': delivery.id,
        'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
        'webhook-signature': signature,
      },
      body,
      timeoutMs,
      allowPrivate,
      ...(resolve ? { resolve } : {}),
    });
  }

  /** The attempt's outcome: what is counted, and what the outbox records. */
  private settle(
    delivery: OutboxDelivery,
    result: SendResult,
  ): { outcome: DeliveryOutcome; settled: AttemptOutcome } {
    const httpStatus = result.kind === 'response' ? result.status : null;
    if (result.kind === 'refused') {
      return { outcome: 'refused', settled: { status: 'FAILED', httpStatus } };
    }
    if (httpStatus !== null && httpStatus >= 200 && httpStatus < 300) {
      return { outcome: 'delivered', settled: { status: 'DELIVERED', httpStatus } };
    }
    const { retryWindowMs, backoffBaseMs, maxBackoffMs, clock, random } = this.options;
    const retryAt = clock() + backoffMs(delivery.attempt, backoffBaseMs, maxBackoffMs, random());
    const windowEnds = Date.parse(delivery.createdAt) + retryWindowMs;
    if (httpStatus === 410 || retryAt > windowEnds) {
      return { outcome: 'gave_up', settled: { status: 'GAVE_UP', httpStatus } };
    }
    return { outcome: 'retrying', settled: { status: 'FAILED', httpStatus, retryAt } };
  }
}
