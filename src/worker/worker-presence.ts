/**
 * A worker's presence in the queue's live workers (`queue { workers }`): it announces itself
 * at once and then every `intervalMs`, idle or busy, and retires on a clean stop. A worker that
 * dies without retiring drops out once the queue's `workerTtlMs` passes.
 */
import type { JobConsumer } from '../queue/job-queue.js';

interface Logger {
  warn(obj: Record<string, unknown>, message: string): void;
}

/** Options of `WorkerPresence`. */
export interface WorkerPresenceOptions {
  workerId: string;
  queue: Pick<JobConsumer, 'announce' | 'retire'>;
  logger: Logger;
  /** Keep it well under the queue's `workerTtlMs`. @default 5000 */
  intervalMs?: number;
}

/** Announces one worker until `retire`. */
export class WorkerPresence {
  private readonly options: Required<WorkerPresenceOptions>;
  private timer: NodeJS.Timeout | null = null;
  private inFlight: Promise<void> | null = null;

  constructor(options: WorkerPresenceOptions) {
    this.options = { intervalMs: 5000, ...options };
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
    await queue.retire(workerId).catch((error: unknown) => {
      logger.warn({ err: error, workerId }, 'retiring failed; the worker ages out instead');
    });
  }

  /** One announce at a time: a slow queue must not pile them up. */
  private announce(): void {
    const { queue, workerId, logger } = this.options;
    this.inFlight ??= queue
      .announce(workerId)
      .catch((error: unknown) => logger.warn({ err: error, workerId }, 'announcing failed'))
      .finally(() => (this.inFlight = null));
  }
}
