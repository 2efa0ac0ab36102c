/**
 * Conformance scenarios for deleting jobs: `delete` of a finished job (record, events and
 * idempotency key in one atomic step, a live-only `deleted` event, a removal note for its
 * objects) and retention that honours a job's own `retentionMs`. Registered by describeJobQueue
 * (queue.suite.ts) for every engine.
 */
import { expect, it, vi } from 'vitest';
import type {
  ClaimedJob,
  EnqueueInput,
  JobEvent,
  JobOutput,
  JobQueue,
} from '../../src/queue/job-queue.js';
import type { OpenQueue } from './queue-request.suite.js';
import { TestClock } from '../support/test-clock.js';

/** What the scenarios borrow from the suite that registers them. */
export interface DeleteScenarioKit {
  open: OpenQueue;
  input: (overrides?: Partial<EnqueueInput>) => EnqueueInput;
  claimNext: (queue: JobQueue) => Promise<ClaimedJob>;
  outputsOf: (id: string) => JobOutput[];
}

/** Registers the scenarios inside the engine's describe block. */
export function deleteScenarios(kit: DeleteScenarioKit): void {
  const { open, input, claimNext, outputsOf } = kit;

  it('deletes a finished job with its events and idempotency key, and notes it for its objects', async () => {
    const queue = await open();
    const seen: JobEvent[] = [];
    queue.onEvent((event) => seen.push(event));
    const { job } = await queue.enqueue(input({ idempotencyKey: 'order:9' }));
    const keep = (await queue.enqueue(input())).job;
    const done = await queue.complete(await claimNext(queue), outputsOf(job.id));
    expect(done.status).toBe('SUCCEEDED');

    const removed = await queue.delete(job.id);
    expect(removed).toEqual({
      id: job.id,
      tenant: 'tenant-a',
      params: job.params,
      outputs: outputsOf(job.id),
    });
    expect(await queue.get(job.id)).toBeNull();
    await expect(queue.events(job.id, 0)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect((await queue.list('tenant-a', { first: 10 })).jobs.map((j) => j.id)).toEqual([keep.id]);
    expect((await queue.stats()).byStatus.SUCCEEDED).toBe(0);
    await expect(queue.delete(job.id)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    // The key is free again: the same request makes a new job.
    const again = await queue.enqueue(input({ idempotencyKey: 'order:9' }));
    expect(again.created).toBe(true);
    expect(again.job.id).not.toBe(job.id);

    // Live only: the last sequence and status, never replayed.
    await vi.waitFor(() =>
      expect(seen.filter((e) => e.jobId === job.id).at(-1)).toMatchObject({
        type: 'deleted',
        sequence: done.sequence,
        status: 'SUCCEEDED',
        tenant: 'tenant-a',
      }),
    );
    expect(await queue.removedJobs(10)).toEqual([removed]);
    await queue.forgetRemoved([job.id, 'no-such-job']);
    expect(await queue.removedJobs(10)).toEqual([]);
  });

  it('refuses to delete QUEUED and RUNNING jobs (CONFLICT); deletes FAILED and CANCELLED ones', async () => {
    const queue = await open();
    const { job } = await queue.enqueue(input({ maxAttempts: 1 }));
    await expect(queue.delete(job.id)).rejects.toMatchObject({
      code: 'CONFLICT',
      details: { status: 'QUEUED' },
    });
    const claim = await claimNext(queue);
    await expect(queue.delete(job.id)).rejects.toMatchObject({
      code: 'CONFLICT',
      details: { status: 'RUNNING' },
    });
    expect((await queue.get(job.id))?.status).toBe('RUNNING');
    await queue.fail(claim, { code: 'GENERATION_FAILED', message: 'NaN', retryable: false });
    expect((await queue.delete(job.id)).id).toBe(job.id);
    const cancelled = (await queue.enqueue(input())).job;
    await queue.cancel(cancelled.id);
    expect((await queue.delete(cancelled.id)).outputs).toEqual([]);
    await expect(queue.delete('no-such-job')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect((await queue.removedJobs(10)).map((r) => r.id).sort()).toEqual(
      [job.id, cancelled.id].sort(),
    );
    expect(await queue.claim('worker-1', 1000)).toBeNull();
  });

  it('deletes an EXPIRED job', async () => {
    const clock = new TestClock();
    const queue = await open({ clock: clock.now, queuedTtlMs: 60_000 });
    const { job } = await queue.enqueue(input());
    clock.advance(60_000);
    await vi.waitFor(async () => expect((await queue.get(job.id))?.status).toBe('EXPIRED'), {
      timeout: 5000,
      interval: 50,
    });
    expect((await queue.delete(job.id)).id).toBe(job.id);
  });

  it("keeps a job for its own retentionMs when shorter than the queue's, and notes what retention removed", async () => {
    const clock = new TestClock();
    const queue = await open({ clock: clock.now, retentionMs: 3_600_000 });
    const short = (await queue.enqueue(input({ retentionMs: 300 }))).job;
    const long = (await queue.enqueue(input({ retentionMs: 7_200_000 }))).job;
    expect(short.retentionMs).toBe(300);
    expect(long.retentionMs).toBeNull(); // the queue's retention is the shorter one
    await expect(queue.enqueue(input({ retentionMs: 0 }))).rejects.toMatchObject({
      code: 'BAD_USER_INPUT',
    });
    await queue.complete(await claimNext(queue), outputsOf(short.id));
    await queue.complete(await claimNext(queue), outputsOf(long.id));
    clock.advance(300); // the short job's own retention is over, the queue's is not
    await vi.waitFor(async () => expect(await queue.get(short.id)).toBeNull(), {
      timeout: 5000,
      interval: 50,
    });
    expect((await queue.get(long.id))?.status).toBe('SUCCEEDED');
    expect(await queue.removedJobs(10)).toEqual([
      { id: short.id, tenant: 'tenant-a', params: short.params, outputs: outputsOf(short.id) },
    ]);
    // A retried job is no longer finished: its own retention waits for its next end.
    const failing = (await queue.enqueue(input({ retentionMs: 300, maxAttempts: 1 }))).job;
    await queue.fail(await claimNext(queue), {
      code: 'GENERATION_FAILED',
      message: 'x',
      retryable: false,
    });
    await queue.retry(failing.id);
    clock.advance(600);
    await new Promise((resolve) => setTimeout(resolve, 200)); // sweeps (every 50 ms) run on it
    expect((await queue.get(failing.id))?.status).toBe('QUEUED');
  });
}
