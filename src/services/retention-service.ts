/**
 * Deletes the objects of deleted jobs, and uploads past retention. The queue engines delete a
 * job's record (deleteJob, or their retention sweep) in the same atomic step that writes a
 * removal note naming it (`JobRemovals`); this service then deletes the objects the note names
 * and drops the note last. Records first, objects next, the note last: a crash at any point
 * leaves either the note (the next pass deletes the objects again, deletes of absent keys being
 * no-ops) or nothing left to do, so no object outlives its job unnoticed, and no object of a
 * job that still exists is ever deleted. Objects first would instead leave a job whose images
 * are gone when the record delete fails, or race a `retryJob` that needs its input copies.
 */
import type { JobRemovals, RemovedJob } from '../queue/job-queue.js';
import type { ObjectStore } from '../storage/object-store.js';
import { jobOutputPrefix, tenantPrefix } from '../storage/object-key.js';

export interface RetentionServiceOptions {
  queue: JobRemovals;
  store: ObjectStore;
  /** Uploads last written longer ago than this are deleted (HITA_RETENTION_HOURS). */
  uploadRetentionMs: number;
  /** Pause between passes; a pass also runs at `start()`. @default 60_000 */
  intervalMs?: number;
  /** Removal notes handled per queue read. @default 100 */
  batchSize?: number;
  /** Milliseconds since the epoch; injectable for tests. @default Date.now */
  clock?: () => number;
  /** Told about a failed pass or deletion (retried later); the return value is ignored. @default process.emitWarning */
  onWarning?: (message: string, cause?: unknown) => void;
}

/** What one pass deleted. */
export interface RetentionPass {
  /** Deleted jobs whose objects are now gone (their notes dropped). */
  jobs: number;
  /** Uploads deleted for their age. */
  uploads: number;
}

/** Runs by `hita serve` beside the API; several replicas may run it at once (deletes are idempotent). */
export class RetentionService {
  private readonly queue: JobRemovals;
  private readonly store: ObjectStore;
  private readonly uploadRetentionMs: number;
  private readonly intervalMs: number;
  private readonly batchSize: number;
  private readonly clock: () => number;
  private readonly onWarning: (message: string, cause?: unknown) => void;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<unknown> = Promise.resolve();

  constructor(options: RetentionServiceOptions) {
    const {
      queue,
      store,
      uploadRetentionMs,
      intervalMs = 60_000,
      batchSize = 100,
      clock = Date.now,
      onWarning = (message: string) => process.emitWarning(message, 'RetentionWarning'),
    } = options;
    this.queue = queue;
    this.store = store;
    this.uploadRetentionMs = uploadRetentionMs;
    this.intervalMs = intervalMs;
    this.batchSize = batchSize;
    this.clock = clock;
    this.onWarning = onWarning;
  }

  /** Runs a pass now and then every `intervalMs`; a failed pass is reported and retried. */
  start(): void {
    if (this.timer) return;
    const pass = (): void => {
      this.running = this.runOnce().catch((error: unknown) =>
        this.onWarning('retention pass failed; retrying at the next interval', error),
      );
    };
    pass();
    this.timer = setInterval(pass, this.intervalMs);
    this.timer.unref(); // housekeeping must not keep a finished process alive
  }

  /** Idempotent; waits for a pass in progress (call before closing the queue and the store). */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }

  /**
   * One pass: the objects of every noted job, then uploads older than `uploadRetentionMs`.
   * @throws AppError STORAGE_UNAVAILABLE (or the queue's errors); what was done stays done
   */
  async runOnce(): Promise<RetentionPass> {
    let jobs = 0;
    for (;;) {
      const batch = await this.queue.removedJobs(this.batchSize);
      if (batch.length === 0) break;
      await this.release(batch);
      jobs += batch.length;
      if (batch.length < this.batchSize) break;
    }
    return { jobs, uploads: await this.deleteStaleUploads() };
  }

  /**
   * The objects of a job just deleted, at once (deleteJob). Never throws: on failure the note
   * stays and the next pass deletes them.
   * @returns whether they are gone now
   */
  async releaseNow(job: RemovedJob): Promise<boolean> {
    try {
      await this.release([job]);
      return true;
    } catch (error) {
      this.onWarning(`objects of deleted job ${job.id} left for the next retention pass`, error);
      return false;
    }
  }

  /** Deletes the objects of `jobs`, then drops their notes. */
  private async release(jobs: RemovedJob[]): Promise<void> {
    for (const job of jobs) {
      const keys = await this.objectKeysOf(job);
      await Promise.all(keys.map((key) => this.store.delete(key)));
    }
    await this.queue.forgetRemoved(jobs.map((job) => job.id));
  }

  /**
   * Outputs and thumbnails, the job's own input copies, and anything else stored under the
   * job's output prefix (images of an attempt that never completed). Only keys in the job's
   * tenant space: a note can never delete another tenant's objects. The uploads a job names
   * are not its own (other jobs may name them too): they go by age.
   */
  private async objectKeysOf(job: RemovedJob): Promise<string[]> {
    const own = tenantPrefix(job.tenant);
    const keys = new Set<string>([
      ...job.outputs.flatMap((output) => [output.key, output.thumbnailKey]),
      ...Object.values(job.params.inputCopies ?? {}),
      ...(await this.store.list(jobOutputPrefix(job.tenant, job.id))),
    ]);
    return [...keys].filter((key) => key.startsWith(own) && !key.includes('..'));
  }

  /**
   * Uploads (`t/<tenant>/uploads/`) last written before the retention cutoff. A job never
   * reads an upload after enqueue: it keeps its own copy of the bytes it validated, so an
   * upload is needed only until a job copied it, and age alone decides.
   */
  private async deleteStaleUploads(): Promise<number> {
    const cutoff = this.clock() - this.uploadRetentionMs;
    let deleted = 0;
    for (const tenant of (await this.store.browse('t/')).prefixes) {
      const { objects } = await this.store.browse(`${tenant}uploads/`);
      const stale = objects.filter((object) => object.lastModified.getTime() <= cutoff);
      await Promise.all(stale.map((object) => this.store.delete(object.key)));
      deleted += stale.length;
    }
    return deleted;
  }
}
