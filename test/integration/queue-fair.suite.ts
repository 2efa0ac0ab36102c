/**
 * Conformance scenarios for fair scheduling across tenants (src/queue/fair-scheduling.ts) and
 * the tenant quotas: the claim order under `fair` and `fifo`, weights, image counts, the
 * QUEUE_FULL scopes, running caps, hand-backs, and `workAhead` against the real start order.
 * A worker here is a loop of claim → complete on the queue itself: no server is needed to see
 * which job a claim takes. Registered by describeJobQueue (queue.suite.ts) for every engine.
 */
import { expect, it } from 'vitest';
import type { AppError } from '../../src/errors.js';
import type {
  ClaimedJob,
  EnqueueInput,
  JobOutput,
  JobQueue,
  JobRecord,
} from '../../src/queue/job-queue.js';
import type { OpenQueue } from './queue-request.suite.js';

/** What the scenarios borrow from the suite that registers them. */
export interface FairScenarioKit {
  open: OpenQueue;
  input: (overrides?: Partial<EnqueueInput>) => EnqueueInput;
  claimNext: (queue: JobQueue) => Promise<ClaimedJob>;
  outputsOf: (id: string) => JobOutput[];
}

/** Registers the scenarios inside the engine's describe block. */
export function fairScenarios(kit: FairScenarioKit): void {
  const { open, input, claimNext, outputsOf } = kit;

  function job(tenant: string, count = 1, overrides: Partial<EnqueueInput> = {}): EnqueueInput {
    const base = input({ tenant, ...overrides });
    return { ...base, params: { ...base.params, count } };
  }

  async function enqueueMany(queue: JobQueue, inputs: EnqueueInput[]): Promise<JobRecord[]> {
    const jobs: JobRecord[] = [];
    // One after another: each job's place depends on the ones before it.
    for (const one of inputs) jobs.push((await queue.enqueue(one)).job);
    return jobs;
  }

  /** Claims and completes `n` jobs one at a time (one worker, one job at a time). */
  async function runInOrder(queue: JobQueue, n: number): Promise<JobRecord[]> {
    const started: JobRecord[] = [];
    for (let i = 0; i < n; i += 1) {
      const claim = await claimNext(queue);
      started.push(claim.job);
      await queue.complete(claim, outputsOf(claim.job.id));
    }
    return started;
  }

  async function refusal(promise: Promise<unknown>): Promise<AppError> {
    const error = (await promise.then(
      () => null,
      (e: unknown) => e,
    )) as AppError | null;
    if (!error) throw new Error('expected the enqueue to be refused');
    return error;
  }

  it('fair: a one-job tenant behind a 50-job tenant starts after at most one more of theirs', async () => {
    const queue = await open({ scheduling: 'fair' });
    await enqueueMany(
      queue,
      Array.from({ length: 50 }, () => job('tenant-a')),
    );
    const first = await claimNext(queue); // the worker is busy with A's first job
    const { job: lone } = await queue.enqueue(job('tenant-b'));
    await queue.complete(first, outputsOf(first.job.id));
    const started = await runInOrder(queue, 50);
    const indexOfB = started.findIndex((j) => j.id === lone.id);
    expect(indexOfB).toBeGreaterThanOrEqual(0);
    expect(indexOfB).toBeLessThanOrEqual(1); // at most one more of A's jobs before B's
  });

  it('fifo: the same tenant B waits behind all of A, as before', async () => {
    const queue = await open({ scheduling: 'fifo' });
    await enqueueMany(
      queue,
      Array.from({ length: 10 }, () => job('tenant-a')),
    );
    const first = await claimNext(queue);
    const { job: lone } = await queue.enqueue(job('tenant-b'));
    await queue.complete(first, outputsOf(first.job.id));
    const started = await runInOrder(queue, 10);
    expect(started.findIndex((j) => j.id === lone.id)).toBe(9);
  });

  it('fair: weights and image counts set each tenant’s share', async () => {
    const queue = await open({ scheduling: 'fair', tenantWeights: { 'tenant-a': 2 } });
    await enqueueMany(queue, [
      ...Array.from({ length: 6 }, () => job('tenant-a')),
      ...Array.from({ length: 6 }, () => job('tenant-b')),
    ]);
    const weighted = await runInOrder(queue, 6);
    // Weight 2 against 1: A gets two images for each of B's.
    expect(weighted.map((j) => j.tenant.slice(-1)).join('')).toBe('abaaba');
    await runInOrder(queue, 6);

    // Equal weights, but A's jobs make 4 images each and B's 1: B runs 4 jobs per A job.
    await enqueueMany(queue, [
      ...Array.from({ length: 3 }, () => job('tenant-c', 4)),
      ...Array.from({ length: 6 }, () => job('tenant-d', 1)),
    ]);
    const byImages = await runInOrder(queue, 9);
    expect(byImages.map((j) => j.tenant.slice(-1)).join('')).toBe('cddddcddc');
  });

  it('fair: priorities still come first, and a handed-back job keeps its fair place', async () => {
    const queue = await open({ scheduling: 'fair' });
    const [a1, a2, b1] = await enqueueMany(queue, [
      job('tenant-a'),
      job('tenant-a'),
      job('tenant-b'),
    ]);
    const { job: urgent } = await queue.enqueue(job('tenant-a', 1, { priority: 5 }));
    const claim = await claimNext(queue);
    expect(claim.job.id).toBe(urgent.id);
    await queue.complete(claim, outputsOf(urgent.id));
    const interrupted = await claimNext(queue);
    expect(interrupted.job.id).toBe(a1?.id);
    await queue.release(interrupted); // a shutdown hands it back
    const order = await runInOrder(queue, 3);
    expect(order.map((j) => j.id)).toEqual([a1?.id, b1?.id, a2?.id]);
  });

  it('refuses past a tenant’s queued cap with scope tenant, past the global one with scope global, and frees both', async () => {
    // fifo: which job a claim takes below is then plain age; the quotas hold in both modes.
    const queue = await open({ scheduling: 'fifo', tenantMaxQueued: 2, maxQueued: 3 });
    const [a1] = await enqueueMany(queue, [job('tenant-a'), job('tenant-a')]);
    const tenantFull = await refusal(queue.enqueue(job('tenant-a')));
    expect(tenantFull).toMatchObject({
      code: 'QUEUE_FULL',
      retryable: true,
      details: { maxQueued: 2, scope: 'tenant' },
    });
    await queue.enqueue(job('tenant-b'));
    const globalFull = await refusal(queue.enqueue(job('tenant-c')));
    expect(globalFull).toMatchObject({
      code: 'QUEUE_FULL',
      details: { maxQueued: 3, scope: 'global' },
    });
    // A cancel frees a place of both, and so does a claim (the job is no longer waiting).
    await queue.cancel(a1?.id ?? '');
    await queue.enqueue(job('tenant-a'));
    const claim = await claimNext(queue);
    expect(claim.job.tenant).toBe('tenant-a');
    expect((await queue.enqueue(job('tenant-a'))).created).toBe(true);
    expect(await refusal(queue.enqueue(job('tenant-d')))).toMatchObject({ code: 'QUEUE_FULL' });
  });

  it('skips a tenant at its running cap: its jobs wait QUEUED while others run', async () => {
    // fifo, so A's second job would come next without the cap.
    const queue = await open({ scheduling: 'fifo', tenantMaxRunning: 1 });
    const [a1, a2] = await enqueueMany(queue, [job('tenant-a'), job('tenant-a')]);
    const [b1] = await enqueueMany(queue, [job('tenant-b')]);
    const first = await claimNext(queue);
    expect(first.job.id).toBe(a1?.id);
    const second = await claimNext(queue);
    expect(second.job.id).toBe(b1?.id); // A is at its cap, so A's second job is skipped
    expect(await queue.claim('worker-2', 10_000)).toBeNull();
    expect((await queue.get(a2?.id ?? ''))?.status).toBe('QUEUED');
    await queue.complete(first, outputsOf(first.job.id));
    const third = await claimNext(queue);
    expect(third.job.id).toBe(a2?.id);
  });

  it('claims a due job behind a long run of held ones of its own tenant', async () => {
    const queue = await open({ scheduling: 'fair' });
    const held = await enqueueMany(
      queue,
      Array.from({ length: 40 }, () => job('tenant-a', 1, { hold: true })),
    );
    const [due] = await enqueueMany(queue, [job('tenant-a')]);
    const claim = await claimNext(queue);
    expect(claim.job.id).toBe(due?.id);
    await queue.releaseHeld(held.map((j) => j.id));
    expect((await claimNext(queue)).job.id).toBe(held[0]?.id);
  });

  it('workAhead matches the actual start order and images of a mixed two-tenant run', async () => {
    const queue = await open({ scheduling: 'fair' });
    const jobs = await enqueueMany(queue, [
      job('tenant-a', 2),
      job('tenant-a', 1),
      job('tenant-b', 3),
      job('tenant-a', 4),
      job('tenant-b', 1),
      job('tenant-a', 1, { priority: 1 }),
      job('tenant-b', 2),
      job('tenant-a', 1),
    ]);
    const ahead = await queue.workAheadMany(jobs.map((j) => j.id));
    for (const one of jobs)
      expect(await queue.workAhead(one.id)).toEqual(ahead.get(one.id) ?? null);
    const started = await runInOrder(queue, jobs.length);
    let images = 0;
    started.forEach((one, index) => {
      expect(ahead.get(one.id)).toEqual({ position: index + 1, imagesAhead: images });
      images += Number(one.params.count);
    });
    expect(await queue.workAhead(jobs[0]?.id ?? '')).toBeNull();
    expect(await queue.position('no-such-job')).toBeNull();
    expect((await queue.workAheadMany(['no-such-job'])).size).toBe(0);
  });
}
