/**
 * The distributed stack's services on one machine: a redis-server (BullMQ queue) and the Swift
 * S3 server (object store), started together, and the env of src/config.ts that points
 * `hita serve`/`hita worker` at them.
 */
import { startRedis, type RedisServer } from './redis-server.js';
import { SWIFT_MISSING, requireService, tryStart } from './require-service.js';
import { startS3Server, type S3Server } from './s3-server.js';

/** Both services, started. */
export interface RedisS3Stack {
  redis: RedisServer;
  s3: S3Server;
  /** REDIS_URL and S3_* for a fresh bucket (`S3_BUCKET` is `<bucketPrefix>-<n>`). */
  env(bucketPrefix?: string): Record<string, string>;
  /** Stops both; idempotent. */
  stop(): Promise<void>;
}

/** Each call's bucket is new, so runs and suites never see each other's objects. */
let buckets = 0;

/**
 * Starts both services. Call at module scope; `requireRedisS3Stack` decides what a missing one
 * means (a SKIP line locally, a failing test under CI=true).
 * @returns the stack, or the Errors of the services that did not start (the others are stopped)
 */
export async function startRedisS3Stack(): Promise<RedisS3Stack | Error[]> {
  const [redis, s3] = await Promise.all([
    tryStart(startRedis),
    tryStart(startS3Server, SWIFT_MISSING),
  ]);
  if (redis instanceof Error || s3 instanceof Error) {
    if (!(redis instanceof Error)) await redis.stop();
    if (!(s3 instanceof Error)) await s3.stop();
    return [redis, s3].filter((started): started is Error => started instanceof Error);
  }
  let stopping: Promise<void> | null = null;
  return {
    redis,
    s3,
    env: (bucketPrefix = 'hita') => ({
      REDIS_URL: redis.url,
      HITA_WEBHOOK_SECRET: 'test-webhook-secret-0123456789',
      S3_ENDPOINT: s3.endPoint,
      S3_ACCESS_KEY: s3.accessKey,
      S3_SECRET_KEY: s3.secretKey,
      S3_BUCKET: `${bucketPrefix}-${process.pid}-${++buckets}`,
    }),
    stop: () => (stopping ??= Promise.all([redis.stop(), s3.stop()]).then(() => undefined)),
  };
}

/** `requireService` for the whole stack: `what` names the suite in the SKIP line. */
export function requireRedisS3Stack(
  what: string,
  stack: RedisS3Stack | Error[],
): stack is RedisS3Stack {
  const missing = Array.isArray(stack) ? stack.map((error) => error.message).join('; ') : '';
  return requireService(`redis-server and S3 server (${what})`, !Array.isArray(stack), missing);
}
