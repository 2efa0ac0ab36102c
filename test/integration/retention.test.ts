/**
 * RetentionService against real parts: both queue engines (SQLite on a temp file; BullMQ on a
 * redis-server of this file's own, skipped with a `SKIP` line without one) and both stores (fs;
 * S3 on Swift, skipped likewise). A short retention and a movable clock stand in for hours.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { errors } from '../../src/errors.js';
import { BullJobQueue } from '../../src/queue/redis/bull-job-queue.js';
import type { JobOutput, JobQueue } from '../../src/queue/job-queue.js';
import { SqliteJobQueue } from '../../src/queue/sqlite/sqlite-job-queue.js';
import { outputKeys } from '../../src/storage/object-key.js';
import { RetentionService } from '../../src/services/retention-service.js';
import { createObjectStore } from '../../src/storage/create-object-store.js';
import type { ObjectStore } from '../../src/storage/object-store.js';
import { startRedis } from '../support/redis-server.js';
import { startS3Server } from '../support/s3-server.js';

const HOUR_MS = 3_600_000;
const TENANT = `ten${process.pid}`;

const [redis, s3] = await Promise.all([
  startRedis().catch((error: unknown) =>
    error instanceof Error ? error : new Error(String(error)),
  ),
  startS3Server().catch((error: unknown) =>
    error instanceof Error ? error : new Error(String(error)),
  ),
]);
afterAll(async () => {
  if (!(redis instanceof Error)) await redis.stop();
  if (s3 && !(s3 instanceof Error)) await s3.stop();
});

type Open<T> = (dir: string, retentionMs: number) => T;
const queues: [string, Open<JobQueue>][] = [
  [
    'sqlite',
    (dir, retentionMs) =>
      new SqliteJobQueue({ path: join(dir, 'q.db'), retentionMs, sweepIntervalMs: 50 }),
  ],
];
if (redis instanceof Error) console.log(`SKIP retention on redis: ${redis.message}`);
else {
  let prefixes = 0;
  queues.push([
    'redis',
    (_, retentionMs) =>
      new BullJobQueue({
        redisUrl: redis.url,
        prefix: `ret${process.pid}x${++prefixes}`,
        retentionMs,
        sweepIntervalMs: 50,
      }),
  ]);
}
const stores: [string, Open<ObjectStore>][] = [
  [
    'fs',
    (dir) => createObjectStore({ kind: 'fs', rootDir: join(dir, 'objects'), signingSecret: 'x' }),
  ],
];
if (s3 === null) console.log('SKIP retention on s3: Swift is not installed');
else if (s3 instanceof Error) console.log(`SKIP retention on s3: ${s3.message}`);
else {
  const { endPoint, accessKey, secretKey } = s3;
  const bucket = `hita-retention-${process.pid}`;
  stores.push([
    's3',
    () => createObjectStore({ kind: 's3', endPoint, accessKey, secretKey, bucket }),
  ]);
}
const pairs = queues.flatMap(([q, openQueue]) =>
  stores.map(([s, openStore]) => [`${q} queue, ${s} store`, openQueue, openStore] as const),
);

describe.each(pairs)('retention on the %s', (_, openQueue, openStore) => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function setUp() {
    const dir = await mkdtemp(join(tmpdir(), 'hita-retention-'));
    const queue = openQueue(dir, HOUR_MS);
    const store = openStore(dir, HOUR_MS);
    await store.start();
    await queue.start();
    cleanups.push(async () => {
      await queue.close();
      await store.close();
      await rm(dir, { recursive: true, force: true });
    });
    return { queue, store };
  }

  const png = Buffer.from('png bytes');
  /** A finished job whose objects exist: two images with thumbnails, an input copy, a stray. */
  async function finishedJob(queue: JobQueue, store: ObjectStore, retentionMs?: number) {
    const copy = `t/${TENANT}/inputs/${randomUUID()}/image.png`;
    const { job } = await queue.enqueue({
      tenant: TENANT,
      kind: 'INPAINT',
      model: null,
      params: {
        count: 2,
        seed: 1,
        cfgScale: 1,
        temperature: 1,
        topK: 0,
        topP: 1,
        imageKey: `t/${TENANT}/uploads/given.png`,
        inputCopies: { image: copy },
      },
      ...(retentionMs === undefined ? {} : { retentionMs }),
    });
    const claim = await vi.waitFor(
      async () => {
        const claimed = await queue.claim('w', 10_000);
        expect(claimed?.job.id).toBe(job.id);
        return claimed!;
      },
      { timeout: 10_000, interval: 50 },
    );
    const outputs: JobOutput[] = [0, 1].map((i) => {
      const keys = outputKeys(TENANT, job.id, i, 1 + i);
      return {
        key: keys.png,
        thumbnailKey: keys.webp,
        width: 8,
        height: 8,
        seed: 1 + i,
        format: 'png',
      };
    });
    const stray = outputKeys(TENANT, job.id, 9, 9).png; // an attempt that never completed
    const keys = [...outputs.flatMap((o) => [o.key, o.thumbnailKey]), copy, stray];
    for (const key of keys) await store.put(key, png, { contentType: 'image/png' });
    await queue.complete(claim, outputs);
    return { job, keys };
  }

  it("deletes a job's images, thumbnails, input copies and strays when retention deletes the job", async () => {
    const { queue, store } = await setUp();
    const short = await finishedJob(queue, store, 300);
    const kept = await finishedJob(queue, store);
    const retention = new RetentionService({ queue, store, uploadRetentionMs: HOUR_MS });
    await vi.waitFor(async () => expect(await queue.get(short.job.id)).toBeNull(), {
      timeout: 5000,
      interval: 50,
    });
    // Its record is gone, its note is what says its objects are still to go.
    expect((await queue.removedJobs(10)).map((r) => r.id)).toEqual([short.job.id]);
    const pass = await retention.runOnce();
    expect(pass.jobs).toBe(1);
    for (const key of short.keys) expect(await store.stat(key), key).toBeNull();
    for (const key of kept.keys) expect(await store.stat(key), key).not.toBeNull();
    expect(await queue.removedJobs(10)).toEqual([]);
  });

  it('keeps the note when the store fails, and the next pass deletes the objects', async () => {
    const { queue, store } = await setUp();
    const { job, keys } = await finishedJob(queue, store);
    await queue.delete(job.id);
    // The parts of the store a pass uses, with deletes failing.
    const broken = {
      list: (prefix: string) => store.list(prefix),
      browse: (prefix: string) => store.browse(prefix),
      delete: async () => {
        throw errors.internal('the store is down', undefined, true);
      },
    } as unknown as ObjectStore;
    const warnings: string[] = [];
    const failing = new RetentionService({
      queue,
      store: broken,
      uploadRetentionMs: HOUR_MS,
      onWarning: (message) => warnings.push(message),
    });
    expect(await failing.releaseNow((await queue.removedJobs(1))[0]!)).toBe(false);
    expect(warnings.join()).toMatch(/left for the next retention pass/);
    await expect(failing.runOnce()).rejects.toThrow(/the store is down/);
    expect((await queue.removedJobs(10)).map((r) => r.id)).toEqual([job.id]);
    await new RetentionService({ queue, store, uploadRetentionMs: HOUR_MS }).runOnce();
    for (const key of keys) expect(await store.stat(key), key).toBeNull();
    expect(await queue.removedJobs(10)).toEqual([]);
  });

  it('deletes uploads older than the upload retention, and nothing else', async () => {
    const { queue, store } = await setUp();
    const { keys } = await finishedJob(queue, store);
    const uploads = [`t/${TENANT}/uploads/a.png`, `t/${TENANT}b/uploads/b.png`];
    for (const key of uploads) await store.put(key, png, { contentType: 'image/png' });
    let now = Date.now();
    const retention = new RetentionService({
      queue,
      store,
      uploadRetentionMs: HOUR_MS,
      clock: () => now,
    });
    expect(await retention.runOnce()).toEqual({ jobs: 0, uploads: 0 });
    for (const key of uploads) expect(await store.stat(key)).not.toBeNull();
    now += 2 * HOUR_MS;
    expect((await retention.runOnce()).uploads).toBe(2);
    for (const key of uploads) expect(await store.stat(key)).toBeNull();
    for (const key of keys) expect(await store.stat(key), key).not.toBeNull();
  });
});
