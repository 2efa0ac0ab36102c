/**
 * Conformance scenarios for what the queue tells about its workers: which worker ran a job,
 * which workers are alive (their announces), and why a job runs again after its worker was lost.
 * Registered by describeJobQueue (queue.suite.ts) for every engine, so both pass the same
 * assertions and record the same event transcripts.
 */
import { expect, it, vi } from 'vitest';
import type { ClaimedJob, EnqueueInput, JobEvent, JobQueue } from '../../src/queue/job-queue.js';
import type { JobQueueTunables } from '../../src/queue/queue-tunables.js';
import { TestClock } from '../support/test-clock.js';

/** What the scenarios need from the suite that registers them. */
export interface WorkerScenarioHooks {
  /** Opens a fresh queue for one test; the caller's afterEach closes it. */
  open(tunables?: JobQueueTunables): Promise<JobQueue>;
  /** A second started instance on the last opened queue's storage (another process). */
  reopen(): Promise<JobQueue>;
  input(overrides?: Partial<EnqueueInput>): EnqueueInput;
  /** Stores a scenario's event types for the cross-engine comparison and returns them. */
  record(scenario: string, queue: JobQueue, id: string): Promise<string[]>;
}

async function claimAs(
  queue: JobQueue,
  workerId: string,
  leaseMs = 10_000,
  withinMs = 10_000,
): Promise<ClaimedJob> {
  const deadline = Date.now() + withinMs;
  while (Date.now() < deadline) {
    const claim = await queue.claim(workerId, leaseMs);
    if (claim) return claim;
    await queue.waitForWork(50);
  }
  throw new Error(`no job became claimable within ${withinMs} ms`);
}

/** Registers the scenarios inside the engine's describe block. */
export function workerScenarios(hooks: WorkerScenarioHooks): void {
  const { open, reopen, input, record } = hooks;

  it('says why a job runs again after its lease expired: retrying (WORKER_LOST) right before the new active', async () => {
    const clock = new TestClock();
    const queue = await open({ clock: clock.now });
    const seen: JobEvent[] = [];
    const unsubscribe = queue.onEvent((event) => seen.push(event));
    const { job } = await queue.enqueue(input());
    const lost = await claimAs(queue, 'lost-worker', 300);
    await queue.progress(lost, { phase: 'holistic', step: 1, total: 4 });
    clock.advance(300); // the lease ends (BullMQ notices on its own clock, after its 300 ms lock)
    const again = await claimAs(queue, 'next-worker');
    expect(again.job).toMatchObject({ id: job.id, status: 'RUNNING', attempts: 2, error: null });
    expect(again.job.progress).toBeNull();
    const events = await queue.events(job.id, 0);
    events.forEach((event, index) => expect(event.sequence).toBe(index + 1));
    expect(events.map((e) => [e.type, e.status])).toEqual([
      ['added', 'QUEUED'],
      ['active', 'RUNNING'],
      ['progress', 'RUNNING'],
      ['retrying', 'QUEUED'],
      ['active', 'RUNNING'],
    ]);
    const [retrying, active] = events.slice(3);
    expect(retrying?.error).toEqual({
      code: 'WORKER_LOST',
      message: 'the worker stopped renewing its lease; running it again (1 of 3 attempts used)',
      retryable: true,
    });
    // One atomic step with the re-claim: the same instant, consecutive sequences.
    expect(active?.at).toBe(retrying?.at);
    expect(again.job.sequence).toBe(active?.sequence);
    await vi.waitFor(() => expect(seen.filter((e) => e.jobId === job.id)).toEqual(events));
    unsubscribe();
    await queue.complete(again, []);
    expect(await record('lease-expiry-rerun', queue, job.id)).toEqual([
      'added',
      'active',
      'progress',
      'retrying',
      'active',
      'completed',
    ]);
  });

  it('names the worker of a job while it runs and after it ends; none while it waits', async () => {
    const queue = await open();
    const { job } = await queue.enqueue(input());
    expect(job.workerId).toBeNull();
    const first = await claimAs(queue, 'host-a:11:0');
    expect(first.job.workerId).toBe('host-a:11:0');
    expect((await queue.get(job.id))?.workerId).toBe('host-a:11:0');
    const requeued = await queue.fail(first, {
      code: 'GENERATION_FAILED',
      message: 'busy',
      retryable: true,
    });
    expect(requeued).toMatchObject({ status: 'QUEUED', workerId: null });
    const second = await claimAs(queue, 'host-b:12:1');
    const done = await queue.complete(second, []);
    expect(done).toMatchObject({ status: 'SUCCEEDED', workerId: 'host-b:12:1' });
    expect((await queue.get(job.id))?.workerId).toBe('host-b:12:1');
    const failing = (await queue.enqueue(input())).job;
    const claim = await claimAs(queue, 'host-c:13:0');
    expect(claim.job.id).toBe(failing.id);
    const failed = await queue.fail(claim, {
      code: 'GENERATION_FAILED',
      message: 'broken',
      retryable: false,
    });
    expect(failed).toMatchObject({ status: 'FAILED', workerId: 'host-c:13:0' });
  });

  it('counts the live workers of every process: announced within the TTL, less the retired', async () => {
    const clock = new TestClock();
    const queue = await open({ workerTtlMs: 1000, clock: clock.now });
    const other = await reopen(); // another process on the same queue
    expect((await queue.stats()).workers).toBe(0);
    await queue.announce('host-a:1:0');
    await other.announce('host-b:1:0');
    await other.announce('host-b:1:0'); // again: still one worker
    expect((await queue.stats()).workers).toBe(2);
    expect((await other.stats()).workers).toBe(2);
    await other.retire('host-b:1:0');
    await other.retire('never-announced');
    expect((await queue.stats()).workers).toBe(1);
    clock.advance(1500); // host-a went silent for longer than the TTL (killed: it never retired)
    expect((await queue.stats()).workers).toBe(0);
    await other.announce('host-b:1:0');
    expect((await queue.stats()).workers).toBe(1);
    expect(await queue.stats()).toMatchObject({ depth: 0, running: 0, workers: 1 });
  });
}
