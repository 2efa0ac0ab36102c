/**
 * The SQLite statements of the webhook outbox (migration 6): entries written by the transaction
 * of the change they report (transactions.ts), claimed under a lease, settled per attempt.
 */
import type Database from 'better-sqlite3';
import { WEBHOOK_ATTEMPTS_KEPT } from '../webhook-outbox.js';

/** A `webhook_outbox` row. */
export interface OutboxRow {
  id: string;
  job_id: string;
  tenant: string;
  event: string;
  url: string;
  job: string;
  created_at: number;
  attempts: number;
  due_at: number;
  lease_token: string | null;
}

/** A `webhook_attempts` row. */
export interface AttemptRow {
  event: string;
  attempt: number;
  status: string;
  http_status: number | null;
  at: number;
}

/** Prepared with the queue's other statements (statements.ts). */
export function prepareOutboxStatements(db: Database.Database) {
  return {
    insertOutbox: db.prepare<[Record<string, unknown>]>(`
      INSERT OR IGNORE INTO webhook_outbox (id, job_id, tenant, event, url, job, created_at, due_at)
      VALUES (@id, @jobId, @tenant, @event, @url, @job, @now, @now)`),
    markProgressWebhook: db.prepare<[number, string]>(
      'UPDATE jobs SET webhook_progress_at = ? WHERE id = ?',
    ),
    /** The claim: due rows (backoff over, or a lease ran out) leased until @leaseUntil. */
    claimOutbox: db.prepare<[Record<string, unknown>], OutboxRow>(`
      UPDATE webhook_outbox SET due_at = @leaseUntil, lease_token = @token, attempts = attempts + 1
      WHERE id IN (SELECT id FROM webhook_outbox WHERE due_at <= @now ORDER BY due_at LIMIT @limit)
      RETURNING *`),
    leasedOutbox: db.prepare<[string, string], { job_id: string }>(
      'SELECT job_id FROM webhook_outbox WHERE id = ? AND lease_token = ?',
    ),
    retryOutbox: db.prepare<[number, string]>(
      'UPDATE webhook_outbox SET due_at = ?, lease_token = NULL WHERE id = ?',
    ),
    deleteOutbox: db.prepare<[string]>('DELETE FROM webhook_outbox WHERE id = ?'),
    insertAttempt: db.prepare<[Record<string, unknown>]>(`
      INSERT INTO webhook_attempts (job_id, event, attempt, status, http_status, at)
      VALUES (@jobId, @event, @attempt, @status, @httpStatus, @at)`),
    trimAttempts: db.prepare<[string, string]>(`
      DELETE FROM webhook_attempts WHERE job_id = ? AND seq NOT IN (
        SELECT seq FROM webhook_attempts WHERE job_id = ? ORDER BY seq DESC
        LIMIT ${WEBHOOK_ATTEMPTS_KEPT})`),
    attemptsOf: db.prepare<[string], AttemptRow>(`
      SELECT * FROM (SELECT event, attempt, status, http_status, at, seq FROM webhook_attempts
        WHERE job_id = ? ORDER BY seq DESC LIMIT ${WEBHOOK_ATTEMPTS_KEPT}) ORDER BY seq`),
    pendingOf: db.prepare<[string], OutboxRow>(
      'SELECT * FROM webhook_outbox WHERE job_id = ? ORDER BY created_at, id',
    ),
    outboxDepth: db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM webhook_outbox'),
    deleteJobOutbox: db.prepare<[string]>('DELETE FROM webhook_outbox WHERE job_id = ?'),
    deleteJobAttempts: db.prepare<[string]>('DELETE FROM webhook_attempts WHERE job_id = ?'),
  };
}
