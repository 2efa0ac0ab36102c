/**
 * The JobQueue conformance suite: written once, run over every engine (queue.test.ts). It pins
 * the contract of src/queue/job-queue.ts (states, events and their sequences, leases, errors)
 * and records each scenario's event types so the engines can be compared with each other.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { JobQueueConfig } from '../../src/queue/create-job-queue.js';
import type {
  ClaimedJob,
  EnqueueInput,
  JobEvent,
  JobOutput,
  JobQueue,
} from '../../src/queue/job-queue.js';
import type { JobQueueTunables } from '../../src/queue/queue-tunables.js';
import { cancelScenarios } from './queue-cancel.suite.js';
import { deleteScenarios } from './queue-delete.suite.js';
import { etaScenarios } from './queue-eta.suite.js';
import { fairScenarios } from './queue-fair.suite.js';
import { outboxScenarios } from './queue-outbox.suite.js';
import { requestScenarios } from './queue-request.suite.js';
import { restartScenarios } from './queue-restart.suite.js';
import { workerScenarios } from './queue-worker.suite.js';
import { TestClock } from '../support/test-clock.js';

/** One engine under test, opened on fresh storage. */
export interface QueueFixture {
  /** Started. */
  queue: JobQueue;
  /** A second, started instance on the same storage (a restart, or another process). */
  reopen(): Promise<JobQueue>;
  /** Closes every instance and removes the storage. */
  cleanup(): Promise<void>;
  /** Plain-JSON config of this storage, for a child process (tunables that are functions are not carried). */
  config: JobQueueConfig;
}

/** Opens fresh storage; the suite passes the tunables a test needs. */
export type QueueFactory = (tunables?: JobQueueTunables) => Promise<QueueFixture>;

/** engine → scenario → event types, for the cross-engine comparison in queue.test.ts. */
export const eventTranscripts = new Map<string, Map<string, string[]>>();

/** A waitForWork timeout far past any test's: only a wake-up can end such a wait in time. */
export const HOUR_MS = 3_600_000;

/** An enqueue input for tenant-a with fixed parameters; override what a test varies. */
export function input(overrides: Partial<EnqueueInput> = {}): EnqueueInput {
  return {
    tenant: 'tenant-a',
    kind: 'GENERATE',
    model: null,
    params: { classId: 3, count: 2, seed: 4242, cfgScale: 4, temperature: 1, topK: 0, topP: 1 },
    ...overrides,
  };
}

function outputsOf(id: string, seed = 4242): JobOutput[] {
  return [
    {
      key: `jobs/${id}/0.png`,
      thumbnailKey: `jobs/${id}/0.thumb.png`,
      width: 32,
      height: 32,
      seed,
      format: 'png',
      // What the worker ran with: both engines must keep it (JobParameters.precision reads it).
      precision: 'int4',
    },
  ];
}

/** Claims the next job, waiting up to `withinMs` (leases expire, backoffs end, BullMQ stalls). */
async function claimNext(
  queue: JobQueue,
  options: { workerId?: string; leaseMs?: number; withinMs?: number } = {},
): Promise<ClaimedJob> {
  const { workerId = 'worker-1', leaseMs = 10_000, withinMs = 10_000 } = options;
  const deadline = Date.now() + withinMs;
  while (Date.now() < deadline) {
    const claim = await queue.claim(workerId, leaseMs);
    if (claim) return claim;
    await queue.waitForWork(50);
  }
  throw new Error(`no job became claimable within ${withinMs} ms`);
}

async function eventTypes(queue: JobQueue, id: string): Promise<string[]> {
  return (await queue.events(id, 0)).map((event) => event.type);
}

function expectSequencesRise(events: JobEvent[]): void {
  events.forEach((event, index) => expect(event.sequence).toBe(index + 1));
}

/** Registers the whole conformance suite for one engine. */
export function describeJobQueue(name: string, factory: QueueFactory): void {
  describe(`JobQueue conformance: ${name}`, () => {
    const transcripts = new Map<string, string[]>();
    eventTranscripts.set(name, transcripts);
    let fixture: QueueFixture | null = null;

    /** Small backoff and frequent sweeps keep the suite fast; tests override what they need. */
    async function open(tunables: JobQueueTunables = {}): Promise<JobQueue> {
      fixture = await factory({ retryBackoffMs: () => 50, sweepIntervalMs: 50, ...tunables });
      return fixture.queue;
    }

    async function record(scenario: string, queue: JobQueue, id: string): Promise<string[]> {
      const types = await eventTypes(queue, id);
      transcripts.set(scenario, types);
      return types;
    }

    afterEach(async () => {
      await fixture?.cleanup();
      fixture = null;
    });

    requestScenarios(open, input);
    workerScenarios({ open, reopen: () => (fixture as QueueFixture).reopen(), input, record });
    cancelScenarios({ open, input, claimNext: (queue) => claimNext(queue), outputsOf, record });
    deleteScenarios({ open, input, claimNext: (queue) => claimNext(queue), outputsOf });
    fairScenarios({ open, input, claimNext: (queue) => claimNext(queue), outputsOf });
    outboxScenarios({ open, input, claimNext: (queue) => claimNext(queue), outputsOf });
    etaScenarios({ open, input, claimNext: (queue) => claimNext(queue) });
    restartScenarios({
      open,
      fixture: () => fixture as QueueFixture,
      input,
      claimNext,
      outputsOf,
      record,
    });

    it('runs a job through enqueue → claim → progress → complete with rising sequences', async () => {
      const queue = await open();
      const seen: JobEvent[] = [];
      const unsubscribe = queue.onEvent((event) => seen.push(event));
      const { job, created } = await queue.enqueue(input({ priority: 2 }));
      expect(created).toBe(true);
      expect(job).toMatchObject({
        status: 'QUEUED',
        sequence: 1,
        attempts: 0,
        maxAttempts: 3,
        priority: 2,
      });
      expect(job.outputs).toEqual([]);
      expect(await queue.get(job.id)).toEqual(job);

      const claim = await claimNext(queue);
      expect(claim.job).toMatchObject({ id: job.id, status: 'RUNNING', attempts: 1, sequence: 2 });
      expect(claim.job.startedAt).not.toBeNull();
      await queue.progress(claim, { phase: 'holistic', step: 1, total: 2 });
      await queue.progress(claim, { phase: 'patch', step: 2, total: 2 });
      expect(await queue.heartbeat(claim, 10_000)).toEqual({ owned: true, cancelRequested: false });
      const done = await queue.complete(claim, outputsOf(job.id));
      expect(done).toMatchObject({ status: 'SUCCEEDED', sequence: 5, outputs: outputsOf(job.id) });
      expect(done.finishedAt).not.toBeNull();
      // Read back as stored, the worker's precision included.
      expect((await queue.get(job.id))?.outputs).toEqual(outputsOf(job.id));

      const events = await queue.events(job.id, 0);
      expectSequencesRise(events);
      expect(events.map((e) => [e.type, e.status])).toEqual([
        ['added', 'QUEUED'],
        ['active', 'RUNNING'],
        ['progress', 'RUNNING'],
        ['progress', 'RUNNING'],
        ['completed', 'SUCCEEDED'],
      ]);
      expect(events[2]).toMatchObject({
        jobId: job.id,
        tenant: 'tenant-a',
        progress: { phase: 'holistic', step: 1, total: 2 },
      });
      expect(Date.parse(events[0]?.at ?? '')).not.toBeNaN();
      await record('lifecycle', queue, job.id);
      // The Redis engine delivers through pub/sub, so listeners may lag the commit a little.
      await vi.waitFor(() => expect(seen.filter((e) => e.jobId === job.id)).toEqual(events));
      unsubscribe();
    });

    it('claims by priority, then age, and reports queue positions', async () => {
      const queue = await open();
      const low = (await queue.enqueue(input({ priority: 0 }))).job;
      const high = (await queue.enqueue(input({ priority: 5 }))).job;
      const mid = (await queue.enqueue(input({ priority: 1 }))).job;
      const high2 = (await queue.enqueue(input({ priority: 5 }))).job;
      const negative = (await queue.enqueue(input({ priority: -3 }))).job;
      const expected = [high, high2, mid, low, negative];
      for (const [index, job] of expected.entries())
        expect(await queue.position(job.id)).toBe(index + 1);
      const order: string[] = [];
      for (let i = 0; i < expected.length; i += 1) {
        const claim = await claimNext(queue);
        order.push(claim.job.id);
        expect(await queue.position(claim.job.id)).toBeNull();
      }
      expect(order).toEqual(expected.map((job) => job.id));
      expect(await queue.claim('worker-1', 1000)).toBeNull();
      expect(await queue.position('no-such-job')).toBeNull();
      await expect(queue.enqueue(input({ priority: 1.5 }))).rejects.toMatchObject({
        code: 'BAD_USER_INPUT',
      });
    });

    it('returns the existing job for a repeated idempotency key, per tenant', async () => {
      const queue = await open();
      const first = await queue.enqueue(input({ idempotencyKey: 'order:17' }));
      const again = await queue.enqueue(input({ idempotencyKey: 'order:17', priority: 9 }));
      expect(again.created).toBe(false);
      expect(again.job).toEqual(first.job);
      const otherTenant = await queue.enqueue(
        input({ tenant: 'tenant-b', idempotencyKey: 'order:17' }),
      );
      expect(otherTenant.created).toBe(true);
      expect(otherTenant.job.id).not.toBe(first.job.id);
      expect(first.job.idempotencyKey).toBe('order:17');
      expect((await queue.stats()).depth).toBe(2);
    });

    it('cancels a queued job at once; cancelling a finished job is a CONFLICT', async () => {
      const queue = await open();
      const { job } = await queue.enqueue(input());
      const cancelled = await queue.cancel(job.id);
      expect(cancelled).toMatchObject({ status: 'CANCELLED', sequence: 2 });
      expect(await eventTypes(queue, job.id)).toEqual(['added', 'cancelled']);
      expect(await queue.claim('worker-1', 1000)).toBeNull();
      expect(await queue.position(job.id)).toBeNull();
      await expect(queue.cancel(job.id)).rejects.toMatchObject({ code: 'CONFLICT' });
      await expect(queue.cancel('no-such-job')).rejects.toMatchObject({ code: 'NOT_FOUND' });

      const other = (await queue.enqueue(input())).job;
      await queue.complete(await claimNext(queue), outputsOf(other.id));
      await expect(queue.cancel(other.id)).rejects.toMatchObject({ code: 'CONFLICT' });
    });

    it('retries FAILED and CANCELLED jobs under the same id with a fresh budget', async () => {
      const queue = await open();
      const { job } = await queue.enqueue(input({ maxAttempts: 1 }));
      const failure = {
        code: 'GENERATION_FAILED',
        message: 'NaN logits',
        retryable: false,
      } as const;
      const failed = await queue.fail(await claimNext(queue), failure);
      expect(failed).toMatchObject({ status: 'FAILED', error: failure, attempts: 1 });
      const retried = await queue.retry(job.id);
      expect(retried).toMatchObject({
        id: job.id,
        status: 'QUEUED',
        attempts: 0,
        error: null,
        finishedAt: null,
      });
      const claim = await claimNext(queue);
      expect(claim.job.attempts).toBe(1);
      await queue.complete(claim, outputsOf(job.id));
      expect(await record('retry-failed', queue, job.id)).toEqual([
        'added',
        'active',
        'failed',
        'retrying',
        'active',
        'completed',
      ]);
      await expect(queue.retry(job.id)).rejects.toMatchObject({ code: 'CONFLICT' });
      await expect(queue.retry('no-such-job')).rejects.toMatchObject({ code: 'NOT_FOUND' });

      const second = (await queue.enqueue(input())).job;
      await expect(queue.retry(second.id)).rejects.toMatchObject({ code: 'CONFLICT' });
      await queue.cancel(second.id);
      expect((await queue.retry(second.id)).status).toBe('QUEUED');
      expect((await claimNext(queue)).job.id).toBe(second.id);
    });

    it('requeues a retryable failure after its backoff; a non-retryable one fails at once', async () => {
      const backoffFor: number[] = [];
      const clock = new TestClock();
      const queue = await open({
        clock: clock.now,
        retryBackoffMs: (attempt) => {
          backoffFor.push(attempt);
          return 1000;
        },
      });
      const { job } = await queue.enqueue(input());
      const failure = {
        code: 'EXECUTION_PROVIDER_UNAVAILABLE',
        message: 'device busy',
        retryable: true,
      } as const;
      const first = await claimNext(queue);
      const requeued = await queue.fail(first, failure);
      expect(backoffFor).toEqual([1]); // the attempt that failed
      expect(requeued).toMatchObject({ status: 'QUEUED', attempts: 1, error: failure });
      const events = await queue.events(job.id, 0);
      const retrying = events.at(-1);
      expect(retrying).toMatchObject({ type: 'retrying', status: 'QUEUED', error: failure });
      clock.advance(999);
      expect(await queue.claim('worker-1', 1000)).toBeNull(); // still backing off
      clock.advance(1);
      const second = await claimNext(queue);
      expect(second.job).toMatchObject({ id: job.id, attempts: 2, error: null });
      // On the engine's clock the second attempt began exactly when the backoff ended.
      expect(Date.parse(second.job.startedAt ?? '') - Date.parse(retrying?.at ?? '')).toBe(1000);
      await expect(queue.complete(first, outputsOf(job.id))).rejects.toMatchObject({
        code: 'CONFLICT',
      });
      const fatal = {
        code: 'GENERATION_FAILED',
        message: 'bad weights',
        retryable: false,
      } as const;
      expect(await queue.fail(second, fatal)).toMatchObject({
        status: 'FAILED',
        attempts: 2,
        error: fatal,
      });
      expect(await record('retryable-then-fatal', queue, job.id)).toEqual([
        'added',
        'active',
        'retrying',
        'active',
        'failed',
      ]);
    });

    it('fails for good once the attempts are exhausted', async () => {
      const queue = await open();
      const { job } = await queue.enqueue(input({ maxAttempts: 2 }));
      const failure = {
        code: 'EXECUTION_PROVIDER_UNAVAILABLE',
        message: 'device busy',
        retryable: true,
      } as const;
      expect((await queue.fail(await claimNext(queue), failure)).status).toBe('QUEUED');
      const last = await queue.fail(await claimNext(queue), failure);
      expect(last).toMatchObject({ status: 'FAILED', attempts: 2, maxAttempts: 2, error: failure });
      expect(await record('exhausted', queue, job.id)).toEqual([
        'added',
        'active',
        'retrying',
        'active',
        'failed',
      ]);
    });

    it('hands a running job back with release: QUEUED at once, attempts restored, same place', async () => {
      const queue = await open();
      const seen: JobEvent[] = [];
      const unsubscribe = queue.onEvent((event) => seen.push(event));
      const first = (await queue.enqueue(input())).job;
      const second = (await queue.enqueue(input())).job;
      const claim = await claimNext(queue);
      await queue.progress(claim, { phase: 'holistic', step: 1, total: 2 });
      const released = await queue.release(claim);
      expect(released).toMatchObject({ id: first.id, status: 'QUEUED', attempts: 0, priority: 0 });
      expect([released.progress, released.error, released.startedAt]).toEqual([null, null, null]);
      expect([await queue.position(first.id), await queue.position(second.id)]).toEqual([1, 2]);
      expect(await queue.heartbeat(claim, 10_000)).toMatchObject({ owned: false });
      await expect(queue.complete(claim, outputsOf(first.id))).rejects.toMatchObject({
        code: 'CONFLICT',
      });
      await expect(queue.release(claim)).rejects.toMatchObject({ code: 'CONFLICT' });
      const again = await queue.claim('worker-2', 10_000); // no backoff, still ahead of `second`
      expect(again?.job).toMatchObject({ id: first.id, attempts: 1 });
      await queue.complete(again!, outputsOf(first.id));
      const events = await queue.events(first.id, 0);
      expectSequencesRise(events);
      expect(events[3]).toMatchObject({ type: 'retrying', status: 'QUEUED' });
      expect(events[3]?.error).toBeUndefined();
      const types = await record('release', queue, first.id);
      expect(types.join(' ')).toBe('added active progress retrying active completed');
      await vi.waitFor(() => expect(seen.filter((e) => e.jobId === first.id)).toEqual(events));
      unsubscribe();
      // A requested cancellation wins over handing back, as it does over a retry.
      const doomed = await claimNext(queue);
      await queue.cancel(second.id);
      expect(await queue.release(doomed)).toMatchObject({ id: second.id, status: 'CANCELLED' });
      expect(await eventTypes(queue, second.id)).toEqual([
        'added',
        'active',
        'cancel-requested',
        'cancelled',
      ]);
    });

    it('re-runs a job whose lease expired, and never lets the old token finish it', async () => {
      const clock = new TestClock();
      const queue = await open({ clock: clock.now });
      const { job } = await queue.enqueue(input());
      const lost = await claimNext(queue, { workerId: 'slow', leaseMs: 300 });
      clock.advance(300); // (BullMQ notices on its own clock: its lock of 300 ms, then a stalled check)
      const again = await claimNext(queue, { workerId: 'fresh' });
      expect(again.job).toMatchObject({ id: job.id, attempts: 2, status: 'RUNNING' });
      expect(again.token).not.toBe(lost.token);
      expect(await queue.heartbeat(lost, 10_000)).toMatchObject({ owned: false });
      await expect(
        queue.progress(lost, { phase: 'decode', step: 1, total: 1 }),
      ).rejects.toMatchObject({ code: 'CONFLICT' });
      await expect(
        queue.fail(lost, { code: 'GENERATION_FAILED', message: 'late', retryable: true }),
      ).rejects.toMatchObject({ code: 'CONFLICT' });
      await expect(queue.cancelled(lost)).rejects.toMatchObject({ code: 'CONFLICT' });
      await queue.complete(again, outputsOf(job.id));
      const types = ['added', 'active', 'retrying', 'active', 'completed'];
      expect(await eventTypes(queue, job.id)).toEqual(types);
    });

    it('ends a lost job FAILED with WORKER_LOST when no attempt is left, CANCELLED when asked', async () => {
      const clock = new TestClock();
      const queue = await open({ clock: clock.now });
      const doomed = (await queue.enqueue(input({ maxAttempts: 1 }))).job;
      await claimNext(queue, { leaseMs: 200 });
      const cancelMe = (await queue.enqueue(input())).job;
      await claimNext(queue, { leaseMs: 200 });
      expect((await queue.cancel(cancelMe.id)).status).toBe('RUNNING');
      clock.advance(200);
      // Whichever notices first (a claim, the sweep) must end both jobs instead of re-running them.
      await vi.waitFor(
        async () => {
          await queue.claim('worker-2', 1000);
          expect((await queue.get(doomed.id))?.status).toBe('FAILED');
          expect((await queue.get(cancelMe.id))?.status).toBe('CANCELLED');
        },
        { timeout: 10_000, interval: 100 },
      );
      expect((await queue.get(doomed.id))?.error).toMatchObject({
        code: 'WORKER_LOST',
        retryable: false,
      });
      expect(await record('worker-lost', queue, doomed.id)).toEqual(['added', 'active', 'failed']);
      expect(await eventTypes(queue, cancelMe.id)).toEqual([
        'added',
        'active',
        'cancel-requested',
        'cancelled',
      ]);
      expect(await queue.claim('worker-2', 1000)).toBeNull();
    });

    it('lists a tenant newest first through cursors and filters', async () => {
      const queue = await open();
      const kinds = ['GENERATE', 'INPAINT', 'GENERATE', 'STYLE_TRANSFER', 'GENERATE'] as const;
      const jobs = [];
      for (const kind of kinds) jobs.push((await queue.enqueue(input({ kind }))).job);
      await queue.enqueue(input({ tenant: 'tenant-b' }));
      const newestFirst = [...jobs].reverse().map((job) => job.id);
      const seen: string[] = [];
      let after: string | undefined;
      for (let page = 0; page < 10; page += 1) {
        const result = await queue.list('tenant-a', { first: 2, ...(after ? { after } : {}) });
        seen.push(...result.jobs.map((job) => job.id));
        expect(result.hasNextPage).toBe(seen.length < jobs.length);
        if (!result.hasNextPage) break;
        after = result.endCursor ?? undefined;
      }
      expect(seen).toEqual(newestFirst);

      await queue.complete(await claimNext(queue), []); // the oldest job
      const queued = await queue.list('tenant-a', { first: 10, filter: { status: ['QUEUED'] } });
      expect(queued.jobs.map((job) => job.id)).toEqual(newestFirst.slice(0, 4));
      const generated = await queue.list('tenant-a', { first: 2, filter: { kind: ['GENERATE'] } });
      expect(generated.jobs.map((job) => job.id)).toEqual([jobs[4]?.id, jobs[2]?.id]);
      expect(generated.hasNextPage).toBe(true);
      const rest = await queue.list('tenant-a', {
        first: 2,
        after: generated.endCursor ?? '',
        filter: { kind: ['GENERATE'], status: ['SUCCEEDED'] },
      });
      expect(rest).toMatchObject({ hasNextPage: false, jobs: [{ id: jobs[0]?.id }] });
      expect(await queue.list('nobody', { first: 5 })).toEqual({
        jobs: [],
        endCursor: null,
        hasNextPage: false,
      });
      await expect(
        queue.list('tenant-a', { first: 2, after: 'not-a-cursor' }),
      ).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
    });

    it('replays events after a sequence and counts jobs by status', async () => {
      const queue = await open();
      const { job } = await queue.enqueue(input());
      await queue.enqueue(input());
      const claim = await claimNext(queue);
      await queue.progress(claim, { phase: 'encode', step: 1, total: 3 });
      const tail = await queue.events(job.id, 2);
      expect(tail.map((e) => [e.sequence, e.type])).toEqual([[3, 'progress']]);
      expect(await queue.events(job.id, 3)).toEqual([]);
      await expect(queue.events('no-such-job', 0)).rejects.toMatchObject({ code: 'NOT_FOUND' });
      const stats = await queue.stats();
      expect(stats).toMatchObject({ depth: 1, running: 1 });
      expect(stats.byStatus).toEqual({
        QUEUED: 1,
        RUNNING: 1,
        SUCCEEDED: 0,
        FAILED: 0,
        CANCELLED: 0,
        EXPIRED: 0,
      });
    });

    it('refuses jobs beyond maxQueued with QUEUE_FULL', async () => {
      const queue = await open({ maxQueued: 2 });
      await queue.enqueue(input({ idempotencyKey: 'a' }));
      await queue.enqueue(input());
      await expect(queue.enqueue(input())).rejects.toMatchObject({
        code: 'QUEUE_FULL',
        retryable: true,
      });
      expect((await queue.enqueue(input({ idempotencyKey: 'a' }))).created).toBe(false);
      await claimNext(queue);
      expect((await queue.enqueue(input())).created).toBe(true);
    });

    it('expires jobs queued too long and deletes finished jobs after retention', async () => {
      // TTLs no test could wait out: only the clock's advances can end them.
      const clock = new TestClock();
      const [queuedTtlMs, retentionMs] = [60_000, 3_600_000];
      const queue = await open({ clock: clock.now, queuedTtlMs, retentionMs, sweepIntervalMs: 50 });
      const finished = (await queue.enqueue(input())).job;
      await queue.complete(await claimNext(queue), outputsOf(finished.id));
      const stale = (await queue.enqueue(input())).job;
      clock.advance(queuedTtlMs - 1);
      await new Promise((resolve) => setTimeout(resolve, 200)); // sweeps (every 50 ms) run on it
      expect((await queue.get(stale.id))?.status).toBe('QUEUED');
      expect((await queue.get(finished.id))?.status).toBe('SUCCEEDED');
      clock.advance(1);
      await vi.waitFor(async () => expect((await queue.get(stale.id))?.status).toBe('EXPIRED'), {
        timeout: 5000,
        interval: 50,
      });
      expect(await record('expired', queue, stale.id)).toEqual(['added', 'expired']);
      clock.advance(retentionMs); // past the retention of both: the stale job ended at its TTL
      await vi.waitFor(async () => expect(await queue.get(finished.id)).toBeNull(), {
        timeout: 8000,
        interval: 100,
      });
      await expect(queue.events(finished.id, 0)).rejects.toMatchObject({ code: 'NOT_FOUND' });
      await vi.waitFor(async () => expect(await queue.get(stale.id)).toBeNull(), {
        timeout: 8000,
        interval: 100,
      });
      expect((await queue.stats()).byStatus).toMatchObject({ SUCCEEDED: 0, EXPIRED: 0 });
      expect((await queue.list('tenant-a', { first: 10 })).jobs).toEqual([]);
    });

    it('wakes waitForWork when a job is enqueued and when a backoff ends', async () => {
      const clock = new TestClock();
      const queue = await open({ clock: clock.now, retryBackoffMs: () => 300 });
      // Hour-long waits: a missing wake-up fails the test by its timeout, nothing is timed.
      const waiting = queue.waitForWork(HOUR_MS);
      await queue.enqueue(input());
      await waiting;
      const failure = {
        code: 'EXECUTION_PROVIDER_UNAVAILABLE',
        message: 'busy',
        retryable: true,
      } as const;
      await queue.fail(await claimNext(queue), failure);
      clock.advance(300); // the backoff ends on the engine's clock
      let claim: ClaimedJob | null = null;
      // A worker loop with a long poll. BullMQ promotes the delayed run on its own clock, so the
      // Redis engine polls briefly once a job is due; SQLite claims at the first wake-up.
      for (let polls = 0; !claim && polls < 200; polls += 1) {
        await queue.waitForWork(HOUR_MS);
        claim = await queue.claim('worker-1', 1000);
      }
      expect(claim?.job.attempts).toBe(2);
    });
  });
}
