import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isAppError } from './errors.js';
import {
  DEFAULT_MAX_QUERY_COST,
  DEFAULT_MODEL,
  DEFAULT_RATE_LIMIT_POINTS,
  env,
  readInferenceConfig,
  readServerConfig,
  type ServerConfig,
} from './config.js';
import { DEFAULT_MAX_UPLOAD_BYTES } from './storage/fs-object-store.js';

// A data dir that does not exist, read with persistSecret off: parsing touches no disk.
const DATA_DIR = resolve('/nonexistent/hita-config-test');
const BASE = { HITA_DATA_DIR: DATA_DIR };
const SECRET = 's'.repeat(32);

function read(vars: Record<string, string> = {}): Readonly<ServerConfig> {
  return readServerConfig({ ...BASE, ...vars }, { persistSecret: false });
}

/** The message of the AppError that `vars` make readServerConfig throw. */
function problemOf(vars: Record<string, string>): string {
  try {
    read(vars);
  } catch (error) {
    if (!isAppError(error)) throw error;
    expect(error.code).toBe('BAD_USER_INPUT');
    expect(error.details?.field).toBe('environment');
    return error.message;
  }
  throw new Error(`expected ${JSON.stringify(vars)} to be refused`);
}

describe('readServerConfig defaults (no variables set)', () => {
  const config = read({ HITA_SIGNING_SECRET: SECRET });

  it('listens on 4000, on 127.0.0.1 only, in development mode', () => {
    expect(config.port).toBe(4000);
    expect(config.host).toBe('127.0.0.1');
    expect(config.workerPort).toBe(9400);
    expect(config.api.isDevelopmentMode).toBe(true);
    expect(config.apiKeys).toBeUndefined();
    expect(config.publicUrl).toBeUndefined();
    expect(config.logLevel).toBe('info');
  });

  it('embedded seams in the data dir: SQLite queue, fs store', () => {
    expect(config.dataDir).toBe(DATA_DIR);
    expect(config.queue).toEqual({
      kind: 'sqlite',
      path: join(DATA_DIR, 'queue.sqlite'),
      retentionMs: 168 * 3_600_000,
      maxQueued: 100_000,
      scheduling: 'fair',
    });
    expect(config.storage).toEqual({
      kind: 'fs',
      rootDir: join(DATA_DIR, 'objects'),
      signingSecret: SECRET,
      maxUploadBytes: DEFAULT_MAX_UPLOAD_BYTES,
    });
  });

  it('one upload limit, the README’s 10 MiB, for the fs store and the job inputs', () => {
    expect(DEFAULT_MAX_UPLOAD_BYTES).toBe(10 * 1024 * 1024);
    expect(config.limits.maxImageBytes).toBe(DEFAULT_MAX_UPLOAD_BYTES);
  });

  it('one worker on device 0 with a 30 s lease and a 10 s drain', () => {
    expect(config.workers).toEqual({
      devices: [0],
      jobsPerWorker: 8,
      leaseMs: 30_000,
      drainMs: 10_000,
    });
  });

  it('inference on the CPU with the shipped model', () => {
    expect(config.inference).toMatchObject({
      defaultModel: DEFAULT_MODEL,
      providers: ['cpu'],
      threads: undefined,
      maxBatchRows: 32,
      precision: 'fp32',
    });
    expect(config.inference.modelsDir).toMatch(/models$/);
  });

  it('API limits', () => {
    expect(config.api).toEqual({
      isDevelopmentMode: true,
      corsOrigins: [],
      metricsToken: undefined,
      persistedQueries: false,
      queryLimits: {
        maxTokens: 2000,
        maxDepth: 15,
        maxAliases: 15,
        maxDirectives: 10,
        maxCost: DEFAULT_MAX_QUERY_COST,
        introspection: true,
      },
      rateLimitPoints: DEFAULT_RATE_LIMIT_POINTS,
      rateLimitWindowSeconds: 60,
      maxJobsPerRequest: 1,
      maxSubscriptionsPerTenant: 2000,
    });
    expect(config.urlTtlSeconds).toBe(3600);
    expect(config.limits).toEqual({
      maxCount: 16,
      maxImageBytes: DEFAULT_MAX_UPLOAD_BYTES,
      maxImagePixels: 16_777_216,
      maxRetentionHours: 168,
    });
  });

  it('is frozen, slices included', () => {
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.api.queryLimits)).toBe(true);
    expect(Object.isFrozen(config.workers.devices)).toBe(true);
    expect(Object.isFrozen(config.queue)).toBe(true);
  });

  it('makes a signing secret when none is given (kept only with persistSecret)', () => {
    const { storage } = read();
    expect(storage.kind === 'fs' && storage.signingSecret).toMatch(/^[0-9a-f]{64}$/);
  });
});

/** Each variable, a value, where it lands and what it reads as there. */
const CASES: [string, string, (c: Readonly<ServerConfig>) => unknown, unknown][] = [
  ['PORT', '8080', (c) => c.port, 8080],
  ['HITA_WORKER_PORT', '0', (c) => c.workerPort, 0],
  ['HITA_HOST', '0.0.0.0', (c) => c.host, '0.0.0.0'],
  [
    'HITA_CORS_ORIGINS',
    'https://a.example, http://b.example:8080',
    (c) => c.api.corsOrigins,
    ['https://a.example', 'http://b.example:8080'],
  ],
  ['HITA_METRICS_TOKEN', 'm'.repeat(16), (c) => c.api.metricsToken, 'm'.repeat(16)],
  ['HITA_INTROSPECTION', 'false', (c) => c.api.queryLimits.introspection, false],
  ['HITA_PERSISTED_QUERIES', '1', (c) => c.api.persistedQueries, true],
  ['HITA_MAX_QUERY_COST', '0', (c) => c.api.queryLimits.maxCost, 0],
  ['HITA_MAX_QUERY_DEPTH', '4', (c) => c.api.queryLimits.maxDepth, 4],
  ['HITA_MAX_ALIASES', '3', (c) => c.api.queryLimits.maxAliases, 3],
  ['HITA_MAX_DIRECTIVES', '2', (c) => c.api.queryLimits.maxDirectives, 2],
  ['HITA_MAX_TOKENS', '500', (c) => c.api.queryLimits.maxTokens, 500],
  ['HITA_RATE_LIMIT_POINTS', '0', (c) => c.api.rateLimitPoints, 0],
  ['HITA_RATE_LIMIT_WINDOW_SECONDS', '1', (c) => c.api.rateLimitWindowSeconds, 1],
  ['HITA_MAX_JOBS_PER_REQUEST', '4', (c) => c.api.maxJobsPerRequest, 4],
  ['HITA_MAX_SUBSCRIPTIONS_PER_TENANT', '7', (c) => c.api.maxSubscriptionsPerTenant, 7],
  ['HITA_DATA_DIR', '/srv/hita', (c) => c.dataDir, resolve('/srv/hita')],
  ['HITA_MODELS_DIR', '/srv/models', (c) => c.inference.modelsDir, '/srv/models'],
  ['HITA_MODEL', 'hita-b', (c) => c.inference.defaultModel, 'hita-b'],
  ['HITA_EP', 'CUDA, cpu, cuda', (c) => c.inference.providers, ['cuda', 'cpu']],
  ['HITA_THREADS', '2', (c) => c.inference.threads, 2],
  ['HITA_MAX_BATCH_ROWS', '8', (c) => c.inference.maxBatchRows, 8],
  ['HITA_PRECISION', 'int4', (c) => c.inference.precision, 'int4'],
  ['HITA_WORKERS', '3', (c) => c.workers.devices, [0, 1, 2]],
  ['HITA_DEVICES', '2,5', (c) => c.workers.devices, [2, 5]],
  ['HITA_JOBS_PER_WORKER', '2', (c) => c.workers.jobsPerWorker, 2],
  ['HITA_DRAIN_SECONDS', '1.5', (c) => c.workers.drainMs, 1500],
  [
    'REDIS_URL',
    'redis://cache:6379/1',
    (c) => c.queue,
    {
      kind: 'redis',
      redisUrl: 'redis://cache:6379/1',
      retentionMs: 168 * 3_600_000,
      maxQueued: 100_000,
      scheduling: 'fair',
    },
  ],
  // The S3 variables only count together (see the cases below); each alone is an error.
  ['S3_ENDPOINT', 'http://minio:9000', (c) => c.storage.kind, 's3'],
  ['S3_ACCESS_KEY', 'ak', (c) => c.storage.kind === 's3' && c.storage.accessKey, 'ak'],
  ['S3_SECRET_KEY', 'sk', (c) => c.storage.kind === 's3' && c.storage.secretKey, 'sk'],
  [
    'S3_PUBLIC_ENDPOINT',
    'https://cdn.example',
    (c) => c.storage.kind === 's3' && c.storage.publicEndPoint,
    'https://cdn.example',
  ],
  ['S3_BUCKET', 'pics', (c) => c.storage.kind === 's3' && c.storage.bucket, 'pics'],
  ['S3_REGION', 'eu-west-3', (c) => c.storage.kind === 's3' && c.storage.region, 'eu-west-3'],
  [
    'HITA_API_KEYS',
    'k1:acme',
    (c) => [c.apiKeys, c.api.isDevelopmentMode, c.host],
    ['k1:acme', false, '0.0.0.0'],
  ],
  ['HITA_PUBLIC_URL', 'https://hita.example', (c) => c.publicUrl, 'https://hita.example'],
  [
    'HITA_SIGNING_SECRET',
    SECRET,
    (c) => c.storage.kind === 'fs' && c.storage.signingSecret,
    SECRET,
  ],
  ['HITA_URL_TTL_SECONDS', '60', (c) => c.urlTtlSeconds, 60],
  [
    'HITA_MAX_UPLOAD_BYTES',
    '2048',
    (c) => [c.storage.kind === 'fs' && c.storage.maxUploadBytes, c.limits.maxImageBytes],
    [2048, 2048],
  ],
  ['HITA_MAX_IMAGE_PIXELS', '4096', (c) => c.limits.maxImagePixels, 4096],
  ['HITA_MAX_COUNT', '4', (c) => c.limits.maxCount, 4],
  ['HITA_LEASE_MS', '5000', (c) => c.workers.leaseMs, 5000],
  [
    'HITA_RETENTION_HOURS',
    '0.5',
    (c) => [c.queue.retentionMs, c.limits.maxRetentionHours],
    [1_800_000, 0.5],
  ],
  ['HITA_MAX_QUEUED', '10', (c) => c.queue.maxQueued, 10],
  ['HITA_SCHEDULING', 'fifo', (c) => c.queue.scheduling, 'fifo'],
  ['HITA_TENANT_WEIGHTS', 'acme:3, beta_2:1', (c) => c.queue.tenantWeights, { acme: 3, beta_2: 1 }],
  ['HITA_TENANT_MAX_QUEUED', '50', (c) => c.queue.tenantMaxQueued, 50],
  ['HITA_TENANT_MAX_RUNNING', '2', (c) => c.queue.tenantMaxRunning, 2],
  ['HITA_WEBHOOK_SECRET', SECRET, (c) => c.webhooks.secret, SECRET],
  ['HITA_WEBHOOK_RETRY_HOURS', '0.5', (c) => c.webhooks.retryWindowMs, 1_800_000],
  ['HITA_WEBHOOK_TIMEOUT_SECONDS', '2.5', (c) => c.webhooks.timeoutMs, 2500],
  ['HITA_WEBHOOK_BACKOFF_MS', '20', (c) => c.webhooks.backoffBaseMs, 20],
  ['HITA_WEBHOOK_ALLOW_PRIVATE', 'true', (c) => c.webhooks.allowPrivate, true],
  ['LOG_LEVEL', 'debug', (c) => c.logLevel, 'debug'],
];

const S3 = { S3_ENDPOINT: 'http://minio:9000', S3_ACCESS_KEY: 'ak', S3_SECRET_KEY: 'sk' };

describe('readServerConfig reads each variable', () => {
  it('the table below covers every variable of the schema', () => {
    expect(CASES.map(([name]) => name).sort()).toEqual(Object.keys(env.shape).sort());
  });

  it.each(CASES)('%s=%s', (name, value, select, expected) => {
    const s3Part = name.startsWith('S3_') ? S3 : {};
    const redisPart: Record<string, string> =
      name === 'REDIS_URL' ? { HITA_WEBHOOK_SECRET: SECRET } : {};
    expect(select(read({ ...s3Part, ...redisPart, [name]: value }))).toEqual(expected);
  });

  it('the S3 store takes its whole slice from the S3 variables', () => {
    expect(read(S3).storage).toEqual({
      kind: 's3',
      endPoint: 'http://minio:9000',
      accessKey: 'ak',
      secretKey: 'sk',
      bucket: 'hita',
      region: 'us-east-1',
    });
  });

  it('HITA_DEVICES wins over HITA_WORKERS', () => {
    expect(read({ HITA_WORKERS: '4', HITA_DEVICES: '1' }).workers.devices).toEqual([1]);
  });

  it('HITA_WORKERS=0 starts no worker', () => {
    expect(read({ HITA_WORKERS: '0' }).workers.devices).toEqual([]);
  });

  it('keys set: introspection off unless HITA_INTROSPECTION says otherwise', () => {
    expect(read({ HITA_API_KEYS: 'k:t' }).api.queryLimits.introspection).toBe(false);
    expect(
      read({ HITA_API_KEYS: 'k:t', HITA_INTROSPECTION: 'true' }).api.queryLimits.introspection,
    ).toBe(true);
  });

  it('a blank HITA_API_KEYS is development mode', () => {
    expect(read({ HITA_API_KEYS: '  ' }).api.isDevelopmentMode).toBe(true);
  });

  it('readInferenceConfig is the inference slice of the same parse', () => {
    expect(readInferenceConfig({ ...BASE, HITA_EP: 'cuda,cpu', HITA_THREADS: '3' })).toEqual(
      read({ HITA_EP: 'cuda,cpu', HITA_THREADS: '3' }).inference,
    );
  });
});

describe('readServerConfig refuses bad environments', () => {
  it.each([
    ['PORT', '70000'],
    ['PORT', 'http'],
    ['HITA_WORKERS', '-1'],
    ['HITA_THREADS', '1.5'],
    ['HITA_DEVICES', '0,,1'],
    ['HITA_CORS_ORIGINS', 'https://a.example/path'],
    ['HITA_METRICS_TOKEN', 'short'],
    ['HITA_INTROSPECTION', 'yes'],
    ['HITA_SIGNING_SECRET', 'short'],
    ['HITA_MAX_UPLOAD_BYTES', '10'],
    ['HITA_LEASE_MS', '999'],
    ['HITA_RETENTION_HOURS', '0'],
    ['HITA_WEBHOOK_SECRET', 'short'],
    ['HITA_WEBHOOK_RETRY_HOURS', '0'],
    ['HITA_WEBHOOK_TIMEOUT_SECONDS', '-1'],
    ['HITA_WEBHOOK_ALLOW_PRIVATE', 'yes'],
    ['REDIS_URL', 'not a url'],
    ['LOG_LEVEL', 'loud'],
    ['HITA_PRECISION', 'fp16'],
    ['HITA_PRECISION', 'INT8'],
  ])('%s=%s, naming the variable', (name, value) => {
    // A list's entry is named by its index: HITA_CORS_ORIGINS.0.
    expect(problemOf({ [name]: value })).toMatch(new RegExp(`\\b${name}(\\.\\d+)?: `));
  });

  it('an unknown execution provider, naming HITA_EP and the known ones', () => {
    expect(problemOf({ HITA_EP: 'cuda,tpu' })).toMatch(
      /HITA_EP: unknown execution provider "tpu".*cpu/,
    );
  });

  it('REDIS_URL without HITA_WEBHOOK_SECRET: every replica must sign with the same one', () => {
    expect(problemOf({ REDIS_URL: 'redis://cache:6379' })).toContain(
      'HITA_WEBHOOK_SECRET: required with REDIS_URL',
    );
    // The generation commands read the inference slice only, and sign nothing.
    expect(
      readInferenceConfig({ ...BASE, REDIS_URL: 'redis://cache:6379' }).defaultModel,
    ).toBeTruthy();
  });

  it('an unknown precision, naming the three it takes', () => {
    expect(problemOf({ HITA_PRECISION: 'int2' })).toMatch(/HITA_PRECISION: .*fp32.*int8.*int4/);
  });

  it('S3 variables that do not come together', () => {
    expect(problemOf({ S3_ENDPOINT: 'http://minio:9000' })).toContain(
      'S3_ENDPOINT, S3_ACCESS_KEY and S3_SECRET_KEY go together',
    );
  });

  it('tenant weights and caps out of bounds, each with its variable', () => {
    for (const bad of ['acme', 'acme:0', 'acme:1001', 'acme:2,acme:3', 'a b:2', 'acme:1.5'])
      expect(problemOf({ HITA_TENANT_WEIGHTS: bad })).toContain('HITA_TENANT_WEIGHTS: ');
    expect(problemOf({ HITA_SCHEDULING: 'lifo' })).toContain('HITA_SCHEDULING: ');
    expect(problemOf({ HITA_TENANT_MAX_QUEUED: '0' })).toContain('HITA_TENANT_MAX_QUEUED: ');
    expect(problemOf({ HITA_TENANT_MAX_RUNNING: 'x' })).toContain('HITA_TENANT_MAX_RUNNING: ');
  });

  it('every problem at once, in one error', () => {
    const message = problemOf({
      PORT: '-1',
      HITA_MAX_COUNT: '0',
      HITA_EP: 'tpu',
      S3_ACCESS_KEY: 'ak',
    });
    for (const part of ['PORT: ', 'HITA_MAX_COUNT: ', 'HITA_EP: ', 'go together']) {
      expect(message).toContain(part);
    }
  });
});
