/**
 * The `JobConsumer` half of `SqliteJobQueue`. Every call that changes a job is one guarded
 * `UPDATE … RETURNING` in one transaction with its event; a stale token matches no row, so a
 * worker whose lease was lost (expired and reclaimed) changes nothing and gets CONFLICT.
 */
import type {
  ClaimedJob,
  HeartbeatResult,
  JobEventType,
  JobFailure,
  JobOutput,
  JobProgress,
  JobRecord,
  JobStatus,
} from '../job-queue.js';
import { newLeaseToken } from '../job-ids.js';
import { leaseLost } from '../queue-errors.js';
import type { ResolvedTunables } from '../queue-tunables.js';
import { workerLostRetry } from '../worker-lost.js';
import { rowToRecord, type JobRow } from './rows.js';
import type { Statements } from './statements.js';
import { endLostLeases, type Emit } from './transactions.js';

/** What the worker calls need from their queue. */
export interface SqliteWorkerDeps {
  tunables: ResolvedTunables;
  write<T>(body: (sql: Statements, emit: Emit) => T): T;
  statements(): Statements;
  /** @throws AppError NOT_FOUND */
  mustGet(id: string): JobRow;
  /** Wakes `waitForWork` callers of this process. */
  notify(): void;
}

/** Claim, heartbeat, progress, the three endings and the hand-back, for one SQLite queue. */
export class SqliteWorkerCalls {
  constructor(private readonly deps: SqliteWorkerDeps) {}

  claim(workerId: string, leaseMs: number): ClaimedJob | null {
    return this.deps.write((sql, emit) => {
      const now = this.deps.tunables.clock();
      // Lost leases that must not run again end first, so the claim below never re-runs them.
      endLostLeases(sql, emit, now);
      const { tenantMaxRunning: maxRunning, scheduling } = this.deps.tunables;
      const next =
        maxRunning === undefined
          ? sql.nextClaimable.get({ now })
          : sql.nextClaimableCapped.get({ now, maxRunning });
      if (!next) return null;
      // The fair order's clock: the next tenant to arrive starts at the tag now being served.
      if (scheduling === 'fair') sql.advanceVirtualTime.run(next.fair_tag);
      if (next.status === 'RUNNING') {
        // Its worker is lost: say so (retrying, WORKER_LOST) before the new attempt's `active`.
        const error = workerLostRetry(next.attempts, next.max_attempts);
        const args = { id: next.id, error: JSON.stringify(error), now };
        emit(sql.requeueLost.get(args) as JobRow, 'retrying', { error });
      }
      const token = newLeaseToken();
      const args = { id: next.id, token, leaseUntil: now + leaseMs, workerId, now };
      // The row was chosen (and requeued if lost) in this transaction, so the guard holds.
      const row = sql.claim.get(args) as JobRow;
      return { job: rowToRecord(emit(row, 'active')), token };
    });
  }

  /** `JobConsumer.announce`, also forgetting workers silent for longer than the TTL. */
  announce(workerId: string): void {
    this.deps.write((sql) => {
      const now = this.deps.tunables.clock();
      sql.forgetSilentWorkers.run(now - this.deps.tunables.workerTtlMs);
      sql.announceWorker.run(workerId, now);
    });
  }

  retire(workerId: string): void {
    this.deps.write((sql) => sql.retireWorker.run(workerId));
  }

  heartbeat(claim: ClaimedJob, leaseMs: number): HeartbeatResult {
    // No event: a renewed lease is not a change of the job's visible state.
    return this.deps.write((sql) => {
      const { id } = claim.job;
      const renewed = sql.heartbeat.get(this.deps.tunables.clock() + leaseMs, id, claim.token);
      if (renewed) return { owned: true, cancelRequested: renewed.cancel_requested === 1 };
      const row = sql.byId.get(id);
      const cancelRequested = row?.status === 'CANCELLED' || row?.cancel_requested === 1;
      return { owned: false, cancelRequested };
    });
  }

  progress(claim: ClaimedJob, progress: JobProgress): void {
    this.deps.write((sql, emit) => {
      const { id } = claim.job;
      const row = sql.progress.get({
        id,
        token: claim.token,
        progress: JSON.stringify(progress),
        now: this.deps.tunables.clock(),
      });
      if (!row) throw leaseLost(id, this.deps.mustGet(id).status);
      emit(row, 'progress', { progress });
    });
  }

  /** SUCCEEDED, or CANCELLED when a cancel was requested first (`JobConsumer.complete`). */
  complete(claim: ClaimedJob, outputs: JobOutput[]): JobRecord {
    return this.deps.write((sql, emit) => {
      const { id } = claim.job;
      const args = { id, token: claim.token, outputs: JSON.stringify(outputs) };
      const row = sql.completeRunning.get({ ...args, now: this.deps.tunables.clock() });
      if (!row) throw leaseLost(id, this.deps.mustGet(id).status);
      return rowToRecord(emit(row, row.status === 'CANCELLED' ? 'cancelled' : 'completed'));
    });
  }

  fail(claim: ClaimedJob, failure: JobFailure): JobRecord {
    const { tunables } = this.deps;
    const result = this.deps.write((sql, emit) => {
      const { id } = claim.job;
      const owned = this.ownedOrCancelled(sql, emit, claim);
      if ('cancelled' in owned) return { job: owned.cancelled, requeued: false };
      const { row } = owned;
      const now = tunables.clock();
      const error = JSON.stringify(failure);
      if (failure.retryable && row.attempts < row.max_attempts) {
        const availableAt = now + tunables.retryBackoffMs(row.attempts);
        const args = { id, token: claim.token, error, availableAt, now };
        const queued = sql.requeueRunning.get(args) as JobRow; // the guard above holds in this transaction
        return { job: rowToRecord(emit(queued, 'retrying', { error: failure })), requeued: true };
      }
      const args = { id, token: claim.token, status: 'FAILED', error, outputs: null, now };
      const failed = sql.finishRunning.get(args) as JobRow;
      return { job: rowToRecord(emit(failed, 'failed', { error: failure })), requeued: false };
    });
    if (result.requeued) this.deps.notify();
    return result.job;
  }

  cancelled(claim: ClaimedJob): JobRecord {
    return this.finish(claim, 'CANCELLED', 'cancelled', null);
  }

  /** `JobConsumer.release`: one guarded UPDATE and its `retrying` event, or CANCELLED if asked. */
  release(claim: ClaimedJob): JobRecord {
    const result = this.deps.write((sql, emit) => {
      const { id } = claim.job;
      const owned = this.ownedOrCancelled(sql, emit, claim);
      if ('cancelled' in owned) return { job: owned.cancelled, isQueued: false };
      // The guard above holds within this transaction, so the UPDATE matches the row.
      const args = { id, token: claim.token, now: this.deps.tunables.clock() };
      const queued = sql.releaseRunning.get(args) as JobRow;
      return { job: rowToRecord(emit(queued, 'retrying')), isQueued: true };
    });
    if (result.isQueued) this.deps.notify();
    return result.job;
  }

  /**
   * The claimed job's row inside the current transaction, or its CANCELLED ending when a cancel
   * was asked first: an accepted cancel wins over another try, a failure and a hand-back.
   * @throws AppError CONFLICT when the lease was lost (the job is someone else's now)
   */
  private ownedOrCancelled(
    sql: Statements,
    emit: Emit,
    claim: ClaimedJob,
  ): { row: JobRow } | { cancelled: JobRecord } {
    const row = this.deps.mustGet(claim.job.id);
    if (row.status !== 'RUNNING' || row.lease_token !== claim.token) {
      throw leaseLost(claim.job.id, row.status);
    }
    if (row.cancel_requested === 1) {
      return { cancelled: this.finishIn(sql, emit, claim, 'CANCELLED', 'cancelled', null) };
    }
    return { row };
  }

  private finish(
    claim: ClaimedJob,
    status: JobStatus,
    type: JobEventType,
    outputs: string | null,
  ): JobRecord {
    return this.deps.write((sql, emit) => this.finishIn(sql, emit, claim, status, type, outputs));
  }

  private finishIn(
    sql: Statements,
    emit: Emit,
    claim: ClaimedJob,
    status: JobStatus,
    type: JobEventType,
    outputs: string | null,
  ): JobRecord {
    const { id } = claim.job;
    const now = this.deps.tunables.clock();
    const args = { id, token: claim.token, status, error: null, outputs, now };
    const row = sql.finishRunning.get(args);
    if (!row) throw leaseLost(id, this.deps.mustGet(id).status);
    return rowToRecord(emit(row, type));
  }
}
