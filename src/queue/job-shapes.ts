/** Contract values (job-queue.ts) that both engines build the same way from their own rows. */
import { JOB_STATUSES, type JobEvent, type JobStatus, type QueueStats } from './job-queue.js';

/** Stats from a count per status (absent statuses count 0), the live workers and their throughput. */
export function countsToStats(
  countOf: (status: JobStatus) => number,
  workers: number,
  imagesPerSecond: number | null,
): QueueStats {
  const byStatus = Object.fromEntries(JOB_STATUSES.map((s) => [s, countOf(s)])) as Record<
    JobStatus,
    number
  >;
  return { depth: byStatus.QUEUED, running: byStatus.RUNNING, byStatus, workers, imagesPerSecond };
}

/** The live `deleted` notification of a job just deleted: its last sequence and status. */
export function deletedEvent(
  job: { id: string; tenant: string; sequence: number; status: JobStatus },
  nowMs: number,
): JobEvent {
  return {
    jobId: job.id,
    tenant: job.tenant,
    type: 'deleted',
    sequence: job.sequence,
    status: job.status,
    at: new Date(nowMs).toISOString(),
  };
}

/** Milliseconds since the epoch → ISO-8601, or null. */
export function isoOrNull(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}
