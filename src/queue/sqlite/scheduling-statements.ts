/**
 * The SQLite queue's statements for fair scheduling, tenant quotas and the work ahead of a job
 * (fair-scheduling.ts has the rule). Claim order is (priority desc, fair_tag, created_at, id),
 * the `jobs_claim` index; every count below is a range of that index, so it reads only the jobs
 * it counts.
 */
import type Database from 'better-sqlite3';

/** Jobs and images in one range of the claim order. */
export interface AheadCount {
  n: number;
  images: number | null;
}

/**
 * The jobs of one priority level from one key (inclusive) and/or before another (exclusive).
 * Row values keep each bound on the index; one statement per bound shape, since an `@x IS NULL
 * OR …` bound would make SQLite scan the whole level.
 */
const LEVEL = `SELECT COUNT(*) AS n, SUM(images) AS images FROM jobs
  WHERE status = 'QUEUED' AND priority = @priority`;
const FROM = `(fair_tag, created_at, id) >= (@fromTag, @fromAt, @fromId)`;
const TO = `(fair_tag, created_at, id) < (@toTag, @toAt, @toId)`;

/** The jobs of the levels above `below` (and, with an upper bound, below `above`). */
const ABOVE = `SELECT COUNT(*) AS n, SUM(images) AS images FROM jobs
  WHERE status = 'QUEUED' AND priority > @below`;

/** Prepares the statements of one connection. */
export function prepareSchedulingStatements(db: Database.Database) {
  return {
    levelFromTo: db.prepare<[Record<string, unknown>], AheadCount>(
      `${LEVEL} AND ${FROM} AND ${TO}`,
    ),
    levelFrom: db.prepare<[Record<string, unknown>], AheadCount>(`${LEVEL} AND ${FROM}`),
    levelTo: db.prepare<[Record<string, unknown>], AheadCount>(`${LEVEL} AND ${TO}`),
    levelsAbove: db.prepare<[Record<string, unknown>], AheadCount>(ABOVE),
    levelsBetween: db.prepare<[Record<string, unknown>], AheadCount>(
      `${ABOVE} AND priority < @above`,
    ),
    tenantCounts: db.prepare<[string], { queued: number; running: number; finish: number }>(
      'SELECT queued, running, finish FROM tenant_counts WHERE tenant = ?',
    ),
    setTenantFinish: db.prepare<[number, string]>(
      'UPDATE tenant_counts SET finish = ? WHERE tenant = ?',
    ),
    virtualTime: db.prepare<[], { t: number }>(
      'SELECT virtual_time AS t FROM scheduler_clock WHERE id = 1',
    ),
    /** The virtual time only moves forward: a handed-back job claimed again leaves it. */
    advanceVirtualTime: db.prepare<[number]>(
      'UPDATE scheduler_clock SET virtual_time = MAX(virtual_time, ?) WHERE id = 1',
    ),
  };
}
