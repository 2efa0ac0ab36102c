/**
 * The records the job queue seam speaks in (job-queue.ts re-exports them): a job as stored, its
 * states, progress, outputs, failure, webhook, and the events of its changes.
 */
import type { ErrorCode } from '../errors.js';
import type { GptPrecision } from '../jobs/gpt-precision.js';
import type { InputRole, StoredJobParams } from '../jobs/job-request.js';

export type JobKind = 'GENERATE' | 'INPAINT' | 'STYLE_TRANSFER';

/**
 * QUEUED → RUNNING → SUCCEEDED | FAILED | CANCELLED; QUEUED → CANCELLED | EXPIRED. A cancel
 * accepted for a RUNNING job always ends it CANCELLED (docs/architecture.md has the table).
 */
export const JOB_STATUSES = [
  'QUEUED',
  'RUNNING',
  'SUCCEEDED',
  'FAILED',
  'CANCELLED',
  'EXPIRED',
] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

export const TERMINAL_STATUSES: readonly JobStatus[] = [
  'SUCCEEDED',
  'FAILED',
  'CANCELLED',
  'EXPIRED',
];

export function isTerminal(status: JobStatus): boolean {
  return TERMINAL_STATUSES.includes(status);
}

export interface JobProgress {
  /** 'encode' | 'holistic' | 'patch' | 'decode' */
  phase: string;
  step: number;
  total: number;
}

/** One stored image of a finished job; keys are object-store keys scoped by job. */
export interface JobOutput {
  key: string;
  thumbnailKey: string;
  width: number;
  height: number;
  seed: number;
  format: 'png';
  /**
   * The GPT precision the worker that made it ran (`fp32`, `int8`, `int4`): a property of the
   * worker's loaded model, known only when the job runs, so it is recorded here at completion,
   * not with the request. Absent in records written before precisions existed (read as `fp32`).
   */
  precision?: GptPrecision;
}

export interface JobFailure {
  /** From the catalogue; stored with the job and shown as `JobError.code`, so never renamed. */
  code: ErrorCode;
  message: string;
  retryable: boolean;
}

/**
 * What a job asks for, stored verbatim (JSON): its validated JobRequest without `kind` and
 * `model` (src/jobs/job-request.ts defines both, and derives one from the other).
 */
export type JobParams = StoredJobParams;

export type { InputRole };

export interface JobRecord {
  id: string;
  tenant: string;
  kind: JobKind;
  status: JobStatus;
  /** Monotonic version of the visible state; every event increments it by one. */
  sequence: number;
  /** Model id; null means the server's default at run time. */
  model: string | null;
  params: JobParams;
  /** Higher runs first. @default 0 */
  priority: number;
  idempotencyKey: string | null;
  /** Claims so far (a crashed worker's claim counts). */
  attempts: number;
  /**
   * The worker that holds the job's lease or, once the job ended, the one that ran it last (its
   * `claim` workerId). Null before the first claim and while the job waits to run again.
   */
  workerId: string | null;
  maxAttempts: number;
  progress: JobProgress | null;
  outputs: JobOutput[];
  error: JobFailure | null;
  /**
   * True while a cancel accepted for this RUNNING job has not ended it yet; false in every other
   * state (a cancelled job says so by its status). Whatever its worker calls next, the job ends
   * CANCELLED.
   */
  cancelRequested: boolean;
  /**
   * How long the job is kept after it finishes, when it asked for less than the queue's
   * retention (`EnqueueInput.retentionMs`); null: the queue's retention.
   */
  retentionMs: number | null;
  /** Where the job's events are posted (`EnqueueInput.webhook`); null: no webhook. */
  webhook: WebhookSpec | null;
  /** ISO-8601 timestamps. */
  createdAt: string;
  updatedAt: string;
  startedAt: string | null;
  finishedAt: string | null;
}

/**
 * `cancel-requested`: a cancel was accepted for a RUNNING job (status stays RUNNING); its worker
 * listens for it and stops the job, which then ends with `cancelled`.
 *
 * `deleted`: `JobProducer.delete` removed the finished job. Live only (`onEvent`): never in
 * `events()`, and it bumps no sequence (it carries the job's last sequence and status), so
 * streams of the job can end.
 */
export type JobEventType =
  | 'added'
  | 'active'
  | 'progress'
  | 'cancel-requested'
  | 'retrying'
  | 'completed'
  | 'failed'
  | 'cancelled'
  | 'expired'
  | 'deleted';

/** A change of a job's visible state; `sequence` equals the job's sequence after the change. */
export interface JobEvent {
  jobId: string;
  tenant: string;
  type: JobEventType;
  sequence: number;
  status: JobStatus;
  /** ISO-8601. */
  at: string;
  progress?: JobProgress;
  error?: JobFailure;
}

/** What a webhook can report; the GraphQL enum's names (webhook-outbox.ts has the rules). */
export type WebhookEvent =
  'STARTED' | 'PROGRESS' | 'SUCCEEDED' | 'FAILED' | 'CANCELLED' | 'EXPIRED';

/** A job's webhook as stored with it (not a parameter of the inference). */
export interface WebhookSpec {
  /** Checked at enqueue (services/webhook-address-guard.ts), and again at each delivery. */
  url: string;
  /** Never empty. */
  events: WebhookEvent[];
}
