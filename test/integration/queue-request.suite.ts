/**
 * Conformance scenarios for what one API request asks of the queue beyond a plain enqueue:
 * idempotency keys bound to a fingerprint, and held jobs (released or discarded together when
 * the operation that made them ends). Registered by describeJobQueue (queue.suite.ts) for every
 * engine, so both pass the same assertions.
 */
import { expect, it, vi } from 'vitest';
import type { ClaimedJob, EnqueueInput, JobQueue } from '../../src/queue/job-queue.js';
import type { JobQueueTunables } from '../../src/queue/queue-tunables.js';
import { TestClock } from '../support/test-clock.js';

/** Opens a fresh queue for one test; the caller's afterEach closes it. */
export type OpenQueue = (tunables?: JobQueueTunables) => Promise<JobQueue>;

/** Registers the scenarios inside the engine's describe block. */
export function requestScenarios(
  open: OpenQueue,
  input: (overrides?: Partial<EnqueueInput>) => EnqueueInput,
): void {
  it('refuses a reused idempotency key with another fingerprint; one stored without matches any', async () => {
    const queue = await open();
    const bound = input({ idempotencyKey: 'order:1', idempotencyFingerprint: 'f1' });
    const first = await queue.enqueue(bound);
    const again = await queue.enqueue({ ...bound, priority: 3 });
    expect(again).toMatchObject({ created: false, job: { id: first.job.id } });
    const other = { ...bound, idempotencyFingerprint: 'f2' };
    await expect(queue.enqueue(other)).rejects.toMatchObject({
      code: 'CONFLICT',
      details: { idempotencyKey: 'order:1' },
    });
    // Another tenant's key is another key.
    expect((await queue.enqueue({ ...other, tenant: 'tenant-b' })).created).toBe(true);
    const legacy = await queue.enqueue(input({ idempotencyKey: 'order:2' }));
    const later = await queue.enqueue(
      input({ idempotencyKey: 'order:2', idempotencyFingerprint: 'f3' }),
    );
    expect(later).toMatchObject({ created: false, job: { id: legacy.job.id } });
    expect((await queue.stats()).depth).toBe(3);
  });

  it('keeps a held job from every worker and the Redis sweep until released, then in claim order', async () => {
    const clock = new TestClock();
    const queue = await open({ clock: clock.now });
    const low = (await queue.enqueue(input({ hold: true }))).job;
    const high = (await queue.enqueue(input({ hold: true, priority: 5 }))).job;
    const low2 = (await queue.enqueue(input({ hold: true }))).job;
    expect(low).toMatchObject({ status: 'QUEUED', sequence: 1 });
    expect((await queue.events(low.id, 0)).map((e) => e.type)).toEqual(['added']);
    // A minute on makes every held job look like an old orphan to the Redis sweep.
    clock.advance(60_000);
    await new Promise((resolve) => setTimeout(resolve, 400)); // several sweeps (every 50 ms)
    expect(await queue.claim('worker-1', 10_000)).toBeNull();
    await queue.releaseHeld([low2.id, high.id, low.id, 'no-such-job']);
    await queue.releaseHeld([low.id]); // released already: nothing happens
    const order: string[] = [];
    for (let i = 0; i < 3; i += 1) order.push((await claimWithin(queue, 5000)).job.id);
    expect(order).toEqual([high.id, low.id, low2.id]);
    expect(await queue.claim('worker-1', 10_000)).toBeNull();
    expect((await queue.events(high.id, 0)).map((e) => e.type)).toEqual(['added', 'active']);
  });

  it('discards held jobs with their events and idempotency keys, never any other job', async () => {
    const queue = await open();
    const held = (await queue.enqueue(input({ hold: true, idempotencyKey: 'op:1' }))).job;
    const plain = (await queue.enqueue(input())).job;
    const released = (await queue.enqueue(input({ hold: true }))).job;
    await queue.releaseHeld([released.id]);
    await queue.discardHeld([held.id, plain.id, released.id, 'no-such-job']);
    expect(await queue.get(held.id)).toBeNull();
    await expect(queue.events(held.id, 0)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect((await queue.get(plain.id))?.status).toBe('QUEUED');
    expect((await queue.get(released.id))?.status).toBe('QUEUED');
    const listed = await queue.list('tenant-a', { first: 10 });
    expect(listed.jobs.map((job) => job.id)).toEqual([released.id, plain.id]);
    expect((await queue.stats()).depth).toBe(2);
    // The key is free again: the next operation with it makes a new job.
    const again = await queue.enqueue(input({ idempotencyKey: 'op:1' }));
    expect(again.created).toBe(true);
    expect(again.job.id).not.toBe(held.id);
  });

  it('lets the sweep discard held jobs whose operation never ended (heldTtlMs)', async () => {
    const clock = new TestClock();
    const heldTtlMs = 600_000; // no test could wait it out: only the clock ends it
    const queue = await open({ clock: clock.now, heldTtlMs });
    const abandoned = (await queue.enqueue(input({ hold: true }))).job;
    const kept = (await queue.enqueue(input({ hold: true }))).job;
    await queue.releaseHeld([kept.id]);
    clock.advance(heldTtlMs);
    await vi.waitFor(async () => expect(await queue.get(abandoned.id)).toBeNull(), {
      timeout: 5000,
      interval: 50,
    });
    expect((await queue.get(kept.id))?.status).toBe('QUEUED');
    expect((await queue.stats()).depth).toBe(1);
  });
}

async function claimWithin(queue: JobQueue, withinMs: number): Promise<ClaimedJob> {
  const deadline = Date.now() + withinMs;
  while (Date.now() < deadline) {
    const claim = await queue.claim('worker-1', 10_000);
    if (claim) return claim;
    await queue.waitForWork(50);
  }
  throw new Error(`no job became claimable within ${withinMs} ms`);
}
