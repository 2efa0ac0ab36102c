/**
 * Every SQL statement of the SQLite queue, prepared once per connection. Each state change is one
 * `UPDATE … RETURNING *` guarded by the state it leaves (and the lease token for worker calls), so
 * a racing or stale caller changes nothing and sees no row.
 */
import type Database from 'better-sqlite3';
import type { EventRow, JobRow } from './rows.js';
import { prepareOutboxStatements } from './outbox-statements.js';
import { prepareSchedulingStatements } from './scheduling-statements.js';

/** The job a claim would take next, and what the claim needs to know about it. */
interface Claimable {
  id: string;
  status: string;
  attempts: number;
  max_attempts: number;
  fair_tag: number;
}

/** Claim order (fair-scheduling.ts): priority first, then the fair tag (0 under fifo), then age. */
const CLAIM_ORDER = 'ORDER BY priority DESC, fair_tag, created_at, id';
const CANDIDATE = 'id, status, attempts, max_attempts, priority, fair_tag, created_at';

/** The best RUNNING job whose lease ran out (its worker is presumed dead): it runs again. */
const BEST_LOST = `SELECT * FROM (SELECT ${CANDIDATE} FROM jobs
  WHERE status = 'RUNNING' AND lease_until <= @now ${CLAIM_ORDER} LIMIT 1)`;

/** The best of some candidates and the best lost lease: what the next claim takes. */
const bestOf = (candidates: string) => `
  SELECT id, status, attempts, max_attempts, fair_tag FROM (
    ${candidates} UNION ALL ${BEST_LOST}) ${CLAIM_ORDER} LIMIT 1`;

/** The job the next claim takes: the best QUEUED job that is due, or a lost lease's. */
const NEXT_CLAIMABLE = bestOf(`SELECT * FROM (SELECT ${CANDIDATE} FROM jobs
  WHERE status = 'QUEUED' AND available_at <= @now ${CLAIM_ORDER} LIMIT 1)`);

/**
 * NEXT_CLAIMABLE under HITA_TENANT_MAX_RUNNING: the best due job of each tenant below its cap
 * (one index probe per tenant with waiting jobs, never a walk past a capped tenant's backlog),
 * then the best of those. A lost lease's job runs again whatever its tenant's count: it is
 * already counted as running.
 */
const NEXT_CLAIMABLE_CAPPED = bestOf(`
  SELECT j.id, j.status, j.attempts, j.max_attempts, j.priority, j.fair_tag, j.created_at
  FROM tenant_counts t JOIN jobs j ON j.id = (
    SELECT id FROM jobs WHERE tenant = t.tenant AND status = 'QUEUED' AND available_at <= @now
    ${CLAIM_ORDER} LIMIT 1)
  WHERE t.queued > 0 AND t.running < @maxRunning`);

/** QUEUED → RUNNING for one job that NEXT_CLAIMABLE chose (and REQUEUE_LOST requeued if lost). */
const CLAIM = `
  UPDATE jobs SET status = 'RUNNING', sequence = sequence + 1, attempts = attempts + 1,
    lease_token = @token, lease_until = @leaseUntil, worker_id = @workerId,
    started_at = @now, updated_at = @now, progress = NULL, error = NULL, available_at = NULL
  WHERE id = @id AND status = 'QUEUED' AND available_at <= @now
  RETURNING *`;

/**
 * RUNNING → QUEUED for a lease that ran out, just before CLAIM takes the job again in the same
 * transaction: the step that records the `retrying` event with its WORKER_LOST reason.
 */
const REQUEUE_LOST = `
  UPDATE jobs SET status = 'QUEUED', sequence = sequence + 1, updated_at = @now, error = @error,
    queued_at = @now, available_at = @now, lease_token = NULL, lease_until = NULL, worker_id = NULL
  WHERE id = @id AND status = 'RUNNING' AND lease_until <= @now
  RETURNING *`;

/** Prepares the statements of one connection; the types say what each binds and returns. */
export function prepareStatements(db: Database.Database) {
  return {
    byId: db.prepare<[string], JobRow>('SELECT * FROM jobs WHERE id = ?'),
    byIdempotencyKey: db.prepare<[string, string], JobRow>(
      'SELECT * FROM jobs WHERE tenant = ? AND idempotency_key = ?',
    ),
    countQueued: db.prepare<[], { n: number }>(
      "SELECT COUNT(*) AS n FROM jobs WHERE status = 'QUEUED'",
    ),
    insert: db.prepare<[Record<string, unknown>], JobRow>(`
      INSERT INTO jobs (id, tenant, kind, status, sequence, model, params, priority,
        idempotency_key, attempts, max_attempts, progress, outputs, error, created_at, updated_at,
        queued_at, available_at, idempotency_fingerprint, held_at, retention_ms, webhook,
        fair_tag, images)
      VALUES (@id, @tenant, @kind, 'QUEUED', 1, @model, @params, @priority, @idempotencyKey, 0,
        @maxAttempts, NULL, '[]', NULL, @now, @now, @now, @availableAt, @fingerprint, @heldAt,
        @retentionMs, @webhook, @fairTag, @images)
      RETURNING *`),
    insertEvent: db.prepare<[Record<string, unknown>]>(`
      INSERT INTO job_events (job_id, sequence, type, status, at, progress, error)
      VALUES (@jobId, @sequence, @type, @status, @at, @progress, @error)`),
    nextClaimable: db.prepare<[Record<string, unknown>], Claimable>(NEXT_CLAIMABLE),
    nextClaimableCapped: db.prepare<[Record<string, unknown>], Claimable>(NEXT_CLAIMABLE_CAPPED),
    claim: db.prepare<[Record<string, unknown>], JobRow>(CLAIM),
    requeueLost: db.prepare<[Record<string, unknown>], JobRow>(REQUEUE_LOST),
    /** A worker's announce; the same transaction forgets workers silent for longer than the TTL. */
    announceWorker: db.prepare<[string, number]>(`
      INSERT INTO workers (id, last_seen) VALUES (?, ?)
      ON CONFLICT (id) DO UPDATE SET last_seen = excluded.last_seen`),
    forgetSilentWorkers: db.prepare<[number]>('DELETE FROM workers WHERE last_seen <= ?'),
    retireWorker: db.prepare<[string]>('DELETE FROM workers WHERE id = ?'),
    countLiveWorkers: db.prepare<[number], { n: number }>(
      'SELECT COUNT(*) AS n FROM workers WHERE last_seen > ?',
    ),
    /** Expired leases that must not run again: cancel requested, or no attempts left. */
    lostLeases: db.prepare<[number], JobRow>(`
      SELECT * FROM jobs WHERE status = 'RUNNING' AND lease_until <= ?
        AND (cancel_requested = 1 OR attempts >= max_attempts) LIMIT 500`),
    heartbeat: db.prepare<[number, string, string], { cancel_requested: number }>(`
      UPDATE jobs SET lease_until = ? WHERE id = ? AND status = 'RUNNING' AND lease_token = ?
      RETURNING cancel_requested`),
    progress: db.prepare<[Record<string, unknown>], JobRow>(`
      UPDATE jobs SET progress = @progress, sequence = sequence + 1, updated_at = @now
      WHERE id = @id AND status = 'RUNNING' AND lease_token = @token RETURNING *`),
    /** RUNNING → SUCCEEDED | FAILED | CANCELLED; a null token is the sweep acting for a dead worker. */
    finishRunning: db.prepare<[Record<string, unknown>], JobRow>(`
      UPDATE jobs SET status = @status, sequence = sequence + 1, updated_at = @now,
        finished_at = @now, lease_token = NULL, lease_until = NULL,
        outputs = COALESCE(@outputs, outputs), error = @error
      WHERE id = @id AND status = 'RUNNING' AND (@token IS NULL OR lease_token = @token)
      RETURNING *`),
    /**
     * RUNNING → SUCCEEDED with its outputs, or → CANCELLED without them when a cancel was
     * requested first: one guarded UPDATE, so no cancel can slip in between check and change.
     */
    completeRunning: db.prepare<[Record<string, unknown>], JobRow>(`
      UPDATE jobs SET sequence = sequence + 1, updated_at = @now, finished_at = @now,
        status = CASE cancel_requested WHEN 1 THEN 'CANCELLED' ELSE 'SUCCEEDED' END,
        outputs = CASE cancel_requested WHEN 1 THEN outputs ELSE @outputs END,
        lease_token = NULL, lease_until = NULL, error = NULL
      WHERE id = @id AND status = 'RUNNING' AND lease_token = @token RETURNING *`),
    requeueRunning: db.prepare<[Record<string, unknown>], JobRow>(`
      UPDATE jobs SET status = 'QUEUED', sequence = sequence + 1, updated_at = @now,
        error = @error, queued_at = @now, available_at = @availableAt,
        lease_token = NULL, lease_until = NULL, worker_id = NULL
      WHERE id = @id AND status = 'RUNNING' AND lease_token = @token RETURNING *`),
    /**
     * RUNNING → QUEUED, undoing the claim: the attempt it counted, its lease and progress. The
     * claim order (priority, created_at, id) is untouched, so the job keeps its place. SQLite
     * evaluates every expression on the old row, so `attempts = 1` means "first attempt".
     */
    releaseRunning: db.prepare<[Record<string, unknown>], JobRow>(`
      UPDATE jobs SET status = 'QUEUED', sequence = sequence + 1, attempts = attempts - 1,
        started_at = CASE WHEN attempts = 1 THEN NULL ELSE started_at END, progress = NULL,
        error = NULL, updated_at = @now, queued_at = @now, available_at = @now,
        lease_token = NULL, lease_until = NULL, worker_id = NULL
      WHERE id = @id AND status = 'RUNNING' AND lease_token = @token
        AND cancel_requested = 0 RETURNING *`),
    /** QUEUED → CANCELLED | EXPIRED; a held job stops being held (a retry runs it for real). */
    finishQueued: db.prepare<[Record<string, unknown>], JobRow>(`
      UPDATE jobs SET status = @status, sequence = sequence + 1, updated_at = @now,
        finished_at = @now, available_at = NULL, held_at = NULL
      WHERE id = @id AND status = 'QUEUED' RETURNING *`),
    /** A held job becomes claimable; its place in claim order is its priority and age, as ever. */
    releaseHeld: db.prepare<[Record<string, unknown>], { id: string }>(`
      UPDATE jobs SET available_at = @now, held_at = NULL
      WHERE id = @id AND status = 'QUEUED' AND held_at IS NOT NULL RETURNING id`),
    /** Deletes a job only while it is held; its events go in the same transaction. */
    deleteHeld: db.prepare<[string], { id: string }>(`
      DELETE FROM jobs WHERE id = ? AND status = 'QUEUED' AND held_at IS NOT NULL RETURNING id`),
    staleHeld: db.prepare<[number], { id: string }>(`
      SELECT id FROM jobs WHERE held_at IS NOT NULL AND held_at <= ? LIMIT 500`),
    /** The first request only: a second one matches no row and adds no event. */
    requestCancel: db.prepare<[Record<string, unknown>], JobRow>(`
      UPDATE jobs SET cancel_requested = 1, sequence = sequence + 1, updated_at = @now
      WHERE id = @id AND status = 'RUNNING' AND cancel_requested = 0 RETURNING *`),
    retry: db.prepare<[Record<string, unknown>], JobRow>(`
      UPDATE jobs SET status = 'QUEUED', sequence = sequence + 1, attempts = 0, progress = NULL,
        outputs = '[]', error = NULL, updated_at = @now, started_at = NULL, finished_at = NULL,
        queued_at = @now, available_at = @now, cancel_requested = 0, worker_id = NULL
      WHERE id = @id AND status IN ('FAILED', 'CANCELLED') RETURNING *`),
    staleQueued: db.prepare<[number], { id: string }>(`
      SELECT id FROM jobs WHERE status = 'QUEUED' AND queued_at <= ? LIMIT 500`),
    oldFinished: db.prepare<[number], { id: string }>(`
      SELECT id FROM jobs WHERE finished_at IS NOT NULL AND finished_at <= ? LIMIT 500`),
    /** Jobs whose own retention ended; the expression matches the jobs_own_retention index. */
    ownRetentionDue: db.prepare<[number], { id: string }>(`
      SELECT id FROM jobs WHERE retention_ms IS NOT NULL AND finished_at IS NOT NULL
        AND finished_at + retention_ms <= ? LIMIT 500`),
    /** The note of a job about to be deleted, from its row (same transaction). */
    recordRemoved: db.prepare<[number, string]>(`
      INSERT OR REPLACE INTO removed_jobs (id, tenant, params, outputs, removed_at)
      SELECT id, tenant, params, outputs, ? FROM jobs WHERE id = ?`),
    removedJobs: db.prepare<
      [number],
      { id: string; tenant: string; params: string; outputs: string }
    >('SELECT id, tenant, params, outputs FROM removed_jobs ORDER BY removed_at, id LIMIT ?'),
    forgetRemoved: db.prepare<[string]>('DELETE FROM removed_jobs WHERE id = ?'),
    deleteEvents: db.prepare<[string]>('DELETE FROM job_events WHERE job_id = ?'),
    ...prepareOutboxStatements(db),
    ...prepareSchedulingStatements(db),
    deleteJob: db.prepare<[string]>('DELETE FROM jobs WHERE id = ?'),
    events: db.prepare<[string, number], EventRow>(
      'SELECT * FROM job_events WHERE job_id = ? AND sequence > ? ORDER BY sequence',
    ),
    countByStatus: db.prepare<[], { status: string; n: number }>(
      'SELECT status, COUNT(*) AS n FROM jobs GROUP BY status',
    ),
    /** Filters arrive as JSON arrays (or NULL) so one statement serves every filter shape. */
    list: db.prepare<[Record<string, unknown>], JobRow>(`
      SELECT * FROM jobs WHERE tenant = @tenant
        AND (@afterAt IS NULL OR created_at < @afterAt
          OR (created_at = @afterAt AND id < @afterId))
        AND (@statuses IS NULL OR status IN (SELECT value FROM json_each(@statuses)))
        AND (@kinds IS NULL OR kind IN (SELECT value FROM json_each(@kinds)))
      ORDER BY created_at DESC, id DESC LIMIT @limit`),
    nextDue: db.prepare<[], { due: number | null }>(`
      SELECT MIN(due) AS due FROM (
        SELECT MIN(available_at) AS due FROM jobs WHERE status = 'QUEUED'
        UNION ALL SELECT MIN(lease_until) FROM jobs WHERE status = 'RUNNING')`),
  };
}

/** The prepared statements of one connection. */
export type Statements = ReturnType<typeof prepareStatements>;
