/**
 * JobEventHub's fan-out in-process: many subscriptions of one tenant (or one job) must not pile
 * listeners onto a shared EventTarget topic, which Node reports as MaxListenersExceededWarning
 * past 10, and one published event must still reach every subscriber.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { errors } from '../errors.js';
import type { JobEvent, JobProducer, JobRecord } from '../queue/job-queue.js';
import { JobEventHub } from './job-event-hub.js';
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
