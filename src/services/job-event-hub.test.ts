/**
 * JobEventHub's fan-out in-process: many subscriptions of one tenant (or one job) must not pile
 * listeners onto a shared EventTarget topic, which Node reports as MaxListenersExceededWarning
 * past 10, and one published event must still reach every subscriber. Then, over the real
 * SqliteJobQueue in memory: fan-out, resume, completion when a job ends, and a client's
 * return ending its stream at once.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { errors } from '../errors.js';
import type { JobEvent, JobProducer, JobRecord } from '../queue/job-queue.js';
import { SqliteJobQueue } from '../queue/sqlite/sqlite-job-queue.js';
import { JobEventHub, type StreamedJobEvent } from './job-event-hub.js';
import type { JobService } from './job-service.js';
import { TopicFanout } from './topic-fanout.js';

const SUBSCRIPTIONS = 10_000;

function event(sequence: number): JobEvent {
  return {
    jobId: 'job-1',
    tenant: 'dev',
    type: 'progress',
    sequence,
    status: 'RUNNING',
    at: new Date().toISOString(),
  };
}

/** A hub over a job that is RUNNING at sequence 2 with nothing durable after it. */
function hub(): JobEventHub {
  const job = { id: 'job-1', tenant: 'dev', status: 'RUNNING', sequence: 2 } as JobRecord;
  const queue = { get: async () => job, events: async () => [] } as unknown as JobProducer;
  const jobs = { get: async () => job } as unknown as JobService;
  return new JobEventHub({ queue, jobs, resyncMs: 60_000 });
}

describe('JobEventHub fan-out', () => {
  const warnings: Error[] = [];
  const onWarning = (warning: Error) => warnings.push(warning);
  afterEach(() => {
    process.off('warning', onWarning);
    warnings.length = 0;
  });

  it.each([
    ['tenantUpdates', (h: JobEventHub) => h.tenantUpdates('dev')[Symbol.asyncIterator]()],
    ['jobUpdates', (h: JobEventHub) => h.jobUpdates('dev', 'job-1', 2)],
  ])('%s: 10,000 subscriptions warn nothing and all receive one event', async (_, open) => {
    process.on('warning', onWarning);
    const events = hub();
    const iterators = Array.from({ length: SUBSCRIPTIONS }, () => open(events));
    // The first next() is what attaches a subscriber (repeaters and generators start lazily).
    const firsts = iterators.map((iterator) => iterator.next());
    await new Promise((resolve) => setTimeout(resolve, 50)); // jobUpdates reads durable state first
    events.publish(event(3));
    const received = await Promise.all(firsts);
    await new Promise((resolve) => setImmediate(resolve)); // warnings are emitted on a later tick
    expect(warnings.map((w) => `${w.name}: ${w.message}`)).toEqual([]);
    expect(received.filter((r) => !r.done && r.value.sequence === 3)).toHaveLength(SUBSCRIPTIONS);
    await Promise.all(iterators.map((iterator) => iterator.return?.(undefined)));
  });
});

describe('JobEventHub resume', () => {
  it('completes when the job ends at or before an afterSequence it had not reached', async () => {
    const events = hub(); // RUNNING at sequence 2
    const stream = events.jobUpdates('dev', 'job-1', 10);
    const first = stream.next();
    await new Promise((resolve) => setTimeout(resolve, 20));
    events.publish({ ...event(3), type: 'completed', status: 'SUCCEEDED' });
    expect(await first).toEqual({ done: true, value: undefined });
  });
});

describe('JobEventHub and deleted jobs', () => {
  /** A QUEUED job the test deletes behind the hub's back; resyncs after 30 ms of silence. */
  function deletable() {
    const job = { id: 'job-1', tenant: 'dev', status: 'QUEUED', sequence: 1 } as JobRecord;
    let isGone = false;
    const queue = {
      get: async () => (isGone ? null : job),
      events: async () => {
        if (isGone) throw errors.notFound('job', 'job-1');
        return [];
      },
    } as unknown as JobProducer;
    const jobs = { get: async () => job } as unknown as JobService;
    const events = new JobEventHub({ queue, jobs, resyncMs: 30 });
    return { events, gone: () => (isGone = true) };
  }

  it('completes an open jobUpdates at the live deleted notification, and yields nothing of it', async () => {
    const { events } = deletable();
    const stream = events.jobUpdates('dev', 'job-1', 1);
    const tenant = events.tenantUpdates('dev')[Symbol.asyncIterator]();
    const tenantNext = tenant.next();
    const first = stream.next();
    await new Promise((resolve) => setTimeout(resolve, 10));
    // Sequence 2 would be the next one: the notification must still not pass as an event.
    events.publish({ ...event(2), type: 'deleted', status: 'CANCELLED' });
    expect(await first).toEqual({ done: true, value: undefined });
    events.publish(event(3));
    expect((await tenantNext).value).toMatchObject({ sequence: 3 }); // deleted was not fanned out
    await tenant.return?.(undefined);
  });

  it('completes when a resync finds the job gone (the notification was lost)', async () => {
    const { events, gone } = deletable();
    const stream = events.jobUpdates('dev', 'job-1', 1);
    const first = stream.next();
    await new Promise((resolve) => setTimeout(resolve, 10));
    gone();
    expect(await first).toEqual({ done: true, value: undefined });
  });
});

describe('TopicFanout', () => {
  it('attaches a subscriber on its first next() and forgets the topic when the last one leaves', async () => {
    const fanout = new TopicFanout<number>();
    const a = fanout.subscribe('t');
    const b = fanout.subscribe('t');
    expect(fanout.subscriberCount()).toBe(0);
    const [nextA, nextB] = [a.next(), b.next()];
    await new Promise((resolve) => setImmediate(resolve));
    expect(fanout.subscriberCount('t')).toBe(2);
    fanout.publish('other', 0);
    fanout.publish('t', 7);
    expect((await nextA).value).toBe(7);
    expect((await nextB).value).toBe(7);
    await a.return(undefined);
    expect(fanout.subscriberCount('t')).toBe(1);
    await b.return(undefined);
    expect(fanout.subscriberCount()).toBe(0);
  });
});

describe('JobEventHub and clients that leave', () => {
  it('ends a waiting jobUpdates at once when the client returns, and reads durable state no more', async () => {
    const job = { id: 'job-1', tenant: 'dev', status: 'QUEUED', sequence: 1 } as JobRecord;
    let reads = 0;
    const queue = {
      get: async () => job,
      events: async () => {
        reads += 1;
        return [];
      },
    } as unknown as JobProducer;
    const jobs = { get: async () => job } as unknown as JobService;
    const events = new JobEventHub({ queue, jobs, resyncMs: 30 });
    const stream = events.jobUpdates('dev', 'job-1', 1);
    const waiting = stream.next(); // waits for a live event or the next resync
    await new Promise((resolve) => setTimeout(resolve, 10));
    const ended = await Promise.race([
      stream.return!(undefined).then(() => 'ended'),
      new Promise((resolve) => setTimeout(() => resolve('still waiting'), 500)),
    ]);
    expect(ended).toBe('ended');
    expect(await waiting).toEqual({ done: true, value: undefined });
    const readsAtReturn = reads;
    await new Promise((resolve) => setTimeout(resolve, 150)); // five resync periods
    expect(reads).toBe(readsAtReturn);
  });
});

/**
 * The hub over the real SQLite engine in memory, wired as main.ts wires it (every queue
 * event published to the hub): what a subscriber sees of real jobs moving through their states.
 */
describe('JobEventHub over a SqliteJobQueue', () => {
  /** Longer than any test: a stream that ends must have ended without waiting for a resync. */
  const HOUR_MS = 3_600_000;
  let queue: SqliteJobQueue;
  let events: JobEventHub;
  let unsubscribe: () => void;

  beforeEach(async () => {
    // In memory: a unit test touches no disk (STYLE §7), and the engine is the real one.
    queue = new SqliteJobQueue({ path: ':memory:' });
    await queue.start();
    // What JobService.get promises: the tenant's own job, NOT_FOUND for anyone else's.
    const jobs = {
      get: async (tenant: string, id: string) => {
        const job = await queue.get(id);
        if (!job || job.tenant !== tenant) throw errors.notFound('job', id);
        return job;
      },
    } as unknown as JobService;
    events = new JobEventHub({ queue, jobs, resyncMs: HOUR_MS });
    unsubscribe = queue.onEvent((event) => events.publish(event));
  });

  afterEach(async () => {
    unsubscribe();
    await queue.close();
  });

  function enqueue(tenant = 'dev'): Promise<JobRecord> {
    return queue
      .enqueue({
        tenant,
        kind: 'GENERATE',
        model: null,
        params: { classId: 1, count: 1, seed: 1, cfgScale: 1, temperature: 1, topK: 0, topP: 1 },
      })
      .then(({ job }) => job);
  }

  /** Runs the oldest queued job to SUCCEEDED: active, one progress, completed. */
  async function runToEnd(): Promise<void> {
    const claim = await queue.claim('worker-1', 60_000);
    if (!claim) throw new Error('nothing to claim');
    await queue.progress(claim, { phase: 'holistic', step: 1, total: 1 });
    await queue.complete(claim, []);
  }

  async function drain(stream: AsyncIterable<StreamedJobEvent>): Promise<[number, string][]> {
    const seen: [number, string][] = [];
    for await (const event of stream) seen.push([event.sequence, event.type]);
    return seen;
  }

  /** Lets the streams' first reads (subscribe, durable state) happen before the test goes on. */
  const settle = () => new Promise((resolve) => setTimeout(resolve, 20));

  const LIFECYCLE: [number, string][] = [
    [2, 'active'],
    [3, 'progress'],
    [4, 'completed'],
  ];

  it('fans every event out to each subscriber of the job and of its tenant, and only those', async () => {
    const job = await enqueue();
    const other = await enqueue('someone-else');
    const streams = [events.jobUpdates('dev', job.id, 1), events.jobUpdates('dev', job.id, 1)];
    const tenant = events.tenantUpdates('dev')[Symbol.asyncIterator]();
    const tenantSeen: JobEvent[] = [];
    const tenantDone = (async () => {
      while (tenantSeen.length < 3) tenantSeen.push((await tenant.next()).value as JobEvent);
    })();
    const drained = streams.map(drain);
    await settle();
    await runToEnd(); // `job`: the oldest
    await runToEnd(); // `other`, another tenant's
    expect(await Promise.all(drained)).toEqual([LIFECYCLE, LIFECYCLE]);
    await tenantDone;
    await tenant.return?.(undefined);
    expect(tenantSeen.map((e) => [e.jobId, e.sequence])).toEqual([
      [job.id, 2],
      [job.id, 3],
      [job.id, 4],
    ]);
    expect(other.tenant).toBe('someone-else');
    await expect(events.jobUpdates('dev', other.id, 0).next()).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
  });

  it('resumes after a sequence: the rest durable then live, nothing twice, nothing lost', async () => {
    const job = await enqueue();
    const claim = await queue.claim('worker-1', 60_000);
    await queue.progress(claim!, { phase: 'holistic', step: 1, total: 2 });
    const resumed = drain(events.jobUpdates('dev', job.id, 2)); // saw added and active
    await settle();
    await queue.progress(claim!, { phase: 'holistic', step: 2, total: 2 });
    await queue.complete(claim!, []);
    expect(await resumed).toEqual([
      [3, 'progress'],
      [4, 'progress'],
      [5, 'completed'],
    ]);
    // After the end: at or past the terminal event it completes at once; one lower replays it.
    expect(await drain(events.jobUpdates('dev', job.id, 5))).toEqual([]);
    expect(await drain(events.jobUpdates('dev', job.id, 9))).toEqual([]);
    expect(await drain(events.jobUpdates('dev', job.id, 4))).toEqual([[5, 'completed']]);
  });

  it('completes a stream when its job ends, whichever way it ends', async () => {
    const cancelled = await enqueue();
    const failed = await enqueue();
    const streams = [
      drain(events.jobUpdates('dev', cancelled.id, 1)),
      drain(events.jobUpdates('dev', failed.id, 1)),
    ];
    await settle();
    await queue.cancel(cancelled.id);
    const claim = await queue.claim('worker-1', 60_000);
    await queue.fail(claim!, { code: 'GENERATION_FAILED', message: 'NaN', retryable: false });
    expect(await Promise.all(streams)).toEqual([
      [[2, 'cancelled']],
      [
        [2, 'active'],
        [3, 'failed'],
      ],
    ]);
  });

  it('ends a waiting stream at once when its client returns, with no resync in between', async () => {
    const job = await enqueue();
    const stream = events.jobUpdates('dev', job.id, 1);
    const waiting = stream.next(); // QUEUED, nothing after 1: waits for live events (or an hour)
    await settle();
    // Only the return can end this wait: the next resync is an hour away.
    expect(await stream.return!(undefined)).toEqual({ done: true, value: undefined });
    expect(await waiting).toEqual({ done: true, value: undefined });
    await runToEnd(); // events after the return reach nobody
    expect(await stream.next()).toEqual({ done: true, value: undefined });
  });
});

describe('JobEventHub previews', () => {
  const preview = (jobId: string) => ({
    jobId,
    at: new Date().toISOString(),
    previews: [
      { index: 0, step: 16, width: 32, height: 32, dataUrl: 'data:image/webp;base64,AA==' },
    ],
  });
  const settle = () => new Promise((resolve) => setTimeout(resolve, 20));

  it("streams the job's previews between its events, stamped with the last sequence, and nothing after its end", async () => {
    const events = hub(); // RUNNING at sequence 2
    const stream = events.jobUpdates('dev', 'job-1', 2);
    const seen: StreamedJobEvent[] = [];
    const done = (async () => {
      for await (const e of stream) seen.push(e);
    })();
    await settle();
    events.publishPreview(preview('job-2')); // another job's: not this stream's
    events.publishPreview(preview('job-1'));
    await settle();
    events.publish(event(3));
    await settle();
    events.publishPreview(preview('job-1'));
    await settle();
    events.publish({ ...event(4), type: 'completed', status: 'SUCCEEDED' });
    await done;
    events.publishPreview(preview('job-1'));
    expect(seen.map((e) => [e.type, e.sequence])).toEqual([
      ['preview', 2],
      ['progress', 3],
      ['preview', 3],
      ['completed', 4],
    ]);
    expect(seen[0]).toMatchObject({ status: 'RUNNING', previews: preview('job-1').previews });
  });
});
