import type { WebhookAttempt, WebhookOutbox } from '../queue/job-queue.js';
import { tenantWebhookSecret } from './webhook-secrets.js';

/** Options of {@link WebhookService}. */
export interface WebhookServiceOptions {
  /** The queue's outbox: attempts of a job's webhook. */
  outbox: Pick<WebhookOutbox, 'deliveries'>;
  /** HITA_WEBHOOK_SECRET (generated into the data dir on the embedded default). */
  masterSecret: string;
}

/** The API's side of webhooks: a tenant's signing secret, a job's delivery attempts. */
export class WebhookService {
  private readonly outbox: Pick<WebhookOutbox, 'deliveries'>;
  private readonly masterSecret: string;

  constructor(options: WebhookServiceOptions) {
    ({ outbox: this.outbox, masterSecret: this.masterSecret } = options);
  }

  /** The `whsec_…` secret `tenant` verifies its webhooks with; no other tenant's. */
  secretFor(tenant: string): string {
    return tenantWebhookSecret(this.masterSecret, tenant);
  }

  /** The job's last 50 attempts and its pending ones; the caller checked the job is the tenant's. */
  deliveries(jobId: string): Promise<WebhookAttempt[]> {
    return this.outbox.deliveries(jobId);
  }
}
