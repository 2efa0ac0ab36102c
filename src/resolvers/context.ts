import type { EtaService } from '../services/eta-service.js';
import type { ImageUrlService } from '../services/image-url-service.js';
import type { JobBatch } from '../services/job-batch.js';
import type { JobEventHub } from '../services/job-event-hub.js';
import type { JobService } from '../services/job-service.js';
import type { ModelService } from '../services/model-service.js';
import type { StatusService } from '../services/status-service.js';
import type { SubscriptionQuota } from '../services/subscription-quota.js';
import type { UploadService } from '../services/upload-service.js';
import type { WebhookService } from '../services/webhook-service.js';

/** What resolvers log through (pino's Logger fits): records they had to leave out, say. */
export interface ServiceLogger {
  warn(obj: Record<string, unknown>, message: string): void;
}

/**
 * Everything a resolver may use; built once per server and shared by every request. Services
 * only: no store, registry or queue, so every use of a seam goes through one use-case.
 */
export interface Services {
  logger: ServiceLogger;
  jobs: JobService;
  events: JobEventHub;
  /** Open subscriptions per tenant, capped. */
  subscriptions: SubscriptionQuota;
  uploads: UploadService;
  /** Presigned URLs of job outputs and input copies. */
  imageUrls: ImageUrlService;
  models: ModelService;
  /** The `queue` and `health` answers. */
  status: StatusService;
  /** Jobs' estimated start and finish. */
  eta: EtaService;
  /** Tenants' webhook secrets and jobs' delivery attempts. */
  webhooks: WebhookService;
}

/** Per request (HTTP) or per connection (graphql-ws). */
export interface RequestContext {
  tenant: string;
  /** Public origin of this API, for URLs the filesystem store signs. */
  baseUrl: string;
  services: Services;
  /**
   * The operation's held jobs, set by the transport only when one operation may create several
   * (HITA_MAX_JOBS_PER_REQUEST > 1 and more than one of generateImages, inpaintImage and
   * transferStyle in it): a fresh `services.jobs.openBatch()` per operation, on a context object
   * of that operation alone (graphql-ws: the per-operation `context` value), committed when the
   * result has no errors and aborted otherwise. Absent: each job is claimable at once.
   */
  jobBatch?: JobBatch;
}
