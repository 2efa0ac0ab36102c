import type { JobEvent as QueueJobEvent, JobProgress, JobRecord } from '../queue/job-queue.js';
import { Job, JobEvent, toJobStatus, type Image, type Progress } from '../schema/job.types.js';
import type { RequestContext } from './context.js';

export function toProgress(progress: JobProgress | null | undefined): Progress | null {
  if (!progress) return null;
  return {
    ...progress,
    fraction: progress.total > 0 ? Math.min(1, progress.step / progress.total) : 0,
  };
}

/** A queue record as the public Job; output URLs are signed for this request's origin. */
export async function toJob(record: JobRecord, ctx: RequestContext): Promise<Job> {
  const { store, urlTtlSeconds, jobs } = ctx.services;
  const outputs: Image[] = await Promise.all(
    record.outputs.map(async (output) => ({
      key: output.key,
      url: await store.presignGet(output.key, urlTtlSeconds, ctx.baseUrl),
      thumbnailUrl: await store.presignGet(output.thumbnailKey, urlTtlSeconds, ctx.baseUrl),
      width: output.width,
      height: output.height,
      seed: output.seed,
      format: output.format,
    })),
  );
  const { params } = record;
  return Object.assign(new Job(), {
    id: record.id,
    kind: record.kind,
    status: toJobStatus(record.status),
    sequence: record.sequence,
    progress: toProgress(record.progress),
    queuePosition: record.status === 'QUEUED' ? await jobs.position(record.id) : null,
    outputs,
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
