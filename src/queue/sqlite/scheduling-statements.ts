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
 * The jobs after (`from…`) one key and before (`to…`) another within one priority level; a
 * NULL bound is open. Row values keep the range on the index.
 */
const WITHIN_PRIORITY = `
  SELECT COUNT(*) AS n, SUM(images) AS images FROM jobs
  WHERE status = 'QUEUED' AND priority = @priority
    AND (@fromTag IS NULL OR (fair_tag, created_at, id) >= (@fromTag, @fromAt, @fromId))
    AND (@toTag IS NULL OR (fair_tag, created_at, id) < (@toTag, @toAt, @toId))`;

/** The jobs whose priority lies strictly between two levels (NULL `above`: no upper level). */
const BETWEEN_PRIORITIES = `
  SELECT COUNT(*) AS n, SUM(images) AS images FROM jobs
  WHERE status = 'QUEUED' AND priority > @below AND (@above IS NULL OR priority < @above)`;

/** Prepares the statements of one connection. */
export function prepareSchedulingStatements(db: Database.Database) {
  return {
    withinPriority: db.prepare<[Record<string, unknown>], AheadCount>(WITHIN_PRIORITY),
    betweenPriorities: db.prepare<[Record<string, unknown>], AheadCount>(BETWEEN_PRIORITIES),
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
