/**
 * `Job.estimatedStartAt` and `estimatedFinishAt` on demand (eta-arithmetic.ts does the sums).
 * What every estimate shares (the throughput, the running jobs' work) is read once per
 * `snapshotTtlMs` and serves every job of a `jobs(first: 100)` page; each QUEUED job then costs one
 * `workAhead` read, shared by both of its fields.
 */
import type { JobProducer, JobProgress, JobStatus } from '../queue/job-queue.js';
import { estimateQueued, estimateRunning, imagesLeft, type Eta } from './eta-arithmetic.js';

/** What an estimate needs of a job. */
export interface EtaJob {
  id: string;
  status: JobStatus;
  /** `params.count`. */
  images: number;
  progress: JobProgress | null;
  /** Epoch ms; set while RUNNING. */
  startedAtMs: number | null;
}

/** Options of {@link EtaService}. */
export interface EtaServiceOptions {
  queue: Pick<JobProducer, 'runningWork' | 'imagesPerSecond'>;
  /**
   * Where a QUEUED job stands: JobService's `workAhead`, which gathers a page's lookups into one
   * queue read, so `queuePosition` and both estimates of a page share it.
   */
  aheadOf: Pick<JobProducer, 'workAhead'>;
  /** @default Date.now */
  clock?: () => number;
  /** How long one read of the shared inputs serves every estimate, ms. @default 250 */
  snapshotTtlMs?: number;
  /** RUNNING jobs read at most (workers × jobs per worker is far less). @default 1000 */
  maxRunningJobs?: number;
}

/** The shared inputs at one moment, and the estimates made from them (two fields, one read). */
interface Snapshot {
  atMs: number;
  imagesPerSecond: number | null;
  runningImagesLeft: number;
  runningJobs: number;
  estimates: Map<string, Promise<Eta | null>>;
}

/** Estimates of one snapshot kept at most: a flood of distinct jobs cannot grow it further. */
const MAX_ESTIMATES_PER_SNAPSHOT = 10_000;

/** Estimates a job's start and finish from the measured throughput and the work ahead. */
export class EtaService {
  private readonly options: Required<EtaServiceOptions>;
  private snapshot: Promise<Snapshot> | null = null;
  private snapshotAtMs = 0;

  constructor(options: EtaServiceOptions) {
    this.options = { clock: Date.now, snapshotTtlMs: 250, maxRunningJobs: 1000, ...options };
  }

  /**
   * The job's estimated start and finish (epoch ms) while QUEUED or RUNNING; null otherwise,
   * and null until a throughput has been measured.
   * @throws AppError when the queue cannot be read
   */
  async estimate(job: EtaJob): Promise<Eta | null> {
    if (job.status !== 'QUEUED' && job.status !== 'RUNNING') return null;
    const snapshot = await this.current();
    if (snapshot.imagesPerSecond === null) return null;
    let estimate = snapshot.estimates.get(job.id);
    if (!estimate) {
      estimate = this.estimateAt(snapshot, job);
      if (snapshot.estimates.size >= MAX_ESTIMATES_PER_SNAPSHOT) snapshot.estimates.clear();
      snapshot.estimates.set(job.id, estimate);
      // A failed read must not be served to the next caller.
      estimate.catch(() => snapshot.estimates.delete(job.id));
    }
    return estimate;
  }

  private async estimateAt(snapshot: Snapshot, job: EtaJob): Promise<Eta | null> {
    const { atMs: nowMs, imagesPerSecond } = snapshot;
    if (job.status === 'RUNNING') {
      const left = imagesLeft(job.images, job.progress);
      const startedAtMs = job.startedAtMs ?? nowMs;
      const { runningJobs } = snapshot;
      return estimateRunning({
        nowMs,
        imagesPerSecond,
        startedAtMs,
        imagesLeft: left,
        runningJobs,
      });
    }
    const ahead = await this.options.aheadOf.workAhead(job.id);
    // Claimed (or cancelled) since the record was read: its next read tells the new state.
    if (!ahead) return null;
    const { imagesAhead } = ahead;
    const { runningImagesLeft } = snapshot;
    const images = job.images;
    return estimateQueued({ nowMs, imagesPerSecond, imagesAhead, runningImagesLeft, images });
  }

  private current(): Promise<Snapshot> {
    const { clock, snapshotTtlMs } = this.options;
    const now = clock();
    if (!this.snapshot || now - this.snapshotAtMs >= snapshotTtlMs) {
      this.snapshotAtMs = now;
      const snapshot = this.read(now);
      this.snapshot = snapshot;
      // A failed read is read again by the next caller, not served for the whole TTL.
      snapshot.catch(() => {
        if (this.snapshot === snapshot) this.snapshot = null;
      });
    }
    return this.snapshot;
  }

  private async read(atMs: number): Promise<Snapshot> {
    const { queue, maxRunningJobs } = this.options;
    const [imagesPerSecond, running] = await Promise.all([
      queue.imagesPerSecond(),
      queue.runningWork(maxRunningJobs),
    ]);
    const runningImagesLeft = running.reduce((sum, r) => sum + imagesLeft(r.images, r.progress), 0);
    const estimates = new Map<string, Promise<Eta | null>>();
    return { atMs, imagesPerSecond, runningImagesLeft, runningJobs: running.length, estimates };
  }
}
