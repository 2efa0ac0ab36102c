import { errors, isAppError, type AppError } from '../errors.js';
import { SAMPLING_KNOBS } from '../jobs/sampling-params.js';
import { toJobParameters } from '../jobs/stored-job.js';
import type { JobProgress, JobRecord, JobStatus as QueueJobStatus } from '../queue/job-queue.js';
import type { StreamedJobEvent } from '../services/job-event-hub.js';
import {
  Job,
  JobEvent,
  toJobStatus,
  type Progress,
  type StoredInput,
} from '../schema/job.types.js';
import type { EtaJob } from '../services/eta-service.js';

export function toProgress(progress: JobProgress | null | undefined): Progress | null {
  if (!progress) return null;
  return {
    ...progress,
    fraction: progress.total > 0 ? Math.min(1, progress.step / progress.total) : 0,
  };
}

/** GraphQL `Int` is a signed 32-bit integer; a larger value cannot be serialised. */
const INT_MIN = -(2 ** 31);
const INT_MAX = 2 ** 31 - 1;

/** One value the schema types `Int` or `Float`, by the path a client would select it at. */
interface NumericField {
  path: string;
  value: unknown;
  type: 'Int' | 'Float';
  /** The schema field is nullable: an absent value is fine. */
  isNullable?: boolean;
}

function numericFields(record: JobRecord): NumericField[] {
  const { params, progress } = record;
  const int = (path: string, value: unknown, isNullable = false): NumericField => ({
    path,
    value,
    type: 'Int',
    isNullable,
  });
  const float = (path: string, value: unknown, isNullable = false): NumericField => ({
    path,
    value,
    type: 'Float',
    isNullable,
  });
  return [
    int('sequence', record.sequence),
    int('priority', record.priority),
    int('attempts', record.attempts),
    int('parameters.classId', params.classId, true),
    int('parameters.count', params.count),
    int('parameters.seed', params.seed),
    ...Object.entries(SAMPLING_KNOBS).map(([knob, kind]) =>
      (kind === 'integer' ? int : float)(
        `parameters.${knob}`,
        params[knob as keyof typeof SAMPLING_KNOBS],
      ),
    ),
    float('parameters.strength', params.strength, true),
    ...(progress
      ? [int('progress.step', progress.step), int('progress.total', progress.total)]
      : []),
    ...record.outputs.flatMap((output, i) => [
      int(`outputs.${i}.width`, output.width),
      int(`outputs.${i}.height`, output.height),
      int(`outputs.${i}.seed`, output.seed),
    ]),
  ];
}

/**
 * Checks up front what GraphQL would only find while serialising (and then fail the whole
 * response for): every Int within 32 bits, every Float finite. A record stored by an older build
 * or by hand may break either.
 * @throws AppError JOB_UNREADABLE naming the first field that cannot be shown
 */
export function assertShowable(record: JobRecord): void {
  for (const { path, value, type, isNullable } of numericFields(record)) {
    if (isNullable && (value === undefined || value === null)) continue;
    const fits =
      typeof value === 'number' &&
      (type === 'Float'
        ? Number.isFinite(value)
        : Number.isInteger(value) && value >= INT_MIN && value <= INT_MAX);
    if (!fits) throw errors.jobUnreadable(record.id, path, value);
  }
}

/**
 * A page of records as Jobs, each mapped on its own: one that cannot be shown is left out and
 * reported to `onUnreadable` (with its id), so one bad record cannot take a tenant's list down.
 */
export function toShowableJobs(
  records: JobRecord[],
  onUnreadable: (record: JobRecord, error: AppError) => void,
): Job[] {
  return records.flatMap((record) => {
    try {
      return [toJob(record)];
    } catch (error) {
      if (!isAppError(error) || error.code !== 'JOB_UNREADABLE') throw error;
      onUnreadable(record, error);
      return [];
    }
  });
}

/**
 * A queue record as the public Job; `outputs` and `queuePosition` resolve on demand.
 * @throws AppError JOB_UNREADABLE when the record holds a value its GraphQL type cannot carry
 */
export function toJob(record: JobRecord): Job {
  assertShowable(record);
  return Object.assign(new Job(), {
    id: record.id,
    kind: record.kind,
    status: toJobStatus(record.status),
    sequence: record.sequence,
    progress: toProgress(record.progress),
    storedOutputs: record.outputs,
    storedInputs: inputsOf(record.params),
    storedWebhook: record.webhook,
    error: record.error,
    cancelRequested: record.cancelRequested,
    model: record.model,
    parameters: toJobParameters(record.params, record.outputs),
    priority: record.priority,
    attempts: record.attempts,
    workerId: record.workerId,
    idempotencyKey: record.idempotencyKey,
    createdAt: new Date(record.createdAt),
    updatedAt: new Date(record.updatedAt),
    startedAt: record.startedAt ? new Date(record.startedAt) : null,
    finishedAt: record.finishedAt ? new Date(record.finishedAt) : null,
  });
}

function inputsOf(params: JobRecord['params']): StoredInput[] {
  const keys: [StoredInput['role'], string | undefined][] = [
    ['image', params.imageKey],
    ['mask', params.maskKey],
    ['content', params.contentKey],
    ['style', params.styleKey],
  ];
  return keys.flatMap(([role, key]) =>
    key ? [{ role, key, objectKey: params.inputCopies?.[role] ?? key }] : [],
  );
}

/** An event as the public JobEvent; its `job` field is resolved separately, on demand. */
export function toJobEvent(event: StreamedJobEvent): JobEvent {
  return Object.assign(new JobEvent(), {
    sequence: event.sequence,
    status: toJobStatus(event.status),
    type: event.type,
    at: new Date(event.at),
    progress: toProgress(event.progress),
    error: event.error ?? null,
    previews: event.type === 'preview' ? event.previews : null,
    jobId: event.jobId,
  });
}

/** What the ETA needs of a job as the schema shows it (services/eta-service.ts). */
export function etaJobOf(job: Job): EtaJob {
  const { phase, step, total } = job.progress ?? {};
  return {
    id: job.id,
    status: job.status as QueueJobStatus,
    images: job.parameters.count,
    progress: phase === undefined ? null : { phase, step: step ?? 0, total: total ?? 0 },
    startedAtMs: job.startedAt ? job.startedAt.getTime() : null,
  };
}
