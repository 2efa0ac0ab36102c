/** Rows of the SQLite queue's tables and their mapping to the contract's types. */
import type {
  JobEvent,
  JobEventType,
  JobFailure,
  JobKind,
  JobParams,
  JobProgress,
  JobRecord,
  JobStatus,
  WebhookSpec,
} from '../job-queue.js';
import { isoOrNull } from '../job-shapes.js';

/** A `jobs` row as better-sqlite3 returns it (JSON columns as text, times as epoch ms). */
export interface JobRow {
  id: string;
  tenant: string;
  kind: JobKind;
  status: JobStatus;
  sequence: number;
  model: string | null;
  params: string;
  priority: number;
  idempotency_key: string | null;
  attempts: number;
  max_attempts: number;
  progress: string | null;
  outputs: string;
  error: string | null;
  created_at: number;
  updated_at: number;
  started_at: number | null;
  finished_at: number | null;
  queued_at: number | null;
  available_at: number | null;
  lease_token: string | null;
  lease_until: number | null;
  worker_id: string | null;
  cancel_requested: number;
  idempotency_fingerprint: string | null;
  held_at: number | null;
  retention_ms: number | null;
  webhook: string | null;
  webhook_progress_at: number | null;
  /** Start tag in the fair order (fair-scheduling.ts); 0 under fifo. */
  fair_tag: number;
  images: number;
}

/** A `job_events` row. */
export interface EventRow {
  job_id: string;
  sequence: number;
  type: JobEventType;
  status: JobStatus;
  at: number;
  progress: string | null;
  error: string | null;
}

function parseOrNull<T>(text: string | null): T | null {
  return text === null ? null : (JSON.parse(text) as T);
}

/** The contract's record; internal columns (lease, backoff) stay behind. */
export function rowToRecord(row: JobRow): JobRecord {
  return {
    id: row.id,
    tenant: row.tenant,
    kind: row.kind,
    status: row.status,
    sequence: row.sequence,
    model: row.model,
    params: JSON.parse(row.params) as JobParams,
    priority: row.priority,
    idempotencyKey: row.idempotency_key,
    attempts: row.attempts,
    maxAttempts: row.max_attempts,
    workerId: row.worker_id,
    progress: parseOrNull<JobProgress>(row.progress),
    outputs: JSON.parse(row.outputs) as JobRecord['outputs'],
    error: parseOrNull<JobFailure>(row.error),
    // Pending only while RUNNING: an ended job keeps the flag, but its status already tells.
    cancelRequested: row.status === 'RUNNING' && row.cancel_requested === 1,
    retentionMs: row.retention_ms,
    webhook: parseOrNull<WebhookSpec>(row.webhook),
    createdAt: new Date(row.created_at).toISOString(),
    updatedAt: new Date(row.updated_at).toISOString(),
    startedAt: isoOrNull(row.started_at),
    finishedAt: isoOrNull(row.finished_at),
  };
}

/** The contract's event; `tenant` comes from the job (events do not repeat it per row). */
export function rowToEvent(row: EventRow, tenant: string): JobEvent {
  const progress = parseOrNull<JobProgress>(row.progress);
  const error = parseOrNull<JobFailure>(row.error);
  return {
    jobId: row.job_id,
    tenant,
    type: row.type,
    sequence: row.sequence,
    status: row.status,
    at: new Date(row.at).toISOString(),
    ...(progress ? { progress } : {}),
    ...(error ? { error } : {}),
  };
}
