/**
 * What the ETA reads of the RUNNING jobs on SQLite: their images and progress, the work in
 * flight ahead of the queue. (The work ahead of a QUEUED job is work-ahead.ts.)
 */
import type Database from 'better-sqlite3';
import type { JobProgress, RunningWork } from '../job-queue.js';

/** RUNNING jobs by the jobs_lease index, the oldest lease first. */
const RUNNING = `
  SELECT id, images, progress FROM jobs
  WHERE status = 'RUNNING' ORDER BY lease_until LIMIT ?`;

/** The RUNNING jobs' work, one prepared statement on one connection. */
export class SqliteRunningWork {
  private readonly running: Database.Statement<
    [number],
    { id: string; images: number; progress: string | null }
  >;

  constructor(db: Database.Database) {
    this.running = db.prepare(RUNNING);
  }

  list(limit: number): RunningWork[] {
    return this.running.all(limit).map((row) => ({
      id: row.id,
      images: row.images,
      progress: row.progress === null ? null : (JSON.parse(row.progress) as JobProgress),
    }));
  }
}
