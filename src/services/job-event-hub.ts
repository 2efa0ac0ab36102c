import { createPubSub, type PubSub } from '@graphql-yoga/subscription';
import { SlidingBuffer } from '@repeaterjs/repeater';
import { isTerminal, type JobEvent, type JobProducer } from '../queue/job-queue.js';
import type { JobService } from './job-service.js';

/** Topic names, in one place. */
export const TOPICS = { job: 'JOB_EVENT', tenant: 'TENANT_EVENT' } as const;

export type JobTopics = {
  [TOPICS.job]: [jobId: string, event: JobEvent];
  [TOPICS.tenant]: [tenant: string, event: JobEvent];
};

export interface JobEventHubOptions {
  queue: JobProducer;
  jobs: JobService;
  /** With no live event for this long, re-read durable state (lost pub/sub messages). @default 2000 */
  resyncMs?: number;
}

/**
 * Turns durable job events into subscriptions that lose nothing: a resumable stream per job
 * (replay after a sequence, then live, re-reading durable state on any gap or silence), and a
 * live stream per tenant.
 */
export class JobEventHub {
  readonly pubSub: PubSub<JobTopics>;
  private readonly queue: JobProducer;
  private readonly jobs: JobService;
  private readonly resyncMs: number;

  constructor(options: JobEventHubOptions) {
    const { queue, jobs, resyncMs = 2000 } = options;
    this.queue = queue;
    this.jobs = jobs;
    this.resyncMs = resyncMs;
    // A slow client must not stall publishing; it drops its oldest live events and the gap is
    // then filled from durable state.
    this.pubSub = createPubSub<JobTopics>({ repeaterBuffer: new SlidingBuffer(1024) });
  }

  /** Fans one event out to its job's and its tenant's subscribers. */
  publish(event: JobEvent): void {
    this.pubSub.publish(TOPICS.job, event.jobId, event);
    this.pubSub.publish(TOPICS.tenant, event.tenant, event);
  }

  /**
   * Every event of a job after `afterSequence`, in order and without duplicates, ending with the
   * terminal event. @throws NOT_FOUND for unknown or foreign jobs (before anything is streamed).
   */
  async *jobUpdates(
    tenant: string,
    jobId: string,
    afterSequence: number,
  ): AsyncGenerator<JobEvent> {
    await this.jobs.get(tenant, jobId);
    const live = this.pubSub.subscribe(TOPICS.job, jobId);
    // The first next() attaches the listener: do it before reading durable state, so nothing
    // published in between is missed.
    let pending = live.next();
    let last = afterSequence;
    try {
      for (;;) {
        for (const event of await this.queue.events(jobId, last)) {
          if (event.sequence <= last) continue;
          last = event.sequence;
          yield event;
          if (isTerminal(event.status)) return;
        }
        const next = await Promise.race([pending, sleep(this.resyncMs)]);
        if (next === undefined) continue; // silence: re-read durable state
        pending = live.next();
        if (next.done) return;
        const event = next.value as JobEvent;
        if (event.sequence <= last) continue;
        if (event.sequence > last + 1) continue; // a gap: the durable read at the loop top fills it
        last = event.sequence;
        yield event;
        if (isTerminal(event.status)) return;
      }
    } finally {
      await live.return();
    }
  }

  /** Live events of every job of a tenant. */
  tenantUpdates(tenant: string): AsyncIterable<JobEvent> {
    return this.pubSub.subscribe(TOPICS.tenant, tenant) as AsyncIterable<JobEvent>;
  }
}

function sleep(ms: number): Promise<undefined> {
  return new Promise((resolve) => setTimeout(() => resolve(undefined), ms).unref());
}
