/**
 * Conformance scenarios for the webhook outbox (WebhookOutbox, src/queue/job-queue.ts): entries
 * written in the atomic step of the change they report, with the events a webhook asks for; the
 * same webhook-id on every attempt and new ones for a retried job; leases that keep two claims
 * apart; backoff, give-up and the attempts log; deletion with the job. Registered by
 * describeJobQueue (queue.suite.ts) for every engine.
 */
import { expect, it } from 'vitest';
import type {
  ClaimedJob,
  EnqueueInput,
  JobOutput,
  JobQueue,
  WebhookSpec,
} from '../../src/queue/job-queue.js';
import type { OpenQueue } from './queue-request.suite.js';
import { TestClock } from '../support/test-clock.js';

/** What the scenarios borrow from the suite that registers them. */
export interface OutboxScenarioKit {
  open: OpenQueue;
  input: (overrides?: Partial<EnqueueInput>) => EnqueueInput;
  claimNext: (queue: JobQueue) => Promise<ClaimedJob>;
  outputsOf: (id: string) => JobOutput[];
}

const ALL: WebhookSpec = {
  url: 'https://hooks.example/hita',
  events: ['STARTED', 'PROGRESS', 'SUCCEEDED', 'FAILED', 'CANCELLED', 'EXPIRED'],
};
const ENDINGS: WebhookSpec = {
  url: 'https://hooks.example/hita',
  events: ['SUCCEEDED', 'FAILED', 'CANCELLED', 'EXPIRED'],
};

/** Registers the scenarios inside the engine's describe block. */
export function outboxScenarios(kit: OutboxScenarioKit): void {
  const { open, input, claimNext, outputsOf } = kit;

  it('outbox: writes the asked events with the change, one webhook-id each, none without a webhook', async () => {
    const clock = new TestClock();
    const queue = await open({ clock: clock.now });
    const plain = (await queue.enqueue(input())).job;
    const { job } = await queue.enqueue(input({ webhook: ALL }));
    expect(job.webhook).toEqual(ALL);
    expect((await queue.get(job.id))?.webhook).toEqual(ALL);
    expect(await queue.outboxDepth()).toBe(0); // QUEUED reports nothing

    await queue.complete(await claimNext(queue), outputsOf(plain.id));
    const claim = await claimNext(queue);
    // Three progress reports within a second: one PROGRESS entry.
    for (const step of [1, 2, 3]) {
      await queue.progress(claim, { phase: 'patch', step, total: 4 });
      clock.advance(100);
    }
    clock.advance(1000);
    await queue.progress(claim, { phase: 'patch', step: 4, total: 4 });
    await queue.complete(claim, outputsOf(job.id));
    expect(await queue.outboxDepth()).toBe(4);

    const claimed = await queue.claimDeliveries(10, 60_000);
    expect(claimed.map((d) => d.event)).toEqual(['STARTED', 'PROGRESS', 'PROGRESS', 'SUCCEEDED']);
    const events = await queue.events(job.id, 0);
    const seqOf = (type: string, nth = 0) => events.filter((e) => e.type === type)[nth]!.sequence;
    expect(claimed.map((d) => d.id)).toEqual([
      `msg_${job.id}_${seqOf('active')}`,
      `msg_${job.id}_${seqOf('progress', 0)}`,
      `msg_${job.id}_${seqOf('progress', 3)}`,
      `msg_${job.id}_${seqOf('completed')}`,
    ]);
    const done = claimed[3]!;
    expect(done).toMatchObject({ jobId: job.id, tenant: 'tenant-a', url: ALL.url, attempt: 1 });
    // The job as it was right after the change.
    expect(done.job).toMatchObject({ id: job.id, status: 'SUCCEEDED', outputs: outputsOf(job.id) });
    expect(claimed[0]!.job.status).toBe('RUNNING');
    expect(claimed[1]!.job.progress).toEqual({ phase: 'patch', step: 1, total: 4 });
  });

  it('outbox: a lease keeps an entry from a second claim until it ends; then the same id again', async () => {
    const clock = new TestClock();
    const queue = await open({ clock: clock.now });
    const { job } = await queue.enqueue(input({ webhook: ENDINGS }));
    await queue.complete(await claimNext(queue), outputsOf(job.id));
    const [first] = await queue.claimDeliveries(10, 5000);
    expect(first).toBeDefined();
    expect(await queue.claimDeliveries(10, 5000)).toEqual([]);
    clock.advance(5001);
    const [again] = await queue.claimDeliveries(10, 5000);
    expect(again).toMatchObject({ id: first!.id, attempt: 2 });
    // The first claim's lease is gone: it may not settle.
    expect(await queue.settleDelivery(first!, { status: 'DELIVERED', httpStatus: 200 })).toBe(
      false,
    );
    expect(await queue.settleDelivery(again!, { status: 'DELIVERED', httpStatus: 200 })).toBe(true);
    expect(await queue.outboxDepth()).toBe(0);
    expect(await queue.deliveries(job.id)).toMatchObject([
      { event: 'SUCCEEDED', attempt: 2, status: 'DELIVERED', httpStatus: 200 },
    ]);
  });

  it('outbox: a failed attempt comes due at retryAt; the log lists attempts, then the pending one', async () => {
    const clock = new TestClock();
    const queue = await open({ clock: clock.now });
    const { job } = await queue.enqueue(input({ webhook: ENDINGS }));
    await queue.fail(await claimNext(queue), {
      code: 'GENERATION_FAILED',
      message: 'x',
      retryable: false,
    });
    const [first] = await queue.claimDeliveries(10, 60_000);
    expect(first?.event).toBe('FAILED');
    const retryAt = clock.now() + 2000;
    await queue.settleDelivery(first!, { status: 'FAILED', httpStatus: 503, retryAt });
    expect(await queue.claimDeliveries(10, 60_000)).toEqual([]);
    expect(await queue.deliveries(job.id)).toEqual([
      expect.objectContaining({ event: 'FAILED', attempt: 1, status: 'FAILED', httpStatus: 503 }),
      {
        event: 'FAILED',
        attempt: 2,
        status: 'PENDING',
        httpStatus: null,
        at: new Date(retryAt).toISOString(),
      },
    ]);
    clock.advance(2000);
    const [second] = await queue.claimDeliveries(10, 60_000);
    expect(second).toMatchObject({ id: first!.id, attempt: 2 });
    await queue.settleDelivery(second!, { status: 'GAVE_UP', httpStatus: 410 });
    expect(await queue.outboxDepth()).toBe(0);
    expect((await queue.deliveries(job.id)).map((d) => d.status)).toEqual(['FAILED', 'GAVE_UP']);
  });

  it('outbox: a retried job reports STARTED and its ending again, with new ids', async () => {
    const queue = await open();
    const { job } = await queue.enqueue(input({ webhook: ALL }));
    await queue.fail(await claimNext(queue), {
      code: 'GENERATION_FAILED',
      message: 'x',
      retryable: false,
    });
    await queue.retry(job.id);
    await queue.complete(await claimNext(queue), outputsOf(job.id));
    const claimed = await queue.claimDeliveries(10, 60_000);
    expect(claimed.map((d) => d.event)).toEqual(['STARTED', 'FAILED', 'STARTED', 'SUCCEEDED']);
    expect(new Set(claimed.map((d) => d.id)).size).toBe(4);
  });

  it('outbox: cancelled and expired jobs report their endings', async () => {
    const queue = await open({ queuedTtlMs: 100 });
    const cancelled = (await queue.enqueue(input({ webhook: ENDINGS }))).job;
    await queue.cancel(cancelled.id);
    const expired = (await queue.enqueue(input({ webhook: ENDINGS }))).job;
    await expect
      .poll(async () => (await queue.get(expired.id))?.status, { timeout: 10_000 })
      .toBe('EXPIRED');
    const claimed = await queue.claimDeliveries(10, 60_000);
    expect(claimed.map((d) => [d.jobId, d.event])).toEqual([
      [cancelled.id, 'CANCELLED'],
      [expired.id, 'EXPIRED'],
    ]);
  });

  it('outbox: deleting a job deletes its pending deliveries and attempts', async () => {
    const queue = await open();
    const { job } = await queue.enqueue(input({ webhook: ALL }));
    await queue.complete(await claimNext(queue), outputsOf(job.id));
    const [started] = await queue.claimDeliveries(1, 60_000);
    await queue.settleDelivery(started!, { status: 'DELIVERED', httpStatus: 204 });
    expect(await queue.outboxDepth()).toBe(1);
    await queue.delete(job.id);
    expect(await queue.outboxDepth()).toBe(0);
    expect(await queue.deliveries(job.id)).toEqual([]);
    expect(await queue.claimDeliveries(10, 60_000)).toEqual([]);
  });
}
