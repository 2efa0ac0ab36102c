import { isTerminal, type JobEvent, type JobProducer, type JobRecord } from '../queue/job-queue.js';
import { isAppError } from '../errors.js';
import type { JobPreview, PreviewMessage } from '../queue/preview-channel.js';
import type { JobService } from './job-service.js';
import { TopicFanout } from './topic-fanout.js';

export interface JobEventHubOptions {
  queue: JobProducer;
  jobs: JobService;
  /** With no live event for this long, re-read durable state (lost pub/sub messages). @default 2000 */
  resyncMs?: number;
}

/**
 * A live preview in a job's stream (`jobUpdated`): it carries the sequence of the last event the
 * stream delivered, so resuming after it loses nothing, and it is never replayed.
 */
export interface JobPreviewEvent extends Omit<JobEvent, 'type'> {
  type: 'preview';
  previews: JobPreview[];
}

/** What a job's stream yields: its durable events, and live previews between them. */
export type StreamedJobEvent = JobEvent | JobPreviewEvent;

/**
 * Turns durable job events into subscriptions that lose nothing: a resumable stream per job
 * (replay after a sequence, then live, re-reading durable state on any gap or silence), and a
 * live stream per tenant.
 */
export class JobEventHub {
  // Live fan-out by job id and by tenant. A slow client must not stall publishing: it drops its
  // oldest live events (1024 held) and the gap is then filled from durable state.
  private readonly byJob = new TopicFanout<JobEvent>();
  private readonly byTenant = new TopicFanout<JobEvent>();
  // Only the newest preview of a job matters: a slow client skips the older ones.
  private readonly previewsByJob = new TopicFanout<PreviewMessage>(1);
  private readonly queue: JobProducer;
  private readonly jobs: JobService;
  private readonly resyncMs: number;

  constructor(options: JobEventHubOptions) {
    const { queue, jobs, resyncMs = 2000 } = options;
    this.queue = queue;
    this.jobs = jobs;
    this.resyncMs = resyncMs;
  }

  /**
   * Fans one event out to its job's and its tenant's subscribers. A `deleted` notification only
   * ends the job's streams: it is no state a JobEvent could show (its job is gone).
   */
  publish(event: JobEvent): void {
    this.byJob.publish(event.jobId, event);
    if (event.type !== 'deleted') this.byTenant.publish(event.tenant, event);
  }

  /** Hands a live preview to the streams of its job (none of them is a tenant's stream). */
  publishPreview(message: PreviewMessage): void {
    this.previewsByJob.publish(message.jobId, message);
  }

  /**
   * Every event of a job after `afterSequence`, in order and without duplicates, ending with the
   * terminal event. When the job is already terminal and nothing follows `afterSequence` (a
   * client resuming after the terminal event, or past it), the stream completes at once; while
   * the job is not terminal it waits for live events. A job deleted meanwhile completes the
   * stream: at its live `deleted` notification, or at the next durable read that finds it gone
   * (a notification lost in a Redis reconnect, or sent by another process on one SQLite file).
   * @throws NOT_FOUND for unknown or foreign jobs (before anything is streamed).
   */
  jobUpdates(
    tenant: string,
    jobId: string,
    afterSequence: number,
  ): AsyncIterableIterator<StreamedJobEvent> {
    let stop = (): void => undefined;
    const stopped = new Promise<typeof STOPPED>((resolve) => (stop = () => resolve(STOPPED)));
    const stream = this.follow(tenant, jobId, afterSequence, stopped);
    // A client that leaves while its stream waits (for a live event or the next resync) must end
    // it now: a generator's return() would otherwise queue behind that wait, and the stream would
    // go on reading durable state every resyncMs until its job's next event.
    const iterator: AsyncIterableIterator<StreamedJobEvent> = {
      [Symbol.asyncIterator]: () => iterator,
      next: () => stream.next(),
      return: (value?: unknown) => {
        stop();
        return stream.return(value);
      },
      throw: (error?: unknown) => {
        stop();
        return stream.throw(error);
      },
    };
    return iterator;
  }

  private async *follow(
    tenant: string,
    jobId: string,
    afterSequence: number,
    stopped: Promise<typeof STOPPED>,
  ): AsyncGenerator<StreamedJobEvent> {
    let snapshot: JobRecord | null = await this.jobs.get(tenant, jobId);
    const live = this.byJob.subscribe(jobId);
    const previews = this.previewsByJob.subscribe(jobId);
    // The first next() attaches the listener: do it before reading durable state, so nothing
    // published in between is missed.
    let pending = live.next();
    let preview = previews.next();
    let last = afterSequence;
    try {
      for (;;) {
        let replayed = 0;
        const durable = await this.eventsUnlessGone(jobId, last);
        if (durable === null) return; // deleted: nothing will ever follow
        for (const event of durable) {
          if (event.sequence <= last) continue;
          last = event.sequence;
          replayed += 1;
          yield event;
          if (isTerminal(event.status)) return;
        }
        // Terminal before the read above and nothing after `last`: its terminal event is at or
        // before afterSequence, and no live event will ever come. (A retry in between shows up
        // as replayed events, so a job that runs again is still followed.)
        if (snapshot && isTerminal(snapshot.status) && replayed === 0) return;
        snapshot = null;
        const silence = sleep(this.resyncMs);
        let next;
        // Previews pass between durable events without a durable read each (they come ~2/s).
        for (;;) {
          next = await Promise.race([pending, silence, stopped, preview.then(asPreview)]);
          if (!isPreview(next)) break;
          preview = previews.next();
          if (next.preview.done) continue;
          yield this.previewEvent(next.preview.value, tenant, last);
        }
        if (next === STOPPED) return;
        if (next === undefined) {
          // Silence: re-read durable state, and whether the job ended unseen (at or before `last`).
          snapshot = await this.queue.get(jobId);
          continue;
        }
        pending = live.next();
        if (next.done) return;
        const event = next.value as JobEvent;
        if (event.type === 'deleted') return;
        if (event.sequence <= last) {
          if (isTerminal(event.status)) return; // it ended at or before afterSequence
          continue;
        }
        if (event.sequence > last + 1) continue; // a gap: the durable read at the loop top fills it
        last = event.sequence;
        yield event;
        if (isTerminal(event.status)) return;
      }
    } finally {
      await Promise.all([live.return(undefined), previews.return(undefined)]);
    }
  }

  private previewEvent(message: PreviewMessage, tenant: string, last: number): JobPreviewEvent {
    const { jobId, at, previews } = message;
    return { jobId, tenant, type: 'preview', sequence: last, status: 'RUNNING', at, previews };
  }

  /** The durable events after `afterSequence`; null once the job is gone (deleted). */
  private async eventsUnlessGone(jobId: string, afterSequence: number): Promise<JobEvent[] | null> {
    try {
      return await this.queue.events(jobId, afterSequence);
    } catch (error) {
      if (isAppError(error) && error.code === 'NOT_FOUND') return null;
      throw error;
    }
  }

  /** Live events of every job of a tenant. */
  tenantUpdates(tenant: string): AsyncIterable<JobEvent> {
    return this.byTenant.subscribe(tenant);
  }
}

/** A preview's turn in the race of `follow`, told apart from a live event's. */
interface PreviewTurn {
  preview: IteratorResult<PreviewMessage>;
}

function asPreview(preview: IteratorResult<PreviewMessage>): PreviewTurn {
  return { preview };
}

function isPreview(value: unknown): value is PreviewTurn {
  return typeof value === 'object' && value !== null && 'preview' in value;
}

/** What a stopped wait resolves with (the client left). */
const STOPPED = Symbol('stopped');

function sleep(ms: number): Promise<undefined> {
  return new Promise((resolve) => setTimeout(() => resolve(undefined), ms).unref());
}
