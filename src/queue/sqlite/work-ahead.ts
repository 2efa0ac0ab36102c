/**
 * What the ETA reads from the SQLite queue: the work ahead of a QUEUED job in today's claim order
 * (priority, then FIFO) and the RUNNING jobs' work in flight. Kept apart from the statements of
 * state changes: a fair claim order replaces `workAheadOf` whole.
 */
import type Database from 'better-sqlite3';
import type { JobProgress, RunningWork, WorkAhead } from '../job-queue.js';

/**
 * The jobs claimed before (priority, created_at, id), with their images: read from the covering
 * index jobs_claim_images (migrations.ts), whose expression this must repeat exactly.
 */
const AHEAD = `
  SELECT COUNT(*) AS n, COALESCE(SUM(json_extract(params, '$.count')), 0) AS images FROM jobs
  WHERE status = 'QUEUED' AND (priority > @priority
    OR (priority = @priority AND (created_at < @createdAt
      OR (created_at = @createdAt AND id < @id))))`;

/** RUNNING jobs by the jobs_lease index, the oldest lease first. */
const RUNNING = `
  SELECT id, json_extract(params, '$.count') AS images, progress FROM jobs
  WHERE status = 'RUNNING' ORDER BY lease_until LIMIT ?`;

/** The ETA's two reads on one connection. */
export class SqliteWorkReads {
  private readonly job: Database.Statement<
    [string],
    { status: string; priority: number; created_at: number }
  >;
  private readonly ahead: Database.Statement<
    [Record<string, unknown>],
    { n: number; images: number }
  >;
  private readonly running: Database.Statement<
    [number],
    { id: string; images: number | null; progress: string | null }
  >;

  constructor(db: Database.Database) {
    this.job = db.prepare('SELECT status, priority, created_at FROM jobs WHERE id = ?');
    this.ahead = db.prepare(AHEAD);
    this.running = db.prepare(RUNNING);
  }

  /** Today's FIFO order within a priority; null when the job is not QUEUED. */
  workAheadOf(id: string): WorkAhead | null {
    const row = this.job.get(id);
    if (!row || row.status !== 'QUEUED') return null;
    const ahead = this.ahead.get({ priority: row.priority, createdAt: row.created_at, id });
    return { position: (ahead?.n ?? 0) + 1, imagesAhead: ahead?.images ?? 0 };
  }

  runningWork(limit: number): RunningWork[] {
    return this.running.all(limit).map((row) => ({
      id: row.id,
      images: row.images ?? 1,
      progress: row.progress === null ? null : (JSON.parse(row.progress) as JobProgress),
    }));
  }
}
