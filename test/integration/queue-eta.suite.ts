/**
 * Conformance scenarios for what the ETA reads from the queue: the work ahead of a QUEUED job
 * (`workAhead`, today's priority-then-FIFO order), the RUNNING jobs' work in flight
 * (`runningWork`), and the workers' throughput figures (`reportThroughput`,
 * `stats().imagesPerSecond`). Registered by describeJobQueue (queue.suite.ts) for every engine.
 */
import { expect, it } from 'vitest';
import type { ClaimedJob, EnqueueInput, JobQueue } from '../../src/queue/job-queue.js';
import type { JobQueueTunables } from '../../src/queue/queue-tunables.js';
import { TestClock } from '../support/test-clock.js';

/** What the scenarios need from the suite that registers them. */
export interface EtaScenarioHooks {
  open(tunables?: JobQueueTunables): Promise<JobQueue>;
  input(overrides?: Partial<EnqueueInput>): EnqueueInput;
  claimNext(queue: JobQueue): Promise<ClaimedJob>;
}

/** `input()` with `count` images. */
function withImages(hooks: EtaScenarioHooks, count: number, priority = 0): EnqueueInput {
  const base = hooks.input({ priority });
  return { ...base, params: { ...base.params, count } };
}

/** Registers the scenarios inside the engine's describe block. */
export function etaScenarios(hooks: EtaScenarioHooks): void {
  const { open, claimNext } = hooks;

  it('sums the images ahead of a queued job in claim order, and lists the running work', async () => {
    const queue = await open();
    const first = (await queue.enqueue(withImages(hooks, 2))).job;
    const second = (await queue.enqueue(withImages(hooks, 3))).job;
    const urgent = (await queue.enqueue(withImages(hooks, 4, 5))).job;
    const last = (await queue.enqueue(withImages(hooks, 1))).job;
    expect(await queue.workAhead(urgent.id)).toEqual({ position: 1, imagesAhead: 0 });
    expect(await queue.workAhead(first.id)).toEqual({ position: 2, imagesAhead: 4 });
    expect(await queue.workAhead(second.id)).toEqual({ position: 3, imagesAhead: 6 });
    expect(await queue.workAhead(last.id)).toEqual({ position: 4, imagesAhead: 9 });
    for (const job of [urgent, first, second, last]) {
      expect((await queue.workAhead(job.id))?.position).toBe(await queue.position(job.id));
    }
    expect(await queue.workAhead('no-such-job')).toBeNull();
    expect(await queue.runningWork(10)).toEqual([]);

    const claim = await claimNext(queue);
    expect(claim.job.id).toBe(urgent.id);
    expect(await queue.workAhead(urgent.id)).toBeNull();
    expect(await queue.workAhead(last.id)).toEqual({ position: 3, imagesAhead: 5 });
    expect(await queue.runningWork(10)).toEqual([{ id: urgent.id, images: 4, progress: null }]);
    await queue.progress(claim, { phase: 'patch', step: 3, total: 8 });
    expect(await queue.runningWork(10)).toEqual([
      { id: urgent.id, images: 4, progress: { phase: 'patch', step: 3, total: 8 } },
    ]);
    expect(await queue.runningWork(0)).toEqual([]);
    await queue.complete(claim, []);
    expect(await queue.runningWork(10)).toEqual([]);
    await queue.cancel(first.id);
    expect(await queue.workAhead(last.id)).toEqual({ position: 2, imagesAhead: 3 });
  });

  it('sums the throughput of live workers: null until one reports, a silent or retired one drops out', async () => {
    const clock = new TestClock();
    const queue = await open({ workerTtlMs: 1000, clock: clock.now });
    expect((await queue.stats()).imagesPerSecond).toBeNull();
    await queue.reportThroughput('host-a:1:0', { model: 'm', imagesPerSecond: 1.5 });
    await queue.reportThroughput('host-b:1:0', { model: 'm', imagesPerSecond: 2 });
    await queue.reportThroughput('host-b:1:0', { model: 'm', imagesPerSecond: 2.5 }); // replaces
    expect((await queue.stats()).imagesPerSecond).toBeCloseTo(4, 9);
    expect(await queue.imagesPerSecond()).toBeCloseTo(4, 9);
    await queue.retire('host-b:1:0');
    expect((await queue.stats()).imagesPerSecond).toBeCloseTo(1.5, 9);
    clock.advance(600);
    await queue.reportThroughput('host-c:1:0', { model: 'm', imagesPerSecond: 0.5 });
    clock.advance(600); // host-a's report is now older than the TTL (killed: it never retired)
    expect((await queue.stats()).imagesPerSecond).toBeCloseTo(0.5, 9);
    clock.advance(600);
    expect((await queue.stats()).imagesPerSecond).toBeNull();
    expect(await queue.imagesPerSecond()).toBeNull();
    await queue.reportThroughput('host-a:1:0', { model: 'm', imagesPerSecond: 3 });
    expect((await queue.stats()).imagesPerSecond).toBeCloseTo(3, 9);
  });
}
