/**
 * `workAhead` on SQLite: the jobs and images ahead of QUEUED jobs in claim order, as counts over
 * ranges of the `jobs_claim` index. Many jobs are sorted by key and each range starts where the
 * one before ended, so a page of positions reads the queue up to its deepest job once.
 */
import type { WorkAhead } from '../job-queue.js';
import type { JobRow } from './rows.js';
import type { AheadCount } from './scheduling-statements.js';
import type { Statements } from './statements.js';

/** A job's key in claim order: priority (higher first), then tag, creation and id. */
type ClaimKey = Pick<JobRow, 'id' | 'priority' | 'fair_tag' | 'created_at'>;

function compareKeys(a: ClaimKey, b: ClaimKey): number {
  if (a.priority !== b.priority) return b.priority - a.priority;
  if (a.fair_tag !== b.fair_tag) return a.fair_tag - b.fair_tag;
  if (a.created_at !== b.created_at) return a.created_at - b.created_at;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** Jobs of `priority` from key `from` (inclusive) to key `to` (exclusive); null bounds are open. */
function within(sql: Statements, priority: number, from: ClaimKey | null, to: ClaimKey | null) {
  const bounds = {
    priority,
    ...(from ? { fromTag: from.fair_tag, fromAt: from.created_at, fromId: from.id } : {}),
    ...(to ? { toTag: to.fair_tag, toAt: to.created_at, toId: to.id } : {}),
  };
  if (from && to) return sql.levelFromTo.get(bounds);
  if (from) return sql.levelFrom.get(bounds);
  if (to) return sql.levelTo.get(bounds);
  throw new Error('within: a range needs at least one bound');
}

function add(total: WorkAhead, part: AheadCount | undefined): void {
  total.position += part?.n ?? 0;
  total.imagesAhead += part?.images ?? 0;
}

/** Adds the QUEUED jobs in [from, to) to `total`; `from` null means the head of the queue. */
function addRange(sql: Statements, total: WorkAhead, from: ClaimKey | null, to: ClaimKey): void {
  if (from !== null && from.priority === to.priority) {
    add(total, within(sql, to.priority, from, to));
    return;
  }
  if (from !== null) add(total, within(sql, from.priority, from, null));
  add(
    total,
    from === null
      ? sql.levelsAbove.get({ below: to.priority })
      : sql.levelsBetween.get({ below: to.priority, above: from.priority }),
  );
  add(total, within(sql, to.priority, null, to));
}

/**
 * Position (1-based) and images ahead of each QUEUED job of `ids`; others are left out. Runs
 * in the caller's read: one connection, so all ranges see the same snapshot only inside a
 * transaction, which the caller opens.
 */
export function workAheadOf(sql: Statements, ids: readonly string[]): Map<string, WorkAhead> {
  const rows = [...new Set(ids)]
    .map((id) => sql.byId.get(id))
    .filter((row): row is JobRow => row?.status === 'QUEUED')
    .sort(compareKeys);
  const result = new Map<string, WorkAhead>();
  const total: WorkAhead = { position: 0, imagesAhead: 0 };
  let previous: ClaimKey | null = null;
  for (const row of rows) {
    addRange(sql, total, previous, row);
    result.set(row.id, { position: total.position + 1, imagesAhead: total.imagesAhead });
    previous = row;
  }
  return result;
}
