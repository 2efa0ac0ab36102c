/**
 * JobBatch through JobService on both real queue engines: the jobs of one operation are held
 * until it ends, then released together (commit) or removed together (abort). Without
 * redis-server the Redis run is skipped with a `SKIP` line.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ModelRegistry } from '../../src/inference/model/model-registry.js';
import { BullJobQueue } from '../../src/queue/redis/bull-job-queue.js';
import type { ClaimedJob, JobQueue } from '../../src/queue/job-queue.js';
import { SqliteJobQueue } from '../../src/queue/sqlite/sqlite-job-queue.js';
import { RetentionService } from '../../src/services/retention-service.js';
import { JobService } from '../../src/services/job-service.js';
import { FsObjectStore } from '../../src/storage/fs-object-store.js';
import { gradientPng, maskPng } from '../support/images.js';
import { startRedis } from '../support/redis-server.js';
import { hasService, tryStart } from '../support/require-service.js';

const redis = await tryStart(startRedis);
afterAll(async () => {
  if (!(redis instanceof Error)) await redis.stop();
});

let prefixes = 0;
const engines: [string, (dir: string) => JobQueue][] = [
  ['sqlite', (dir) => new SqliteJobQueue({ path: join(dir, 'queue.sqlite') })],
];
if (hasService('redis-server (job batch on redis)', redis)) {
  engines.push([
    'redis',
    () => new BullJobQueue({ redisUrl: redis.url, prefix: `batch${process.pid}x${++prefixes}` }),
  ]);
}

describe.each(engines)('JobBatch on %s', (_, openQueue) => {
  let dir: string;
  let queue: JobQueue;
  let jobs: JobService;
  let store: FsObjectStore;

  async function setUp(): Promise<void> {
    dir = await mkdtemp(join(tmpdir(), 'hita-batch-'));
    queue = openQueue(dir);
    await queue.start();
    const registry = new ModelRegistry({
      modelsDir: resolve('models'),
      defaultModel: 'hita-tiny-random',
    });
    store = new FsObjectStore({
      rootDir: join(dir, 'objects'),
      signingSecret: 'x'.repeat(32),
    });
    const limits = {
      maxCount: 16,
      maxImageBytes: 1 << 20,
      maxImagePixels: 1 << 20,
      maxRetentionHours: 168,
    };
    const retention = new RetentionService({ queue, store, uploadRetentionMs: 3_600_000 });
    jobs = new JobService({ queue, registry, store, limits, retention });
  }

  afterEach(async () => {
    await queue?.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function claimAll(withinMs = 3000): Promise<ClaimedJob[]> {
    const claims: ClaimedJob[] = [];
    const deadline = Date.now() + withinMs;
    while (Date.now() < deadline && claims.length < 2) {
      const claim = await queue.claim('worker-1', 10_000);
      if (claim) claims.push(claim);
      else await queue.waitForWork(50);
    }
    return claims;
  }

  it('holds both jobs of an operation, and abort removes them and frees their keys', async () => {
    await setUp();
    const batch = jobs.openBatch();
    const a = await jobs.generate('t', { classId: 1, idempotencyKey: 'op-a' }, batch);
    const b = await jobs.generate('t', { classId: 2 }, batch);
    expect(batch.jobIds).toEqual([a.id, b.id]);
    expect((await jobs.get('t', a.id)).status).toBe('QUEUED');
    expect(await queue.claim('worker-1', 10_000)).toBeNull();
    await batch.settle(true); // the operation failed
    expect(batch.state).toBe('aborted');
    expect(await jobs.find('t', a.id)).toBeNull();
    expect(await jobs.find('t', b.id)).toBeNull();
    expect((await queue.stats()).depth).toBe(0);
    await batch.commit(); // settled: nothing happens
    expect(await claimAll(300)).toEqual([]);
    const again = await jobs.generate('t', { classId: 1, idempotencyKey: 'op-a' });
    expect(again.id).not.toBe(a.id);
  });

  it('commit makes both jobs claimable, and a settled batch takes no more jobs', async () => {
    await setUp();
    const batch = jobs.openBatch();
    const a = await jobs.generate('t', { classId: 1 }, batch);
    const params = { ...a.params, seed: 2 };
    // An enqueue still in flight when commit starts: commit waits for it and releases it too.
    const pending = batch.enqueue({
      tenant: 't',
      kind: 'GENERATE',
      model: null,
      params,
      priority: 3,
    });
    await batch.settle(false);
    const b = (await pending).job;
    expect(batch.jobIds).toEqual([a.id, b.id]);
    const claims = await claimAll();
    expect(claims.map((claim) => claim.job.id)).toEqual([b.id, a.id]);
    await batch.abort(); // settled: nothing is discarded
    expect((await jobs.get('t', a.id)).status).toBe('RUNNING');
    await expect(jobs.generate('t', { classId: 1 }, batch)).rejects.toThrow(/already committed/);
  });

  it('leaves out of the batch a job it did not create (an idempotent repeat)', async () => {
    await setUp();
    const earlier = await jobs.generate('t', { classId: 1, idempotencyKey: 'k' });
    const batch = jobs.openBatch();
    const same = await jobs.generate('t', { classId: 1, idempotencyKey: 'k' }, batch);
    expect(same.id).toBe(earlier.id);
    expect(batch.jobIds).toEqual([]);
    await batch.abort();
    expect((await jobs.get('t', earlier.id)).status).toBe('QUEUED');
  });

  it('abort also removes the input copies its jobs made', async () => {
    await setUp();
    await store.put('t/t/uploads/a.png', await gradientPng(48, 40), { contentType: 'image/png' });
    const mask = await maskPng(48, 40, (x) => x > 20);
    await store.put('t/t/uploads/m.png', mask, { contentType: 'image/png' });
    const batch = jobs.openBatch();
    const input = { imageKey: 't/t/uploads/a.png', maskKey: 't/t/uploads/m.png' };
    await jobs.inpaint('t', input, batch);
    await jobs.inpaint('t', { ...input, seed: 3 }, batch);
    expect(await store.list('t/t/inputs/')).toHaveLength(4);
    await batch.abort();
    expect(await store.list('t/t/inputs/')).toEqual([]);
    expect(await store.list('t/t/uploads/')).toHaveLength(2);
  });
});
