/**
 * The embedded job queue: SQLite through better-sqlite3, in WAL mode so API readers never block
 * the writer. Any number of processes may open the same file; `BEGIN IMMEDIATE` serialises
 * writers and `busy_timeout` makes them wait instead of failing with SQLITE_BUSY.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { errors } from '../../errors.js';
import type {
  ClaimedJob,
  EnqueueInput,
  HeartbeatResult,
  JobEvent,
  JobFailure,
  JobFilter,
  JobOutput,
  JobPage,
  JobParams,
  JobProgress,
  JobQueue,
  JobRecord,
  QueueStats,
  RemovedJob,
  RunningWork,
  ThroughputFigure,
  AttemptOutcome,
  OutboxDelivery,
  WebhookAttempt,
  WorkAhead,
} from '../job-queue.js';
import { isTerminal } from '../job-queue.js';
import { JobIdGenerator } from '../job-ids.js';
import { deletedEvent, countsToStats } from '../job-shapes.js';
import { decodeCursor, encodeCursor, validatePageSize } from '../list-cursor.js';
import { cannotCancel, cannotDelete, cannotRetry, queueClosed } from '../queue-errors.js';
import {
  resolveTunables,
  type JobQueueTunables,
  type ResolvedTunables,
} from '../queue-tunables.js';
import { tell } from '../event-listeners.js';
import { WorkSignal } from '../work-signal.js';
import { ThroughputBoard } from '../throughput-board.js';
import { GroupEnqueue } from './group-enqueue.js';
import { migrate } from './migrations.js';
import { rowToEvent, rowToRecord, type JobRow } from './rows.js';
import { prepareStatements, type Statements } from './statements.js';
import { SqliteWorkerCalls } from './sqlite-worker-calls.js';
import { SqliteOutbox } from './sqlite-outbox.js';
import { SqliteRunningWork } from './running-work.js';
import { workAheadOf } from './work-ahead.js';
import {
  discardHeldJobs,
  removeJob,
  sweepOnce,
  writeTransaction,
  type Emit,
} from './transactions.js';

/** Options of `SqliteJobQueue`. */
export interface SqliteJobQueueOptions extends JobQueueTunables {
  /** The database file, created with its schema when absent; `:memory:` for a private queue. */
  path: string;
  /** How long a writer waits for another process's write lock. @default 5000 */
  busyTimeoutMs?: number;
}

/**
 * `JobQueue` on one SQLite file. Events reach `onEvent` listeners of this process only,
 * synchronously after their transaction commits; other processes replay them with `events()`.
 */
export class SqliteJobQueue implements JobQueue {
  private readonly path: string;
  private readonly busyTimeoutMs: number;
  private readonly tunables: ResolvedTunables;
  private readonly listeners = new Set<(event: JobEvent) => void>();
  private readonly work = new WorkSignal();
  private readonly ids = new JobIdGenerator();
  private db: Database.Database | null = null;
  private sql: Statements | null = null;
  private runningReads: SqliteRunningWork | null = null;
  /** In memory: the embedded deployment's workers run in the process that serves the API. */
  private readonly throughput = new ThroughputBoard();
  private sweepTimer: NodeJS.Timeout | null = null;
  private closed = false;
  private readonly worker: SqliteWorkerCalls;
  private readonly outbox: SqliteOutbox;
  private readonly enqueuer: GroupEnqueue;

  constructor(options: SqliteJobQueueOptions) {
    const { path, busyTimeoutMs = 5000, ...tunables } = options;
    this.path = path;
    this.busyTimeoutMs = busyTimeoutMs;
    this.tunables = resolveTunables(tunables);
    this.worker = new SqliteWorkerCalls({
      tunables: this.tunables,
      write: (body) => this.write(body),
      statements: () => this.statements(),
      mustGet: (id) => this.mustGet(id),
      notify: () => this.work.notify(),
    });
    this.outbox = new SqliteOutbox({
      write: (body) => this.write(body),
      statements: () => this.statements(),
      clock: this.tunables.clock,
    });
    this.enqueuer = new GroupEnqueue({
      tunables: this.tunables,
      ids: this.ids,
      write: (body) => this.write(body),
      notify: () => this.work.notify(),
    });
  }

  async start(): Promise<void> {
    if (this.db) return;
    if (this.closed) throw queueClosed();
    // A first run on a fresh data directory must not fail for want of the directory.
    if (this.path !== ':memory:') mkdirSync(dirname(this.path), { recursive: true });
    const db = new Database(this.path);
    db.pragma('journal_mode = WAL');
    // NORMAL under WAL: a power loss may drop the last commits but never corrupts the file.
    db.pragma('synchronous = NORMAL');
    db.pragma(`busy_timeout = ${Math.trunc(this.busyTimeoutMs)}`);
    migrate(db);
    this.db = db;
    this.sql = prepareStatements(db);
    this.runningReads = new SqliteRunningWork(db);
    this.sweep();
    this.sweepTimer = setInterval(() => {
      try {
        this.sweep();
      } catch (error) {
        // A busy or failing sweep is retried at the next tick; it must never crash the process.
        this.tunables.onWarning('job queue sweep failed; retrying at the next interval', error);
      }
    }, this.tunables.sweepIntervalMs);
    // unref: the sweep is housekeeping and must not keep a finished CLI process alive.
    this.sweepTimer.unref();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.work.close();
    // Every call below runs synchronously to completion, so nothing is in flight at this point.
    this.db?.close();
    this.db = null;
    this.sql = null;
    this.runningReads = null;
  }

  /** Enqueues arriving in one event-loop turn share one commit (group-enqueue.ts). */
  enqueue(input: EnqueueInput): Promise<{ job: JobRecord; created: boolean }> {
    return this.enqueuer.enqueue(input);
  }

  async get(id: string): Promise<JobRecord | null> {
    const row = this.statements().byId.get(id);
    return row ? rowToRecord(row) : null;
  }

  async list(
    tenant: string,
    options: { first: number; after?: string; filter?: JobFilter },
  ): Promise<JobPage> {
    validatePageSize(options.first);
    const after = options.after === undefined ? null : decodeCursor(options.after);
    const { status, kind } = options.filter ?? {};
    const rows = this.statements().list.all({
      tenant,
      afterAt: after?.createdAtMs ?? null,
      afterId: after?.id ?? null,
      statuses: status ? JSON.stringify(status) : null,
      kinds: kind ? JSON.stringify(kind) : null,
      limit: options.first + 1,
    });
    const page = rows.slice(0, options.first);
    const last = page.at(-1);
    return {
      jobs: page.map(rowToRecord),
      endCursor: last ? encodeCursor(last.created_at, last.id) : null,
      hasNextPage: rows.length > options.first,
    };
  }

  async cancel(id: string): Promise<JobRecord> {
    return this.write((sql, emit) => {
      const row = this.mustGet(id);
      const now = this.tunables.clock();
      if (row.status === 'QUEUED') {
        const done = sql.finishQueued.get({ id, status: 'CANCELLED', now });
        if (done) return rowToRecord(emit(done, 'cancelled'));
      } else if (row.status === 'RUNNING') {
        // Still RUNNING until its worker stops; the event is what tells the worker (in-process
        // listeners at once, other processes at their next heartbeat). Asked twice: no change.
        if (row.cancel_requested === 1) return rowToRecord(row);
        const requested = sql.requestCancel.get({ id, now });
        if (requested) return rowToRecord(emit(requested, 'cancel-requested'));
      }
      throw cannotCancel(id, row.status);
    });
  }

  async retry(id: string): Promise<JobRecord> {
    const job = this.write((sql, emit) => {
      const row = this.mustGet(id);
      const retried = sql.retry.get({ id, now: this.tunables.clock() });
      if (!retried) throw cannotRetry(id, row.status);
      return rowToRecord(emit(retried, 'retrying'));
    });
    this.work.notify();
    return job;
  }

  async position(id: string): Promise<number | null> {
    return (await this.workAhead(id))?.position ?? null;
  }

  async workAhead(id: string): Promise<WorkAhead | null> {
    return (await this.workAheadMany([id])).get(id) ?? null;
  }

  async workAheadMany(ids: readonly string[]): Promise<Map<string, WorkAhead>> {
    const db = this.db;
    if (!db) throw queueClosed();
    // One read transaction: every range of the pass sees the same queue.
    return db.transaction(() => workAheadOf(this.statements(), ids)).deferred();
  }

  async runningWork(limit: number): Promise<RunningWork[]> {
    return this.running().list(limit);
  }

  async imagesPerSecond(): Promise<number | null> {
    this.statements(); // refused once closed, like every read
    return this.throughput.imagesPerSecond(this.tunables.clock() - this.tunables.workerTtlMs);
  }

  async events(id: string, afterSequence: number): Promise<JobEvent[]> {
    const row = this.mustGet(id);
    return this.statements()
      .events.all(id, afterSequence)
      .map((event) => rowToEvent(event, row.tenant));
  }

  async stats(): Promise<QueueStats> {
    const sql = this.statements();
    const counts = new Map(sql.countByStatus.all().map((r) => [r.status, r.n]));
    const seenSince = this.tunables.clock() - this.tunables.workerTtlMs;
    const workers = sql.countLiveWorkers.get(seenSince)?.n ?? 0;
    const imagesPerSecond = this.throughput.imagesPerSecond(seenSince);
    return countsToStats((status) => counts.get(status) ?? 0, workers, imagesPerSecond);
  }

  async releaseHeld(ids: string[]): Promise<void> {
    const released = this.write((sql) => {
      const now = this.tunables.clock();
      return ids.filter((id) => sql.releaseHeld.get({ id, now }) !== undefined);
    });
    if (released.length > 0) this.work.notify();
  }

  async discardHeld(ids: string[]): Promise<void> {
    this.write((sql) => discardHeldJobs(sql, ids));
  }

  async delete(id: string): Promise<RemovedJob> {
    const now = this.tunables.clock();
    const row = this.write((sql) => {
      const found = this.mustGet(id);
      if (!isTerminal(found.status)) throw cannotDelete(id, found.status);
      removeJob(sql, id, now);
      return found;
    });
    tell(this.listeners, deletedEvent(row, now));
    const { tenant, params, outputs } = rowToRecord(row);
    return { id, tenant, params, outputs };
  }

  async removedJobs(limit: number): Promise<RemovedJob[]> {
    return this.statements()
      .removedJobs.all(limit)
      .map((row) => ({
        id: row.id,
        tenant: row.tenant,
        params: JSON.parse(row.params) as JobParams,
        outputs: JSON.parse(row.outputs) as JobOutput[],
      }));
  }

  async forgetRemoved(ids: string[]): Promise<void> {
    this.write((sql) => ids.forEach((id) => sql.forgetRemoved.run(id)));
  }

  onEvent(listener: (event: JobEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async claimDeliveries(limit: number, leaseMs: number): Promise<OutboxDelivery[]> {
    return this.outbox.claimDeliveries(limit, leaseMs);
  }

  async settleDelivery(delivery: OutboxDelivery, outcome: AttemptOutcome): Promise<boolean> {
    return this.outbox.settleDelivery(delivery, outcome);
  }

  async deliveries(jobId: string): Promise<WebhookAttempt[]> {
    return this.outbox.deliveries(jobId);
  }

  async outboxDepth(): Promise<number> {
    return this.outbox.outboxDepth();
  }

  async claim(workerId: string, leaseMs: number): Promise<ClaimedJob | null> {
    return this.worker.claim(workerId, leaseMs);
  }

  async heartbeat(claim: ClaimedJob, leaseMs: number): Promise<HeartbeatResult> {
    return this.worker.heartbeat(claim, leaseMs);
  }

  async progress(claim: ClaimedJob, progress: JobProgress): Promise<void> {
    this.worker.progress(claim, progress);
  }

  async complete(claim: ClaimedJob, outputs: JobOutput[]): Promise<JobRecord> {
    return this.worker.complete(claim, outputs);
  }

  async fail(claim: ClaimedJob, failure: JobFailure): Promise<JobRecord> {
    return this.worker.fail(claim, failure);
  }

  async cancelled(claim: ClaimedJob): Promise<JobRecord> {
    return this.worker.cancelled(claim);
  }

  async release(claim: ClaimedJob): Promise<JobRecord> {
    return this.worker.release(claim);
  }

  async announce(workerId: string): Promise<void> {
    this.worker.announce(workerId);
  }

  async retire(workerId: string): Promise<void> {
    this.worker.retire(workerId);
    this.throughput.retire(workerId);
  }

  async reportThroughput(workerId: string, figure: ThroughputFigure): Promise<void> {
    this.statements();
    this.throughput.report(workerId, figure, this.tunables.clock());
  }

  async waitForWork(timeoutMs: number): Promise<void> {
    if (this.closed) return;
    // Also wake when the next backoff ends or the next lease expires: both make a job claimable
    // without any event in this process.
    const due = this.statements().nextDue.get()?.due ?? null;
    const untilDue = due === null ? timeoutMs : Math.max(0, due - this.tunables.clock());
    await this.work.wait(Math.min(timeoutMs, untilDue));
  }

  private sweep(): void {
    if (!this.db) return;
    const { clock, queuedTtlMs, retentionMs, heldTtlMs } = this.tunables;
    sweepOnce((body) => this.write(body), { now: clock(), queuedTtlMs, retentionMs, heldTtlMs });
  }

  private write<T>(body: (sql: Statements, emit: Emit) => T): T {
    return writeTransaction(this.db as Database.Database, this.statements(), this.listeners, body);
  }

  private mustGet(id: string): JobRow {
    const row = this.statements().byId.get(id);
    if (!row) throw errors.notFound('job', id);
    return row;
  }

  private running(): SqliteRunningWork {
    if (!this.runningReads) throw queueClosed();
    return this.runningReads;
  }

  private statements(): Statements {
    if (!this.sql) throw queueClosed();
    return this.sql;
  }
}
