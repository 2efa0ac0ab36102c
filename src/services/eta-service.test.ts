import { afterEach, describe, expect, it, vi } from 'vitest';
import type { EnqueueInput, JobRecord } from '../queue/job-queue.js';
import { SqliteJobQueue } from '../queue/sqlite/sqlite-job-queue.js';
import { EtaService, type EtaJob } from './eta-service.js';

function input(count: number): EnqueueInput {
  return {
    tenant: 't',
    kind: 'GENERATE',
    model: null,
    params: { classId: 1, count, seed: 1, cfgScale: 4, temperature: 1, topK: 0, topP: 1 },
  };
}

function etaJob(job: JobRecord): EtaJob {
  return {
    id: job.id,
    status: job.status,
    images: job.params.count,
    progress: job.progress,
    startedAtMs: job.startedAt ? Date.parse(job.startedAt) : null,
  };
}

let queue: SqliteJobQueue | null = null;
afterEach(async () => {
  await queue?.close();
  queue = null;
});

describe('EtaService', () => {
  it('estimates from the measured throughput and the work ahead, one queue read per job', async () => {
    let now = 1_000_000;
    queue = new SqliteJobQueue({ path: ':memory:', clock: () => now });
    await queue.start();
    const eta = new EtaService({ queue, aheadOf: queue, clock: () => now, snapshotTtlMs: 250 });
    const running = (await queue.enqueue(input(2))).job;
    const second = (await queue.enqueue(input(1))).job;
    const third = (await queue.enqueue(input(3))).job;
    expect(await eta.estimate(etaJob(second))).toBeNull(); // nothing measured yet

    await queue.reportThroughput('w', { model: 'm', imagesPerSecond: 2 });
    expect(await eta.estimate(etaJob(second))).toBeNull(); // the shared read is 250 ms fresh
    const claim = await queue.claim('w', 60_000);
    expect(claim?.job.id).toBe(running.id);
    // A quarter of its time done: 2 × 0.75 = 1.5 images left in flight.
    await queue.progress(claim!, { phase: 'patch', step: 0, total: 64 });
    now += 250;
    const workAhead = vi.spyOn(queue, 'workAhead');
    expect(await eta.estimate(etaJob(second))).toEqual({
      startMs: now + 750,
      finishMs: now + 1250,
    });
    expect(await eta.estimate(etaJob(third))).toEqual({
      startMs: now + 1250,
      finishMs: now + 2750,
    });
    await eta.estimate(etaJob(third)); // its other field: served from the same read
    expect(workAhead).toHaveBeenCalledTimes(2);

    const runningNow = (await queue.get(running.id))!;
    expect(await eta.estimate(etaJob(runningNow))).toEqual({
      startMs: Date.parse(runningNow.startedAt!),
      finishMs: now + 750,
    });
    const done = await queue.complete(claim!, []);
    expect(await eta.estimate(etaJob(done))).toBeNull();
  });
});
