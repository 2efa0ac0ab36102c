/**
 * The jobs of one GraphQL operation that may create several (HITA_MAX_JOBS_PER_REQUEST > 1 and
 * more than one job-creating field in the operation): all of them, or none. Each is enqueued
 * held, so no worker starts one before the operation's outcome is known; the transport then
 * calls `commit()` (every field succeeded: the jobs become claimable) or `abort()` (anything
 * failed: the jobs are deleted, their idempotency keys freed).
 *
 * How the transport attaches it (see `RequestContext.jobBatch`): per operation, before
 * execution, `context.jobBatch = context.services.jobs.openBatch()` when the operation's
 * job-creating fields number more than one; after execution, `settle(hasErrors)`: `commit()`
 * when the result has no `errors`, `abort()` otherwise (Apollo: a plugin's `willSendResponse`;
 * graphql-ws: `onOperation`, whose `result` of a query or mutation is the ExecutionResult).
 * Await it before the response leaves, so a client that reads it can already see its jobs run.
 */
import type { EnqueueInput, JobProducer, JobRecord } from '../queue/job-queue.js';

/** Options of {@link JobBatch}. */
export interface JobBatchOptions {
  queue: Pick<JobProducer, 'enqueue' | 'releaseHeld' | 'discardHeld'>;
  /**
   * Called after `abort()` discarded the jobs, with them, to free what they owned (input
   * copies); awaited, and a rejection is ignored: the discard already happened.
   */
  onDiscarded?: (jobs: readonly JobRecord[]) => Promise<void>;
}

/** Where a batch is: taking jobs, or settled one way or the other. */
export type JobBatchState = 'open' | 'committed' | 'aborted';

/** The held jobs of one operation; made by `JobService.openBatch()`, one per operation. */
export class JobBatch {
  private readonly queue: JobBatchOptions['queue'];
  private readonly onDiscarded: JobBatchOptions['onDiscarded'];
  private readonly jobs: JobRecord[] = [];
  private readonly inFlight = new Set<Promise<unknown>>();
  private current: JobBatchState = 'open';

  constructor(options: JobBatchOptions) {
    ({ queue: this.queue, onDiscarded: this.onDiscarded } = options);
  }

  get state(): JobBatchState {
    return this.current;
  }

  /** The jobs this batch created, in enqueue order. */
  get jobIds(): readonly string[] {
    return this.jobs.map((job) => job.id);
  }

  /**
   * Enqueues held and remembers the job when this call created it (an idempotent repeat returns
   * a job that is not this operation's to release or discard).
   * @throws Error when the batch is settled already: a resolver outlived its operation (a bug)
   * @throws AppError as `JobProducer.enqueue`
   */
  enqueue(input: EnqueueInput): Promise<{ job: JobRecord; created: boolean }> {
    if (this.current !== 'open') {
      return Promise.reject(new Error(`job batch already ${this.current}: enqueue refused`));
    }
    const call = this.queue.enqueue({ ...input, hold: true }).then((result) => {
      if (result.created) this.jobs.push(result.job);
      return result;
    });
    this.inFlight.add(call);
    const forget = (): boolean => this.inFlight.delete(call);
    call.then(forget, forget);
    return call;
  }

  /**
   * The transport's one call after execution: `abort()` when the operation failed (its result
   * carries errors, or execution threw), `commit()` otherwise.
   */
  settle(hasFailed: boolean): Promise<void> {
    return hasFailed ? this.abort() : this.commit();
  }

  /**
   * Makes every job of the batch claimable, after any enqueue still in flight. Idempotent, and a
   * no-op after `abort()`.
   * @throws AppError when the queue is unreachable: the jobs then stay held until the sweep
   *   discards them (`heldTtlMs`), or, when the failure came after the release, run as usual
   */
  async commit(): Promise<void> {
    if (this.current !== 'open') return;
    this.current = 'committed';
    await Promise.allSettled([...this.inFlight]);
    if (this.jobs.length > 0) await this.queue.releaseHeld([...this.jobIds]);
  }

  /**
   * Deletes every job of the batch, after any enqueue still in flight. Idempotent, and a no-op
   * after `commit()`.
   * @throws AppError when the queue is unreachable: the sweep discards the jobs later
   */
  async abort(): Promise<void> {
    if (this.current !== 'open') return;
    this.current = 'aborted';
    await Promise.allSettled([...this.inFlight]);
    if (this.jobs.length === 0) return;
    await this.queue.discardHeld([...this.jobIds]);
    await this.onDiscarded?.(this.jobs).catch(() => undefined);
  }
}
