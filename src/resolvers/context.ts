import type { ModelRegistry } from '../inference/model-registry.js';
import type { JobEventHub } from '../services/job-event-hub.js';
import type { JobService } from '../services/job-service.js';
import type { SubscriptionQuota } from '../services/subscription-quota.js';
import type { UploadService } from '../services/upload-service.js';
import type { ObjectStore } from '../storage/object-store.js';
import type { QueueInfo } from '../schema/queue.types.js';

/** Everything a resolver may use; built once per server and shared by every request. */
export interface Services {
  jobs: JobService;
  events: JobEventHub;
  /** Open subscriptions per tenant, capped. */
  subscriptions: SubscriptionQuota;
  uploads: UploadService;
  registry: ModelRegistry;
  store: ObjectStore;
  defaultModel: string;
  /** Lifetime of presigned output URLs. */
  urlTtlSeconds: number;
  queueInfo(): Promise<QueueInfo>;
  health(): Promise<{ ok: boolean; queue: string; storage: string; workers: number }>;
}

/** Per request (HTTP) or per connection (graphql-ws). */
export interface RequestContext {
  tenant: string;
  /** Public origin of this API, for URLs the filesystem store signs. */
  baseUrl: string;
  services: Services;
}
