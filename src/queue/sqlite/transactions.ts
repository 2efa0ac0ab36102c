/**
 * The SQLite queue's write path: one IMMEDIATE transaction per state change, its events inserted
 * in the same transaction, and listeners told only after the commit succeeded.
 */
import type Database from 'better-sqlite3';
import { errors } from '../../errors.js';
import type { JobEvent, JobEventType, JobFailure, JobProgress } from '../job-queue.js';
import { tell } from '../event-listeners.js';
import { workerLostFailure } from '../worker-lost.js';
import { webhookEventFor, webhookId } from '../webhook-outbox.js';
import { rowToRecord, type JobRow } from './rows.js';
import type { Statements } from './statements.js';

/** Records the event of a change just written to `row` (which already holds the new sequence). */
export type Emit = (
  row: JobRow,
  type: JobEventType,
  extra?: { progress?: JobProgress; error?: JobFailure },
) => JobRow;

/**
 * Runs `body` in one IMMEDIATE transaction (the write lock is taken up front, so two processes
 * never deadlock upgrading a read lock) and hands its events to `listeners` after commit.
 * @throws AppError INTERNAL_SERVER_ERROR (retryable) when another process held the lock too long
 */
export function writeTransaction<T>(
  db: Database.Database,
  sql: Statements,
  listeners: Iterable<(event: JobEvent) => void>,
  body: (sql: Statements, emit: Emit) => T,
): T {
  const pending: JobEvent[] = [];
  const emit: Emit = (row, type, extra = {}) => {
    sql.insertEvent.run({
      jobId: row.id,
      sequence: row.sequence,
      type,
      status: row.status,
      at: row.updated_at,
      progress: extra.progress ? JSON.stringify(extra.progress) : null,
      error: extra.error ? JSON.stringify(extra.error) : null,
    });
    writeOutbox(sql, row, type);
    pending.push({
      jobId: row.id,
      tenant: row.tenant,
      type,
      sequence: row.sequence,
      status: row.status,
      at: new Date(row.updated_at).toISOString(),
      ...extra,
    });
    return row;
  };
  let result: T;
  try {
    result = db.transaction(() => body(sql, emit)).immediate();
  } catch (error) {
    throw translateSqliteError(error);
  }
  for (const event of pending) tell(listeners, event);
  return result;
}

/**
 * The outbox entry of the change just written to `row`, when its webhook asks for the event: in
 * the caller's transaction, so the change and its delivery commit or fail together.
 */
function writeOutbox(sql: Statements, row: JobRow, type: JobEventType): void {
  if (row.webhook === null) return;
  const job = rowToRecord(row);
  const event = webhookEventFor(type, job, row.webhook_progress_at, row.updated_at);
  if (!event || !job.webhook) return;
  if (event === 'PROGRESS') sql.markProgressWebhook.run(row.updated_at, row.id);
  sql.insertOutbox.run({
    id: webhookId(row.id, row.sequence),
    jobId: row.id,
    tenant: row.tenant,
    event,
    url: job.webhook.url,
    job: JSON.stringify(job),
    now: row.updated_at,
  });
}

/**
 * Deletes a job with its events, inside the caller's transaction, leaving its `removed_jobs`
 * note for the retention service: the one way a finished job goes (deleteJob and retention).
 * The idempotency key is a column of the row, so it goes with it; so do its pending webhook
 * deliveries (outbox rows) and its attempts, in this same transaction.
 */
export function removeJob(sql: Statements, id: string, now: number): void {
  sql.recordRemoved.run(now, id);
  sql.deleteJobOutbox.run(id);
  sql.deleteJobAttempts.run(id);
  sql.deleteEvents.run(id);
  sql.deleteJob.run(id);
}

/** Expired leases whose job must not run again end now: CANCELLED if asked, else WORKER_LOST. */
export function endLostLeases(sql: Statements, emit: Emit, now: number): void {
  for (const lost of sql.lostLeases.all(now)) {
    const cancel = lost.cancel_requested === 1;
    const error = cancel ? null : workerLostFailure(lost.attempts, lost.max_attempts);
    const row = sql.finishRunning.get({
      id: lost.id,
      token: null,
      status: cancel ? 'CANCELLED' : 'FAILED',
      error: error ? JSON.stringify(error) : null,
      outputs: null,
      now,
    });
    if (row) emit(row, cancel ? 'cancelled' : 'failed', error ? { error } : {});
  }
}

/**
 * Deletes those of `ids` that are still held, with their events; the others stay as they are.
 * @returns how many it deleted
 */
export function discardHeldJobs(sql: Statements, ids: readonly string[]): number {
  let deleted = 0;
  for (const id of ids) {
    if (!sql.deleteHeld.get(id)) continue;
    sql.deleteEvents.run(id);
    deleted += 1;
  }
  return deleted;
}

/**
 * One housekeeping pass: lost workers, held jobs left behind by a dead operation, then the
 * queued TTL, then retention (each deleted job leaves its `removed_jobs` note). Each batch of at most 500 jobs is its own short transaction so API
 * writes interleave with a large sweep.
 */
export function sweepOnce(
  write: <T>(body: (sql: Statements, emit: Emit) => T) => T,
  options: { now: number; queuedTtlMs: number | undefined; retentionMs: number; heldTtlMs: number },
): void {
  const { now, queuedTtlMs, retentionMs, heldTtlMs } = options;
  write((sql, emit) => endLostLeases(sql, emit, now));
  let stale = 1;
  while (stale > 0) {
    // Counting deletions, not matches, so a row the delete refuses cannot loop this forever.
    stale = write((sql) =>
      discardHeldJobs(
        sql,
        sql.staleHeld.all(now - heldTtlMs).map((row) => row.id),
      ),
    );
  }
  if (queuedTtlMs !== undefined) {
    let expired = 1;
    while (expired > 0) {
      expired = write((sql, emit) => {
        const ids = sql.staleQueued.all(now - queuedTtlMs);
        for (const { id } of ids) {
          const row = sql.finishQueued.get({ id, status: 'EXPIRED', now });
          if (row) emit(row, 'expired');
        }
        return ids.length;
      });
    }
  }
  // The queue's retention, then jobs that asked for less (their own is never longer).
  for (const due of [
    (sql: Statements) => sql.oldFinished.all(now - retentionMs),
    (sql: Statements) => sql.ownRetentionDue.all(now),
  ]) {
    let deleted = 1;
    while (deleted > 0) {
      deleted = write((sql) => {
        const ids = due(sql);
        for (const { id } of ids) removeJob(sql, id, now);
        return ids.length;
      });
    }
  }
}

/** SQLITE_BUSY means another process held the write lock past busy_timeout: worth a retry. */
function translateSqliteError(error: unknown): unknown {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && code.startsWith('SQLITE_BUSY')) {
    return errors.internal('the queue database stayed locked by another process', error, true);
  }
  return error;
}
