import type { JobEvent as QueueJobEvent, JobProgress, JobRecord } from '../queue/job-queue.js';
import {
  Job,
  JobEvent,
  toJobStatus,
  type Progress,
  type StoredInput,
} from '../schema/job.types.js';

export function toProgress(progress: JobProgress | null | undefined): Progress | null {
  if (!progress) return null;
  return {
    ...progress,
    fraction: progress.total > 0 ? Math.min(1, progress.step / progress.total) : 0,
  };
}

/** A queue record as the public Job; `outputs` and `queuePosition` resolve on demand. */
export function toJob(record: JobRecord): Job {
  const { params } = record;
  return Object.assign(new Job(), {
    id: record.id,
    kind: record.kind,
    status: toJobStatus(record.status),
    sequence: record.sequence,
    progress: toProgress(record.progress),
    storedOutputs: record.outputs,
    storedInputs: inputsOf(record.params),
    error: record.error,
    model: record.model,
    parameters: {
      classId: params.classId,
      count: params.count,
      seed: params.seed,
      cfgScale: params.cfgScale,
      temperature: params.temperature,
      topK: params.topK,
      topP: params.topP,
      mode: params.mode,
      strength: params.strength,
    },
    priority: record.priority,
    attempts: record.attempts,
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
  return keys.flatMap(([role, key]) => (key ? [{ role, key }] : []));
}

/** An event as the public JobEvent; its `job` field is resolved separately, on demand. */
export function toJobEvent(event: QueueJobEvent): JobEvent {
  return Object.assign(new JobEvent(), {
    sequence: event.sequence,
    status: toJobStatus(event.status),
    type: event.type,
    at: new Date(event.at),
    progress: toProgress(event.progress),
    jobId: event.jobId,
  });
}
