/**
 * The BullMQ half of the Redis engine. BullMQ only dispatches: it orders waiting jobs (priority,
 * delay), hands one out under a lock, and notices expired locks (its stalled check). Job state
 * lives in our own hashes; a BullMQ job carries just `{ id }` and its BullMQ id is `<id>-<run>`,
 * so a delivery that no longer matches the record (cancelled, finished, superseded by a retry)
 * is recognised and dropped.
 *
 * The Worker runs in manual mode (no processor): `getNextJob`, `extendJobLocks`,
 * `moveToCompleted`/`moveToFailed` with our lease token as BullMQ's lock token, and the stalled
 * check started by hand. See https://docs.bullmq.io/patterns/manually-fetching-jobs.
 */
import { Job, Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { BULL_QUEUE_NAME, toBullPriority } from './redis-records.js';

/** What a `BullDispatcher` is built from. */
export interface BullDispatcherOptions {
  /** Shared by the Queue and the Worker (which duplicates it for its blocking connection). */
  connection: Redis;
  prefix: string;
  stalledCheckIntervalMs: number;
  onWarning: (message: string, cause?: unknown) => void;
}

/** What a BullMQ job of ours carries. */
interface DispatchData {
  id: string;
}

/** One dispatch of a job to BullMQ: which record, which run, in what order, from when. */
export interface Dispatch {
  kind: string;
  id: string;
  bullId: string;
  priority: number;
  delayMs: number;
}

/** Deliveries remembered to finish them without a lookup; beyond this, the oldest are forgotten. */
const MAX_HELD = 10_000;

/** One BullMQ Queue (to add) and one manual-mode Worker (to take, lock and finish). */
export class BullDispatcher {
  private readonly queue: Queue<DispatchData>;
  private readonly worker: Worker<DispatchData>;
  /** Lock token → the delivery it locks, so finishing one costs no extra round trip. */
  private readonly held = new Map<string, Job<DispatchData>>();

  constructor(options: BullDispatcherOptions) {
    const { connection, prefix, stalledCheckIntervalMs, onWarning } = options;
    this.queue = new Queue<DispatchData>(BULL_QUEUE_NAME, { connection, prefix });
    this.worker = new Worker<DispatchData>(BULL_QUEUE_NAME, undefined, {
      connection,
      prefix,
      autorun: false,
      stalledInterval: stalledCheckIntervalMs,
      // Our record decides when attempts are exhausted (WORKER_LOST); BullMQ must never fail a
      // stalled job on its own, only hand it back.
      maxStalledCount: Number.MAX_SAFE_INTEGER,
    });
    // An EventEmitter 'error' without a listener would crash the process.
    this.queue.on('error', (error) => onWarning('BullMQ queue error', error));
    this.worker.on('error', (error) => onWarning('BullMQ worker error', error));
  }

  async start(): Promise<void> {
    await this.queue.waitUntilReady();
    await this.worker.waitUntilReady();
    // Manual mode does not start it: without it a dead worker's job would never come back.
    await this.worker.startStalledCheckTimer();
  }

  async close(): Promise<void> {
    await this.worker.close();
    await this.queue.close();
  }

  /** Adding an id BullMQ still holds is a no-op, so re-dispatching an orphan is safe. */
  async add(dispatch: Dispatch): Promise<void> {
    await this.queue.add(
      dispatch.kind,
      { id: dispatch.id },
      {
        jobId: dispatch.bullId,
        priority: toBullPriority(dispatch.priority),
        delay: Math.max(0, Math.round(dispatch.delayMs)),
        removeOnComplete: true,
        removeOnFail: true,
      },
    );
  }

  /** Dispatches the current run of a job hash (its `bullId`, priority and kind). */
  async addRun(hash: Record<string, string>, delayMs: number): Promise<void> {
    await this.add({
      kind: hash.kind ?? 'GENERATE',
      id: hash.id ?? '',
      bullId: hash.bullId ?? '',
      priority: Number(hash.priority),
      delayMs,
    });
  }

  /** The next job BullMQ would run, locked with `token`; null when none is ready. */
  async next(token: string): Promise<{ id: string; bullId: string } | null> {
    const job = await this.worker.getNextJob(token, { block: false });
    if (!job?.id) return null;
    this.held.set(token, job);
    // A worker that abandons claims (lost leases) must not grow this map without bound.
    if (this.held.size > MAX_HELD) this.held.delete(this.held.keys().next().value ?? '');
    return { id: job.data.id, bullId: job.id };
  }

  /** Sets the lock to `ms` from now; false when the lock is no longer `token`'s. */
  async extend(bullId: string, token: string, ms: number): Promise<boolean> {
    const failed = await this.worker.extendJobLocks([bullId], [token], Math.max(1, Math.round(ms)));
    return failed.length === 0;
  }

  /**
   * Ends a delivery (completed, or dropped as failed); BullMQ removes it. Best effort: when the
   * lock was lost meanwhile our record has already decided, and a later delivery is dropped.
   */
  async finish(bullId: string, token: string, outcome: 'completed' | 'dropped'): Promise<void> {
    const held = this.held.get(token);
    this.held.delete(token);
    try {
      const job = held?.id === bullId ? held : await Job.fromId<DispatchData>(this.queue, bullId);
      if (!job) return;
      if (outcome === 'completed') await job.moveToCompleted(null, token, false);
      else await job.moveToFailed(new Error('superseded by the job record'), token, false);
    } catch {
      // "Missing lock" and friends: expected in races; see above.
    }
  }

  /**
   * Puts a delivery back in front of the waiting jobs of its priority, under the same BullMQ id,
   * so the next `next()` hands it out again. Best effort like `finish`: a lock lost meanwhile
   * means BullMQ's stalled check hands it back anyway.
   */
  async requeue(bullId: string, token: string): Promise<void> {
    const held = this.held.get(token);
    this.held.delete(token);
    try {
      const job = held?.id === bullId ? held : await Job.fromId<DispatchData>(this.queue, bullId);
      await job?.moveToWait(token);
    } catch {
      // "Missing lock": the stalled check already moved it back to wait.
    }
  }

  /** Forgets a delivery whose lease was lost; whoever holds it now finishes it. */
  forget(token: string): void {
    this.held.delete(token);
  }

  /** Removes a job that is waiting or delayed (a locked, active one stays and is dropped later). */
  async remove(bullId: string): Promise<void> {
    try {
      await this.queue.remove(bullId);
    } catch {
      // Already gone or locked by a worker: its delivery will be dropped as stale.
    }
  }
}
