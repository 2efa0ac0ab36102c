/**
 * Conformance scenarios for what one API request asks of the queue beyond a plain enqueue:
 * idempotency keys bound to a fingerprint, and held jobs (released or discarded together when
 * the operation that made them ends). Registered by describeJobQueue (queue.suite.ts) for every
 * engine, so both pass the same assertions.
 */
import { expect, it } from 'vitest';
import type { EnqueueInput, JobQueue } from '../../src/queue/job-queue.js';
import type { JobQueueTunables } from '../../src/queue/queue-shared.js';

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
}
