/**
 * The queue conformance suite over both engines: SQLite on a temporary file, and BullMQ on a
 * redis-server this file starts on a free port (and stops). Without redis-server the BullMQ run
 * and the cross-engine comparison are skipped with a `SKIP redis-server …: <why>` line, except
 * in CI, where a test fails instead (test/support/require-service.ts).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { BullJobQueue } from '../../src/queue/redis/bull-job-queue.js';
import type { JobQueueConfig } from '../../src/queue/create-job-queue.js';
import type { JobQueue } from '../../src/queue/job-queue.js';
import type { JobQueueTunables } from '../../src/queue/queue-tunables.js';
import { SqliteJobQueue } from '../../src/queue/sqlite/sqlite-job-queue.js';
import { describeJobQueue, eventTranscripts, type QueueFixture } from './queue.suite.js';
import { startRedis } from '../support/redis-server.js';
import { hasService, tryStart } from '../support/require-service.js';

/** Plain-JSON tunables a child process can be given (functions cannot cross). */
function portable(tunables: JobQueueTunables): JobQueueTunables {
  const { retryBackoffMs: _backoff, clock: _clock, onWarning: _warn, ...plain } = tunables;
  return plain;
}

/** Opens queues on one storage and closes them all at cleanup. */
function fixtureOf(
  config: JobQueueConfig,
  build: () => JobQueue,
  removeStorage: () => Promise<void>,
): Promise<QueueFixture> {
  const opened: JobQueue[] = [];
  const start = async (): Promise<JobQueue> => {
    const queue = build();
    opened.push(queue);
    await queue.start();
    return queue;
  };
  return start().then((queue) => ({
    queue,
    reopen: start,
    config,
    cleanup: async () => {
      await Promise.all(opened.map((q) => q.close()));
      await removeStorage();
    },
  }));
}

describeJobQueue('sqlite', async (tunables = {}) => {
  const dir = await mkdtemp(join(tmpdir(), 'hita-queue-'));
  const path = join(dir, 'queue.db');
  return fixtureOf(
    { kind: 'sqlite', path, ...portable(tunables) },
    () => new SqliteJobQueue({ path, ...tunables }),
    () => rm(dir, { recursive: true, force: true }),
  );
});

const redis = await tryStart(startRedis);

afterAll(async () => {
  if (redis instanceof Error) return;
  const exited = new Promise((resolve) => redis.process.once('exit', resolve));
  redis.process.kill('SIGTERM');
  await exited;
  await rm(redis.dir, { recursive: true, force: true });
});

const hasRedis = hasService('redis-server (bullmq queue)', redis);
if (hasRedis) {
  let prefixes = 0;
  describeJobQueue('bullmq', async (tunables = {}) => {
    // A fresh prefix per test isolates tests on one server without flushing it.
    const options = {
      redisUrl: redis.url,
      prefix: `test${process.pid}x${++prefixes}`,
      stalledCheckIntervalMs: 100,
    };
    return fixtureOf(
      { kind: 'redis', ...options, ...portable(tunables) },
      () => new BullJobQueue({ ...options, ...tunables }),
      async () => undefined,
    );
  });
  describe('BullJobQueue on a misconfigured Redis', () => {
    it('warns through onWarning when maxmemory-policy is not noeviction', async () => {
      const admin = new Redis(redis.url);
      await admin.config('SET', 'maxmemory-policy', 'allkeys-lru');
      const warnings: string[] = [];
      const queue = new BullJobQueue({
        redisUrl: redis.url,
        prefix: `evict${process.pid}`,
        onWarning: (message) => warnings.push(message),
      });
      try {
        await queue.start();
        expect(warnings.join('\n')).toMatch(/maxmemory-policy is allkeys-lru; expected noeviction/);
      } finally {
        await queue.close();
        await admin.config('SET', 'maxmemory-policy', 'noeviction');
        admin.disconnect();
      }
    });
  });
}

// Without a second engine there is nothing to compare: skipped with the bullmq run (the gate
// above already printed why, or failed under CI), never a green test that compared nothing.
describe.runIf(hasRedis)('JobQueue engines', () => {
  it('emit identical event type sequences for the same scenarios', () => {
    const sqlite = eventTranscripts.get('sqlite');
    const bullmq = eventTranscripts.get('bullmq');
    expect(sqlite?.size).toBeGreaterThan(5);
    expect(Object.fromEntries(bullmq ?? [])).toEqual(Object.fromEntries(sqlite ?? []));
  });
});
