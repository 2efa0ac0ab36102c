/**
 * The composition root: the only file that names concrete engines. `hita serve` = API + workers
 * on this machine; `hita worker` = workers only, against the shared BullMQ queue and S3 store.
 */
import { hostname } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { pino, type Logger } from 'pino';
import { ApiKeys } from './auth.js';
import type { ServerConfig } from './config.js';
import { CostRateLimiter } from './guard/cost-rate-limiter.js';
import { startWorkerHttpServer } from './http/worker-http-server.js';
import type { InferenceEngine } from './inference/inference-engine.js';
import { effectivePrecision } from './inference/model/model-manifest.js';
import { ModelRegistry } from './inference/model/model-registry.js';
import type { GptPrecision } from './jobs/gpt-precision.js';
import { WorkerEngine } from './inference/thread/worker-engine.js';
import { Metrics } from './metrics.js';
import { PACKAGE_ROOT } from './paths.js';
import { createJobQueue } from './queue/create-job-queue.js';
import { createPreviewChannel } from './queue/create-preview-channel.js';
import type { PreviewChannel } from './queue/preview-channel.js';
import type { JobQueue, JobRecord } from './queue/job-queue.js';
import { EtaService } from './services/eta-service.js';
import { ImageUrlService } from './services/image-url-service.js';
import { JobEventHub } from './services/job-event-hub.js';
import { JobService } from './services/job-service.js';
import { ModelService } from './services/model-service.js';
import { RetentionService } from './services/retention-service.js';
import { StatusService } from './services/status-service.js';
import { SubscriptionQuota } from './services/subscription-quota.js';
import { UploadService } from './services/upload-service.js';
import { WebhookDeliveryService } from './services/webhook-delivery-service.js';
import { WebhookService } from './services/webhook-service.js';
import { renderWebhookJob } from './resolvers/webhook-body.js';
import { createObjectStore } from './storage/create-object-store.js';
import { fsObjectRouter } from './storage/fs-object-router.js';
import { FsObjectStore } from './storage/fs-object-store.js';
import type { ObjectStore } from './storage/object-store.js';
import { startHttpServer, type HttpServer } from './server.js';
import { JobRunner } from './worker/job-runner.js';

export interface Running {
  /** The API's URL (`serve`), or the URL of `hita worker`'s /healthz and /metrics. */
  url: string | null;
  /**
   * Graceful and idempotent (the first SIGTERM/SIGINT): new jobs are refused with SHUTTING_DOWN
   * and /readyz answers 503, claiming stops, running jobs get `workers.drainMs` (HITA_DRAIN_SECONDS) to
   * finish and the rest are handed back to the queue, then WebSockets close with 1001 and the
   * seams close in reverse order (the engine threads only once no inference call is running).
   */
  close(): Promise<void>;
  /** Hands every job still running back to the queue now (a second signal); a `close()` in progress then ends without waiting for the drain. */
  handBack(): Promise<void>;
}

export function createLogger(level: string): Logger {
  return pino({ level, base: undefined });
}

/**
 * The start log of HITA_PRECISION: one line per model of the models directory with the GPT
 * precision its workers run, a warning for each that lacks the one asked for (it runs fp32).
 */
async function logPrecisions(
  models: ModelRegistry,
  wanted: GptPrecision,
  logger: Logger,
): Promise<void> {
  for (const model of await models.list()) {
    const precision = effectivePrecision(model, wanted);
    const data = { model: model.id, precision, precisions: model.gptPrecisions };
    if (precision === wanted) logger.info(data, `model ${model.id} runs at ${precision}`);
    else logger.warn(data, `model ${model.id} has no ${wanted} GPT graph; it runs at fp32`);
  }
}

/** One engine and one runner per device; each counts its images and steps in `metrics`. */
function startWorkers(
  config: ServerConfig,
  queue: JobQueue,
  store: ObjectStore,
  models: ModelRegistry,
  logger: Logger,
  metrics: Metrics,
  previews: PreviewChannel,
) {
  if (config.workers.devices.length > 0) {
    void logPrecisions(models, config.inference.precision, logger).catch((error: unknown) =>
      logger.warn({ err: error }, 'could not list the models to log their precisions'),
    );
  }
  return config.workers.devices.map((deviceId) => {
    const workerLog = logger.child({ worker: deviceId });
    const engine: InferenceEngine = new WorkerEngine({
      modelsDir: config.inference.modelsDir,
      defaultModel: config.inference.defaultModel,
      providers: config.inference.providers,
      deviceId,
      maxBatchRows: config.inference.maxBatchRows,
      precision: config.inference.precision,
      ...(config.inference.threads === undefined ? {} : { threads: config.inference.threads }),
      onLog: (level, message, data) => workerLog[level](data ?? {}, message),
    });
    const runner = new JobRunner({
      // Unique across machines: pids repeat between hosts (every container's first process is 1).
      workerId: `${hostname()}:${process.pid}:${deviceId}`,
      queue,
      engine,
      store,
      models,
      logger: workerLog,
      maxConcurrentJobs: config.workers.jobsPerWorker,
      leaseMs: config.workers.leaseMs,
      defaultModel: config.inference.defaultModel,
      previews,
      onImages: (n: number) => metrics.images.inc(n),
      onStepSeconds: (s: number) => metrics.stepSeconds.observe(s),
    });
    runner.start();
    return { engine, runner };
  });
}

/** Active batch rows over the engines of `workers`. */
async function batchRowsOf(workers: ReturnType<typeof startWorkers>): Promise<number> {
  const stats = await Promise.all(workers.map((w) => w.engine.stats()));
  return stats.reduce((n, s) => n + s.activeRows, 0);
}

/** Stops every worker's claims and drains it: `drainMs` for running jobs, then hand-back. */
async function drainWorkers(
  workers: ReturnType<typeof startWorkers>,
  drainMs: number,
  logger: Logger,
): Promise<void> {
  const running = workers.reduce((n, w) => n + w.runner.activeJobs, 0);
  logger.info({ running, drainMs }, 'draining: claiming stopped');
  const started = Date.now();
  await Promise.all(workers.map((w) => w.runner.stop(drainMs)));
  logger.info({ ms: Date.now() - started }, 'drained: every job finished or handed back');
}

async function openSeams(config: ServerConfig, logger: Logger) {
  const store = createObjectStore(config.storage);
  await store.start();
  const queue = createJobQueue(config.queue, {
    onWarning: (message: string) => logger.warn(message),
  });
  await queue.start();
  const previews = createPreviewChannel(config.queue);
  await previews.start();
  return { store, queue, previews };
}

/** The webhook deliverer of `hita serve`, counting its attempts in `metrics`. */
function startWebhookDeliveries(
  config: ServerConfig,
  parts: {
    queue: JobQueue;
    metrics: Metrics;
    logger: Logger;
    render: (job: JobRecord) => Promise<unknown>;
    secretFor: (tenant: string) => string;
  },
): WebhookDeliveryService {
  const { queue, metrics, logger, render, secretFor } = parts;
  const { retryWindowMs, timeoutMs, backoffBaseMs, allowPrivate } = config.webhooks;
  const service = new WebhookDeliveryService({
    outbox: queue,
    onEvent: (listener) => queue.onEvent(listener),
    renderJob: render,
    secretFor,
    retryWindowMs,
    timeoutMs,
    backoffBaseMs,
    allowPrivate,
    onAttempt: (outcome, seconds) => {
      metrics.webhookDeliveries.inc({ outcome });
      metrics.webhookDeliverySeconds.observe(seconds);
    },
    onWarning: (message, cause) => logger.warn({ err: cause }, message),
  });
  service.start();
  return service;
}

/** `hita serve`: the API, the demo page and the workers of this machine. */
export async function serve(
  config: ServerConfig,
  logger = createLogger(config.logLevel),
): Promise<Running> {
  const apiKeys = new ApiKeys(config.apiKeys);
  if (apiKeys.isDevelopmentMode) {
    logger.warn(
      { host: config.host },
      config.host === '127.0.0.1'
        ? 'HITA_API_KEYS is not set: single-tenant development mode, every request is tenant "dev"; listening on 127.0.0.1 only (set HITA_HOST to change that)'
        : 'HITA_API_KEYS is not set: single-tenant development mode, every request is tenant "dev", and HITA_HOST opens it to other hosts',
    );
  }
  // Rate-limit points live beside the queue: in Redis they hold across API replicas.
  const rateLimitRedis =
    config.queue.kind === 'redis' && config.api.rateLimitPoints > 0
      ? new Redis(config.queue.redisUrl, { enableOfflineQueue: false, lazyConnect: true })
      : undefined;
  await rateLimitRedis?.connect();
  const rateLimiter = new CostRateLimiter({
    points: config.api.rateLimitPoints,
    windowSeconds: config.api.rateLimitWindowSeconds,
    redis: rateLimitRedis,
  });
  const registry = new ModelRegistry({
    modelsDir: config.inference.modelsDir,
    defaultModel: config.inference.defaultModel,
  });
  await registry.default(); // a broken default model stops the start, with the file named
  const { store, queue, previews } = await openSeams(config, logger);
  // Objects of deleted jobs (deleteJob, retention) and uploads past HITA_RETENTION_HOURS.
  const retention = new RetentionService({
    queue,
    store,
    uploadRetentionMs: config.queue.retentionMs,
    onWarning: (message, cause) => logger.warn({ err: cause }, message),
  });
  retention.start();
  const jobs = new JobService({
    queue,
    registry,
    store,
    limits: config.limits,
    retention,
    allowPrivateWebhooks: config.webhooks.allowPrivate,
  });
  const webhooks = new WebhookService({ outbox: queue, masterSecret: config.webhooks.secret });
  const imageUrls = new ImageUrlService({ store, ttlSeconds: config.urlTtlSeconds });
  let isShuttingDown = false;
  // The queue reports every process's events (the Redis engine publishes each one from the same
  // Lua script that changes the job), so an in-process PubSub is enough for every API replica.
  const events = new JobEventHub({ queue, jobs });
  const unsubscribe = queue.onEvent((event) => events.publish(event));
  const unsubscribePreviews = previews.onPreview((message) => events.publishPreview(message));
  let workers: ReturnType<typeof startWorkers> = [];
  const batchRows = () => batchRowsOf(workers);
  const hasWorkers = config.workers.devices.length > 0;
  const metrics = new Metrics({ queue, outbox: queue, ...(hasWorkers ? { batchRows } : {}) });
  workers = startWorkers(config, queue, store, registry, logger, metrics, previews);
  const http: HttpServer = await startHttpServer(
    {
      services: {
        logger,
        jobs,
        events,
        uploads: new UploadService(store, config.urlTtlSeconds, config.limits.maxImageBytes),
        subscriptions: new SubscriptionQuota(config.api.maxSubscriptionsPerTenant),
        imageUrls,
        webhooks,
        models: new ModelService({ registry, defaultModel: config.inference.defaultModel }),
        status: new StatusService({
          queue,
          store,
          batchRows,
          workerCount: () => workers.length,
        }),
        eta: new EtaService({ queue, aheadOf: jobs }),
      },
      apiKeys,
      api: config.api,
      rateLimiter,
      maxOutputs: config.limits.maxCount,
      logger,
      metrics,
      ...(store instanceof FsObjectStore ? { objectRouter: fsObjectRouter(store) } : {}),
      webDir: join(PACKAGE_ROOT, 'web', 'dist'),
      ...(config.publicUrl ? { publicUrl: config.publicUrl } : {}),
      isReady: async () => {
        if (isShuttingDown) return false; // load balancers stop sending work at once
        await queue.stats();
        await store.stat('readiness');
        return workers.length > 0 || config.queue.kind === 'redis';
      },
    },
    config.port,
    config.host,
  );
  // Every `hita serve` delivers webhooks (leases keep replicas from sending one attempt twice);
  // `hita worker` never does. Started once the URL that fs-store links are signed under is known.
  const deliveries = startWebhookDeliveries(config, {
    queue,
    metrics,
    logger,
    render: (job) => renderWebhookJob(job, imageUrls, config.publicUrl ?? http.url),
    secretFor: (tenant) => webhooks.secretFor(tenant),
  });
  logger.info(
    {
      url: http.url,
      queue: config.queue.kind,
      storage: config.storage.kind,
      workers: workers.length,
    },
    `hita-serve listening on ${http.url}`,
  );
  let closing: Promise<void> | null = null;
  const stopAccepting = () => {
    isShuttingDown = true;
    jobs.stopAccepting();
  };
  return {
    url: http.url,
    handBack: async () => {
      stopAccepting();
      await Promise.all(workers.map((w) => w.runner.handBack()));
    },
    close: () =>
      (closing ??= (async () => {
        stopAccepting();
        await drainWorkers(workers, config.workers.drainMs, logger);
        // Only now: subscribers saw every job of the drain end (or go back to the queue).
        await http.close();
        unsubscribe();
        unsubscribePreviews();
        await Promise.all(workers.map((w) => w.engine.close()));
        await deliveries.close();
        await retention.close();
        await previews.close();
        await queue.close();
        await store.close();
        await rateLimitRedis?.quit().catch(() => undefined);
      })()),
  };
}

/** `hita worker`: workers only, for machines that join a Redis queue and an S3 store. */
export async function work(
  config: ServerConfig,
  logger = createLogger(config.logLevel),
): Promise<Running> {
  if (config.queue.kind !== 'redis' || config.storage.kind !== 's3') {
    logger.warn(
      {},
      'hita worker without REDIS_URL and S3_ENDPOINT only serves this machine; use hita serve',
    );
  }
  const { store, queue, previews } = await openSeams(config, logger);
  let workers: ReturnType<typeof startWorkers> = [];
  const metrics = new Metrics({ batchRows: () => batchRowsOf(workers) });
  let isDraining = false;
  // Before the workers start, so a taken port stops the start before any job is claimed.
  const http = await startWorkerHttpServer({
    metrics,
    access: config.api,
    health: () => ({
      ok: true,
      draining: isDraining,
      workers: workers.map((w) => ({ id: w.runner.id, activeJobs: w.runner.activeJobs })),
    }),
    logger,
    port: config.workerPort,
    host: config.host,
  }).catch(async (error: unknown) => {
    await previews.close();
    await queue.close();
    await store.close();
    throw error;
  });
  // Manifests only, to validate each job before it runs: the engine threads verify the files.
  const models = new ModelRegistry({
    modelsDir: config.inference.modelsDir,
    defaultModel: config.inference.defaultModel,
    verifyChecksums: false,
  });
  workers = startWorkers(config, queue, store, models, logger, metrics, previews);
  logger.info(
    { workers: workers.length, queue: config.queue.kind, url: http.url },
    `hita workers running; /healthz and /metrics on ${http.url}`,
  );
  let closing: Promise<void> | null = null;
  return {
    url: http.url,
    handBack: async () => {
      await Promise.all(workers.map((w) => w.runner.handBack()));
    },
    close: () =>
      (closing ??= (async () => {
        isDraining = true;
        await drainWorkers(workers, config.workers.drainMs, logger);
        await http.close();
        await Promise.all(workers.map((w) => w.engine.close()));
        await previews.close();
        await queue.close();
        await store.close();
      })()),
  };
}
