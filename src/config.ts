import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { errors } from './errors.js';
import {
  parseExecutionProviders,
  type ExecutionProvider,
} from './inference/ort/execution-providers.js';
import type { QueryLimits } from './guard/query-limits.js';
import { GPT_PRECISIONS, type GptPrecision } from './jobs/gpt-precision.js';
import { PACKAGE_ROOT } from './paths.js';
import type { JobQueueConfig } from './queue/create-job-queue.js';
import { parseTenantWeights } from './queue/fair-scheduling.js';
import type { ObjectStoreConfig } from './storage/create-object-store.js';
import { DEFAULT_MAX_UPLOAD_BYTES } from './storage/fs-object-store.js';

/** The model served when nothing names one. */
export const DEFAULT_MODEL = 'hita-tiny-emoji';
/** Twice the cost of the demo page's largest query (a test keeps it so). */
export const DEFAULT_MAX_QUERY_COST = 5000;
/** Per tenant and minute: about 50 pages of jobs or 2,000 single-image jobs. */
export const DEFAULT_RATE_LIMIT_POINTS = 50_000;

/** Inference settings shared by `hita serve`, `hita worker` and the generation commands. */
export interface InferenceConfig {
  modelsDir: string;
  defaultModel: string;
  providers: ExecutionProvider[];
  /** ORT intra-op threads; undefined lets ORT use every core. */
  threads: number | undefined;
  maxBatchRows: number;
  /**
   * The GPT precision every model runs at (HITA_PRECISION): `fp32` (gpt.onnx), `int8` or `int4`
   * (graphs.gptVariants); a model without it runs fp32, and the start log says so per model.
   */
  precision: GptPrecision;
}

/** The workers of one process (`hita serve`, `hita worker`): one per device, each a `JobRunner`. */
export interface WorkersConfig {
  /** Device ordinals, one worker each (HITA_DEVICES, else HITA_WORKERS workers on 0 … N−1). */
  devices: number[];
  /** Jobs one worker runs at once (HITA_JOBS_PER_WORKER). */
  jobsPerWorker: number;
  /**
   * The lease a worker takes with each claim and renews while it runs the job (HITA_LEASE_MS):
   * a dead worker's job runs again once it expires. The engines get it per call, not at build.
   */
  leaseMs: number;
  /** How long running jobs may finish after SIGTERM/SIGINT before they are handed back. */
  drainMs: number;
}

/** The HTTP and WebSocket edge: who may connect, and what one request may ask for. */
export interface ApiConfig {
  /** HITA_API_KEYS unset: one tenant, bound to 127.0.0.1 unless HITA_HOST says otherwise. */
  isDevelopmentMode: boolean;
  /** Browser origins allowed besides the server's own (CORS and the WebSocket upgrade). */
  corsOrigins: string[];
  /** Bearer token of /metrics when keys are set; unset then means /metrics answers 401. */
  metricsToken: string | undefined;
  /** Automatic persisted queries (Apollo's APQ). */
  persistedQueries: boolean;
  queryLimits: QueryLimits;
  /** Query-cost points per tenant and window; 0 = no rate limit. */
  rateLimitPoints: number;
  rateLimitWindowSeconds: number;
  maxJobsPerRequest: number;
  maxSubscriptionsPerTenant: number;
}

/** Webhook delivery (`hita serve` only): signing, retries, the SSRF guard. */
export interface WebhooksConfig {
  /** HITA_WEBHOOK_SECRET: each tenant's `whsec_…` secret is an HMAC of its id under it. */
  secret: string;
  /** Retries stop this long after the event (HITA_WEBHOOK_RETRY_HOURS). */
  retryWindowMs: number;
  /** Deadline of one attempt (HITA_WEBHOOK_TIMEOUT_SECONDS). */
  timeoutMs: number;
  /** The first retry's delay before jitter, doubling per attempt (HITA_WEBHOOK_BACKOFF_MS). */
  backoffBaseMs: number;
  /** HITA_WEBHOOK_ALLOW_PRIVATE: no SSRF guard (tests, private deployments). */
  allowPrivate: boolean;
}

/** Everything `hita serve` and `hita worker` need, parsed once at start (DESIGN.md's table). */
export interface ServerConfig {
  port: number;
  host: string;
  /** `hita worker`'s /healthz and /metrics port, on `host`; 0 picks a free one. */
  workerPort: number;
  api: ApiConfig;
  dataDir: string;
  publicUrl: string | undefined;
  apiKeys: string | undefined;
  logLevel: string;
  inference: InferenceConfig;
  workers: WorkersConfig;
  /** The queue seam's slice, handed to `createJobQueue` as is. */
  queue: JobQueueConfig & { retentionMs: number };
  /** The storage seam's slice, handed to `createObjectStore` as is. */
  storage: ObjectStoreConfig;
  /** Lifetime of presigned URLs (outputs, inputs, uploads), in seconds. */
  urlTtlSeconds: number;
  limits: {
    maxCount: number;
    maxImageBytes: number;
    maxImagePixels: number;
    /** The longest `retentionHours` a job may ask for (HITA_RETENTION_HOURS). */
    maxRetentionHours: number;
  };
  webhooks: WebhooksConfig;
}

const intFrom = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const flag = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');
const originList = z
  .string()
  .transform((v) =>
    v
      .split(',')
      .map((o) => o.trim())
      .filter(Boolean),
  )
  .pipe(
    z.array(z.string().regex(/^https?:\/\/[^/\s]+$/, 'an origin such as https://app.example.com')),
  );

/** HITA_TENANT_WEIGHTS: `tenant:weight,…` (parseTenantWeights names what is wrong). */
const tenantWeights = z.string().transform((value, ctx) => {
  const parsed = parseTenantWeights(value);
  if ('weights' in parsed) return parsed.weights;
  ctx.addIssue({ code: 'custom', message: parsed.problem });
  return z.NEVER;
});

/** The environment variables the config reads (zod; keys are the variable names). */
export const env = z.object({
  PORT: intFrom(0, 65535).default(4000),
  HITA_WORKER_PORT: intFrom(0, 65535).default(9400),
  HITA_HOST: z.string().min(1).optional(),
  HITA_CORS_ORIGINS: originList.optional(),
  HITA_METRICS_TOKEN: z.string().min(16).optional(),
  HITA_INTROSPECTION: flag.optional(),
  HITA_PERSISTED_QUERIES: flag.default(false),
  HITA_MAX_QUERY_COST: intFrom(0, 10_000_000).default(DEFAULT_MAX_QUERY_COST),
  HITA_MAX_QUERY_DEPTH: intFrom(2, 100).default(15),
  HITA_MAX_ALIASES: intFrom(0, 1000).default(15),
  HITA_MAX_DIRECTIVES: intFrom(0, 1000).default(10),
  HITA_MAX_TOKENS: intFrom(100, 1_000_000).default(2000),
  HITA_RATE_LIMIT_POINTS: intFrom(0, 1_000_000_000).default(DEFAULT_RATE_LIMIT_POINTS),
  HITA_RATE_LIMIT_WINDOW_SECONDS: intFrom(1, 86_400).default(60),
  HITA_MAX_JOBS_PER_REQUEST: intFrom(1, 16).default(1),
  HITA_MAX_SUBSCRIPTIONS_PER_TENANT: intFrom(1, 1_000_000).default(2000),
  HITA_DATA_DIR: z.string().min(1).default('./data'),
  HITA_MODELS_DIR: z.string().min(1).default(join(PACKAGE_ROOT, 'models')),
  HITA_MODEL: z.string().min(1).default(DEFAULT_MODEL),
  HITA_EP: z.string().optional(),
  HITA_THREADS: intFrom(1, 256).optional(),
  HITA_MAX_BATCH_ROWS: intFrom(2, 1024).default(32),
  HITA_PRECISION: z.enum(GPT_PRECISIONS).default('fp32'),
  HITA_WORKERS: intFrom(0, 64).default(1),
  HITA_DEVICES: z
    .string()
    .regex(/^\d+(,\d+)*$/, 'a device list such as 0,1')
    .optional(),
  HITA_JOBS_PER_WORKER: intFrom(1, 256).default(8),
  HITA_DRAIN_SECONDS: z.coerce.number().min(0).max(3600).default(10),
  REDIS_URL: z.string().url().optional(),
  S3_ENDPOINT: z.string().url().optional(),
  S3_PUBLIC_ENDPOINT: z.string().url().optional(),
  S3_ACCESS_KEY: z.string().optional(),
  S3_SECRET_KEY: z.string().optional(),
  S3_BUCKET: z.string().default('hita'),
  S3_REGION: z.string().default('us-east-1'),
  HITA_API_KEYS: z.string().optional(),
  HITA_PUBLIC_URL: z.string().url().optional(),
  HITA_SIGNING_SECRET: z.string().min(16).optional(),
  HITA_URL_TTL_SECONDS: intFrom(10, 7 * 24 * 3600).default(3600),
  HITA_MAX_UPLOAD_BYTES: intFrom(1024, 1 << 30).default(DEFAULT_MAX_UPLOAD_BYTES),
  HITA_MAX_IMAGE_PIXELS: intFrom(1024, 1 << 28).default(16_777_216),
  HITA_MAX_COUNT: intFrom(1, 64).default(16),
  HITA_LEASE_MS: intFrom(1000, 3_600_000).default(30_000),
  HITA_RETENTION_HOURS: z.coerce.number().positive().default(168),
  HITA_MAX_QUEUED: intFrom(1, 10_000_000).default(100_000),
  HITA_SCHEDULING: z.enum(['fair', 'fifo']).default('fair'),
  HITA_TENANT_WEIGHTS: tenantWeights.optional(),
  HITA_TENANT_MAX_QUEUED: intFrom(1, 10_000_000).optional(),
  HITA_TENANT_MAX_RUNNING: intFrom(1, 1_000_000).optional(),
  HITA_WEBHOOK_SECRET: z.string().min(16).optional(),
  HITA_WEBHOOK_RETRY_HOURS: z.coerce.number().positive().max(720).default(24),
  HITA_WEBHOOK_TIMEOUT_SECONDS: z.coerce.number().positive().max(300).default(10),
  HITA_WEBHOOK_BACKOFF_MS: intFrom(1, 3_600_000).default(5000),
  HITA_WEBHOOK_ALLOW_PRIVATE: flag.default(false),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

function fail(issues: string[]): never {
  throw errors.badInput('environment', issues.join('; '));
}

/**
 * Reads the inference slice of the environment.
 * @throws AppError BAD_USER_INPUT naming every bad variable at once.
 */
export function readInferenceConfig(
  source: NodeJS.ProcessEnv = process.env,
): Readonly<InferenceConfig> {
  // The generation commands sign no webhooks: REDIS_URL alone must not stop them.
  return readServerConfig(source, { persistSecret: false, isWebhookSecretRequired: false })
    .inference;
}

/**
 * A secret from the environment, else made once and kept in the data dir under `name`: the
 * signing secret of fs URLs, and the embedded default's HITA_WEBHOOK_SECRET.
 */
function dataDirSecret(
  dataDir: string,
  given: string | undefined,
  persist: boolean,
  name = 'signing-secret',
): string {
  if (given) return given;
  const file = join(dataDir, name);
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const secret = randomBytes(32).toString('hex');
  if (persist) {
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(file, secret, { mode: 0o600 });
  }
  return secret;
}

type Env = z.infer<typeof env>;

/** Problems no single variable's schema sees: variables that go together, HITA_EP's list. */
function crossChecks(
  source: NodeJS.ProcessEnv,
  isWebhookSecretRequired: boolean,
): {
  issues: string[];
  providers: ExecutionProvider[];
} {
  const issues: string[] = [];
  const s3Given = [source.S3_ENDPOINT, source.S3_ACCESS_KEY, source.S3_SECRET_KEY].filter(
    (v) => v !== undefined,
  ).length;
  if (s3Given > 0 && s3Given < 3)
    issues.push('S3_ENDPOINT, S3_ACCESS_KEY and S3_SECRET_KEY go together');
  // Replicas must sign alike, and a secret generated per data dir would differ between them.
  if (isWebhookSecretRequired && source.REDIS_URL !== undefined && !source.HITA_WEBHOOK_SECRET)
    issues.push('HITA_WEBHOOK_SECRET: required with REDIS_URL (every replica signs with it)');
  let providers: ExecutionProvider[] = ['cpu'];
  try {
    providers = parseExecutionProviders(source.HITA_EP);
  } catch (error) {
    issues.push((error as Error).message);
  }
  return { issues, providers };
}

function apiConfigOf(e: Env, isDevelopmentMode: boolean): ApiConfig {
  return {
    isDevelopmentMode,
    corsOrigins: e.HITA_CORS_ORIGINS ?? [],
    metricsToken: e.HITA_METRICS_TOKEN,
    persistedQueries: e.HITA_PERSISTED_QUERIES,
    queryLimits: {
      maxTokens: e.HITA_MAX_TOKENS,
      maxDepth: e.HITA_MAX_QUERY_DEPTH,
      maxAliases: e.HITA_MAX_ALIASES,
      maxDirectives: e.HITA_MAX_DIRECTIVES,
      maxCost: e.HITA_MAX_QUERY_COST,
      introspection: e.HITA_INTROSPECTION ?? isDevelopmentMode,
    },
    rateLimitPoints: e.HITA_RATE_LIMIT_POINTS,
    rateLimitWindowSeconds: e.HITA_RATE_LIMIT_WINDOW_SECONDS,
    maxJobsPerRequest: e.HITA_MAX_JOBS_PER_REQUEST,
    maxSubscriptionsPerTenant: e.HITA_MAX_SUBSCRIPTIONS_PER_TENANT,
  };
}

/** REDIS_URL set: BullMQ on Redis; otherwise the embedded SQLite queue in the data dir. */
function queueConfigOf(e: Env, dataDir: string): ServerConfig['queue'] {
  const common = {
    retentionMs: e.HITA_RETENTION_HOURS * 3_600_000,
    maxQueued: e.HITA_MAX_QUEUED,
    scheduling: e.HITA_SCHEDULING,
    ...(e.HITA_TENANT_WEIGHTS ? { tenantWeights: e.HITA_TENANT_WEIGHTS } : {}),
    ...(e.HITA_TENANT_MAX_QUEUED ? { tenantMaxQueued: e.HITA_TENANT_MAX_QUEUED } : {}),
    ...(e.HITA_TENANT_MAX_RUNNING ? { tenantMaxRunning: e.HITA_TENANT_MAX_RUNNING } : {}),
  };
  return e.REDIS_URL
    ? { kind: 'redis', redisUrl: e.REDIS_URL, ...common }
    : { kind: 'sqlite', path: join(dataDir, 'queue.sqlite'), ...common };
}

/** All three S3 variables set: the S3 store; otherwise the fs store under the data dir. */
function storageConfigOf(e: Env, dataDir: string, persistSecret: boolean): ObjectStoreConfig {
  if (e.S3_ENDPOINT && e.S3_ACCESS_KEY && e.S3_SECRET_KEY) {
    return {
      kind: 's3',
      endPoint: e.S3_ENDPOINT,
      accessKey: e.S3_ACCESS_KEY,
      secretKey: e.S3_SECRET_KEY,
      bucket: e.S3_BUCKET,
      region: e.S3_REGION,
      ...(e.S3_PUBLIC_ENDPOINT ? { publicEndPoint: e.S3_PUBLIC_ENDPOINT } : {}),
    };
  }
  return {
    kind: 'fs',
    rootDir: join(dataDir, 'objects'),
    signingSecret: dataDirSecret(dataDir, e.HITA_SIGNING_SECRET, persistSecret),
    maxUploadBytes: e.HITA_MAX_UPLOAD_BYTES,
  };
}

/** Freezes `value` and every object and array in it. */
function deepFreeze<T>(value: T): Readonly<T> {
  if (value && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

/**
 * Parses the whole environment once, collecting every problem before failing; the result is
 * frozen, slices included, and each slice goes to its factory as is (`queue` to
 * `createJobQueue`, `storage` to `createObjectStore`).
 * @throws AppError BAD_USER_INPUT listing every bad or missing variable.
 */
export function readServerConfig(
  source: NodeJS.ProcessEnv = process.env,
  { persistSecret = true, isWebhookSecretRequired = true } = {},
): Readonly<ServerConfig> {
  const parsed = env.safeParse(source);
  const { issues, providers } = crossChecks(source, isWebhookSecretRequired);
  if (!parsed.success) {
    issues.unshift(...parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
  }
  if (!parsed.success || issues.length) fail(issues);
  const e = parsed.data;
  const dataDir = resolve(e.HITA_DATA_DIR);
  const isDevelopmentMode = !e.HITA_API_KEYS?.trim();
  return deepFreeze({
    port: e.PORT,
    // Without keys anyone who reaches the port is the one tenant: only this machine, unless asked.
    host: e.HITA_HOST ?? (isDevelopmentMode ? '127.0.0.1' : '0.0.0.0'),
    workerPort: e.HITA_WORKER_PORT,
    api: apiConfigOf(e, isDevelopmentMode),
    dataDir,
    publicUrl: e.HITA_PUBLIC_URL,
    apiKeys: e.HITA_API_KEYS,
    logLevel: e.LOG_LEVEL,
    inference: {
      modelsDir: e.HITA_MODELS_DIR,
      defaultModel: e.HITA_MODEL,
      providers,
      threads: e.HITA_THREADS,
      maxBatchRows: e.HITA_MAX_BATCH_ROWS,
      precision: e.HITA_PRECISION,
    },
    workers: {
      // One worker per device: an explicit list wins; otherwise HITA_WORKERS workers on 0 … N−1.
      devices: e.HITA_DEVICES
        ? e.HITA_DEVICES.split(',').map(Number)
        : Array.from({ length: e.HITA_WORKERS }, (_, i) => i),
      jobsPerWorker: e.HITA_JOBS_PER_WORKER,
      leaseMs: e.HITA_LEASE_MS,
      drainMs: Math.round(e.HITA_DRAIN_SECONDS * 1000),
    },
    queue: queueConfigOf(e, dataDir),
    storage: storageConfigOf(e, dataDir, persistSecret),
    urlTtlSeconds: e.HITA_URL_TTL_SECONDS,
    limits: {
      maxCount: e.HITA_MAX_COUNT,
      maxImageBytes: e.HITA_MAX_UPLOAD_BYTES,
      maxImagePixels: e.HITA_MAX_IMAGE_PIXELS,
      maxRetentionHours: e.HITA_RETENTION_HOURS,
    },
    webhooks: {
      secret: dataDirSecret(dataDir, e.HITA_WEBHOOK_SECRET, persistSecret, 'webhook-secret'),
      retryWindowMs: Math.round(e.HITA_WEBHOOK_RETRY_HOURS * 3_600_000),
      timeoutMs: Math.round(e.HITA_WEBHOOK_TIMEOUT_SECONDS * 1000),
      backoffBaseMs: e.HITA_WEBHOOK_BACKOFF_MS,
      allowPrivate: e.HITA_WEBHOOK_ALLOW_PRIVATE,
    },
  } satisfies ServerConfig);
}
