/**
 * Collects the `workAhead` lookups made in one event-loop turn (a page of `jobs(first: 100) {
 * queuePosition }` resolves its fields together) into one `workAheadMany` call, so a page reads
 * the queue once instead of once per job.
 */
import type { JobProducer, WorkAhead } from '../queue/job-queue.js';

/** Most ids in one batch: a page is at most 100 jobs, so this only bounds a flood. */
const MAX_BATCH = 500;

export class WorkAheadBatcher {
  private pending = new Map<string, ((value: WorkAhead | null) => void)[]>();
  private failures: ((error: unknown) => void)[] = [];

  constructor(private readonly queue: Pick<JobProducer, 'workAheadMany'>) {}

  /** The job's place and images ahead; null when it is not QUEUED. */
  workAhead(id: string): Promise<WorkAhead | null> {
    return new Promise((resolve, reject) => {
      if (this.pending.size === 0) setImmediate(() => this.flush());
      const waiting = this.pending.get(id) ?? [];
      waiting.push(resolve);
      this.pending.set(id, waiting);
      this.failures.push(reject);
      if (this.pending.size >= MAX_BATCH) this.flush();
    });
  }

  private flush(): void {
    const batch = this.pending;
    const failures = this.failures;
    if (batch.size === 0) return;
    this.pending = new Map();
    this.failures = [];
    this.queue.workAheadMany([...batch.keys()]).then(
      (found) => {
        for (const [id, waiting] of batch) for (const done of waiting) done(found.get(id) ?? null);
      },
      (error: unknown) => failures.forEach((fail) => fail(error)),
    );
  }
}
