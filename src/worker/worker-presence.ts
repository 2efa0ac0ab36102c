/**
 * A worker's presence in the queue's live workers (`queue { workers }`) and in its throughput
 * (`queue { imagesPerSecond }`): it announces itself at once and then every `intervalMs`, idle
 * or busy, re-reporting its last figure each time, and retires on a clean stop. A worker that
 * dies without retiring drops out of both once the queue's `workerTtlMs` passes.
 */
import type { JobConsumer, ThroughputFigure } from '../queue/job-queue.js';

interface Logger {
  warn(obj: Record<string, unknown>, message: string): void;
}

/** Options of `WorkerPresence`. */
export interface WorkerPresenceOptions {
  workerId: string;
  queue: Pick<JobConsumer, 'announce' | 'retire' | 'reportThroughput'>;
  logger: Logger;
  /** Keep it well under the queue's `workerTtlMs`. @default 5000 */
  intervalMs?: number;
  /** The worker's measured throughput (worker/throughput-meter.ts); null before it has one. */
  figure?: () => ThroughputFigure | null;
}

/** Announces one worker until `retire`. */
export class WorkerPresence {
  private readonly options: Required<WorkerPresenceOptions>;
  private timer: NodeJS.Timeout | null = null;
  private inFlight: Promise<void> | null = null;
  private readonly reports = new Set<Promise<void>>();

  constructor(options: WorkerPresenceOptions) {
    this.options = { intervalMs: 5000, figure: () => null, ...options };
  }

  /** Publishes the current figure now (after a completion), besides every announce. */
  report(): void {
    const { queue, workerId, logger, figure } = this.options;
    const current = figure();
    if (!current || !this.timer) return;
    const reporting = queue.reportThroughput(workerId, current).catch((error: unknown) => {
      logger.warn({ err: error, workerId }, 'reporting the throughput failed');
    });
    this.reports.add(reporting);
    void reporting.finally(() => this.reports.delete(reporting));
  }

  /** Announces now and then every interval; idempotent. */
  start(): void {
    if (this.timer) return;
    this.announce();
    this.timer = setInterval(() => this.announce(), this.options.intervalMs);
    this.timer.unref(); // a worker's claim loop, not its announces, keeps the process alive
  }

  /** Stops announcing and leaves the live workers; failures are logged, never thrown. */
  async retire(): Promise<void> {
    const { queue, workerId, logger } = this.options;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    // An announce still in flight would otherwise land after the retire and count us again.
    await this.inFlight;
    await Promise.all(this.reports);
    await queue.retire(workerId).catch((error: unknown) => {
      logger.warn({ err: error, workerId }, 'retiring failed; the worker ages out instead');
    });
  }

  /** One announce at a time: a slow queue must not pile them up. */
  private announce(): void {
    const { queue, workerId, logger } = this.options;
    this.inFlight ??= queue
      .announce(workerId)
      .then(() => this.report())
      .catch((error: unknown) => logger.warn({ err: error, workerId }, 'announcing failed'))
      .finally(() => (this.inFlight = null));
  }
}
