/**
 * Conformance scenarios for cancelling a RUNNING job: the request is one durable
 * `cancel-requested` event (status RUNNING, sequence bumped), and whatever the worker calls next
 * (`cancelled`, `complete`, `fail`, `release`), the job ends CANCELLED, never SUCCEEDED.
 * Registered by describeJobQueue (queue.suite.ts) for every engine; their transcripts are
 * compared across engines in queue.test.ts.
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

/** What the scenarios borrow from the suite that registers them. */
export interface CancelScenarioKit {
  open: OpenQueue;
  input: (overrides?: Partial<EnqueueInput>) => EnqueueInput;
  claimNext: (queue: JobQueue) => Promise<ClaimedJob>;
  outputsOf: (id: string) => JobOutput[];
  /** The job's event types, kept as the transcript of `scenario`. */
  record: (scenario: string, queue: JobQueue, id: string) => Promise<string[]>;
}

/** Registers the scenarios inside the engine's describe block. */
export function cancelScenarios(kit: CancelScenarioKit): void {
  const { open, input, claimNext, outputsOf, record } = kit;

  /** A RUNNING job of a fresh queue with its cancel requested, and what listeners saw. */
  async function runningWithCancel(): Promise<{
    queue: JobQueue;
    claim: ClaimedJob;
    seen: JobEvent[];
  }> {
    const queue = await open();
    const seen: JobEvent[] = [];
    queue.onEvent((event) => seen.push(event));
    await queue.enqueue(input());
    const claim = await claimNext(queue);
    expect(claim.job.cancelRequested).toBe(false);
    const requested = await queue.cancel(claim.job.id);
    expect(requested).toMatchObject({ status: 'RUNNING', sequence: 3, cancelRequested: true });
    return { queue, claim, seen };
  }

  it('records a cancel of a running job as one cancel-requested event; the acknowledgement ends it CANCELLED', async () => {
    const { queue, claim, seen } = await runningWithCancel();
    const { id } = claim.job;
    const [event] = await queue.events(id, 2);
    expect(event).toMatchObject({
      jobId: id,
      tenant: 'tenant-a',
      type: 'cancel-requested',
      status: 'RUNNING',
      sequence: 3,
    });
    // Asking again changes nothing: no event, no sequence.
    expect(await queue.cancel(id)).toMatchObject({ status: 'RUNNING', sequence: 3 });
    expect(await queue.get(id)).toMatchObject({ sequence: 3, cancelRequested: true });
    // Every process's listeners hear it (the worker's prompt path); heartbeats still carry it.
    await vi.waitFor(() => expect(seen.map((e) => e.type)).toContain('cancel-requested'));
    expect(await queue.heartbeat(claim, 10_000)).toEqual({ owned: true, cancelRequested: true });
    const done = await queue.cancelled(claim);
    expect(done).toMatchObject({ status: 'CANCELLED', sequence: 4, cancelRequested: false });
    expect(await record('cancel-running', queue, id)).toEqual([
      'added',
      'active',
      'cancel-requested',
      'cancelled',
    ]);
    await expect(queue.complete(claim, outputsOf(id))).rejects.toMatchObject({ code: 'CONFLICT' });
    await expect(queue.cancel(id)).rejects.toMatchObject({ code: 'CONFLICT' });
  });

  it('completes a job whose cancel came first as CANCELLED, without its outputs', async () => {
    const { queue, claim } = await runningWithCancel();
    const { id } = claim.job;
    const done = await queue.complete(claim, outputsOf(id));
    expect(done).toMatchObject({
      id,
      status: 'CANCELLED',
      sequence: 4,
      outputs: [],
      error: null,
      cancelRequested: false,
    });
    expect(done.finishedAt).not.toBeNull();
    expect(await queue.get(id)).toEqual(done);
    const events = await queue.events(id, 0);
    expect(events.at(-1)).toMatchObject({ type: 'cancelled', status: 'CANCELLED', sequence: 4 });
    expect(await record('complete-after-cancel', queue, id)).toEqual([
      'added',
      'active',
      'cancel-requested',
      'cancelled',
    ]);
    expect((await queue.stats()).byStatus).toMatchObject({
      RUNNING: 0,
      SUCCEEDED: 0,
      CANCELLED: 1,
    });
    await expect(queue.cancel(id)).rejects.toMatchObject({ code: 'CONFLICT' });
    await expect(queue.complete(claim, outputsOf(id))).rejects.toMatchObject({ code: 'CONFLICT' });
    // A retry runs it for real: the request does not carry over to the new run.
    expect(await queue.retry(id)).toMatchObject({ status: 'QUEUED', cancelRequested: false });
    const again = await claimNext(queue);
    expect(again.job.cancelRequested).toBe(false);
    expect(await queue.complete(again, outputsOf(id))).toMatchObject({
      status: 'SUCCEEDED',
      outputs: outputsOf(id),
    });
  });

  it('ends a failing job whose cancel came first CANCELLED: not retried, not FAILED', async () => {
    const { queue, claim } = await runningWithCancel();
    const failure = { code: 'GENERATION_FAILED', message: 'device lost', retryable: true } as const;
    const done = await queue.fail(claim, failure);
    expect(done).toMatchObject({ status: 'CANCELLED', error: null, attempts: 1 });
    expect(await record('fail-after-cancel', queue, claim.job.id)).toEqual([
      'added',
      'active',
      'cancel-requested',
      'cancelled',
    ]);
    expect(await queue.claim('worker-2', 1000)).toBeNull();
  });
}
