import type { JobQueue } from '../queue/job-queue.js';
import type { ObjectStore } from '../storage/object-store.js';

/** The queue as the `queue` query shows it. */
export interface QueueStatus {
  /** Jobs waiting. */
  depth: number;
  running: number;
  /** Live workers of the whole cluster, from their announces. */
  workers: number;
  /** Rows in the running batches of this server. */
  batchRows: number;
  /** Over the live workers of the whole cluster; null until one has measured it. */
  imagesPerSecond: number | null;
}

/** What the `health` query reports: each seam's 'ok' or its error message. */
export interface HealthStatus {
  ok: boolean;
  queue: string;
  storage: string;
  /** Workers of this process. */
  workers: number;
}

/** Options of {@link StatusService}. */
export interface StatusServiceOptions {
  queue: JobQueue;
  store: ObjectStore;
  /** Active batch rows over this process's engines. */
  batchRows: () => Promise<number>;
  /** Workers started in this process (read on every call: they start after the service). */
  workerCount: () => number;
}

/** The `queue` and `health` answers, read from the seams on every call. */
export class StatusService {
  private readonly options: StatusServiceOptions;

  constructor(options: StatusServiceOptions) {
    this.options = options;
  }

  /** @throws AppError when the queue cannot report its stats */
  async queue(): Promise<QueueStatus> {
    const { queue, batchRows } = this.options;
    const stats = await queue.stats();
    return {
      depth: stats.depth,
      running: stats.running,
      workers: stats.workers,
      batchRows: await batchRows(),
      imagesPerSecond: stats.imagesPerSecond,
    };
  }

  /** Never throws: a seam that fails reports its error message instead of 'ok'. */
  async health(): Promise<HealthStatus> {
    const { queue, store, workerCount } = this.options;
    const queueOk = await queue.stats().then(
      () => 'ok',
      (e: Error) => e.message,
    );
    const storeOk = await store.stat('healthcheck').then(
      () => 'ok',
      (e: Error) => e.message,
    );
    return {
      ok: queueOk === 'ok' && storeOk === 'ok',
      queue: queueOk,
      storage: storeOk,
      workers: workerCount(),
    };
  }
}
