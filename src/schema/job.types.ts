import { Field, Float, ID, Int, ObjectType, registerEnumType } from 'type-graphql';
import type { JobOutput, JobStatus as QueueJobStatus, WebhookSpec } from '../queue/job-queue.js';
import type { Decoding as DomainDecoding } from '../jobs/decoding.js';
import { COSTS } from './costs.js';
import { Node } from './node.types.js';

export enum JobStatus {
  QUEUED = 'QUEUED',
  RUNNING = 'RUNNING',
  SUCCEEDED = 'SUCCEEDED',
  FAILED = 'FAILED',
  CANCELLED = 'CANCELLED',
  EXPIRED = 'EXPIRED',
}
registerEnumType(JobStatus, {
  name: 'JobStatus',
  description: 'QUEUED → RUNNING → SUCCEEDED | FAILED | CANCELLED; QUEUED → CANCELLED | EXPIRED',
});

/** How a job's tokens are decoded; the values are the domain's (src/jobs/decoding.ts). */
export enum Decoding {
  AR = 'ar',
  SPECULATIVE = 'speculative',
}
registerEnumType(Decoding, {
  name: 'Decoding',
  description:
    'AR: one token per GPT call and image. SPECULATIVE: drafts verified several at a time (speculative Jacobi decoding), sampling the same distribution in fewer GPT calls; a seed gives other images than under AR, the same ones alone or in any batch',
});

/** The schema enum and the queue's union carry the same names. */
export const toJobStatus = (status: QueueJobStatus): JobStatus => JobStatus[status];

@ObjectType({
  description: 'A stored image; fetch it from `url` (a presigned, expiring link), never inline.',
})
export class Image {
  @Field(() => String, { description: 'Object key, usable as an input of later jobs' })
  key!: string;

  @Field(() => String, { complexity: COSTS.signedUrl })
  url!: string;

  @Field(() => String, { description: 'A small WebP preview', complexity: COSTS.signedUrl })
  thumbnailUrl!: string;

  @Field(() => Int)
  width!: number;

  @Field(() => Int)
  height!: number;

  @Field(() => Int)
  seed!: number;

  @Field(() => String)
  format!: string;
}

@ObjectType()
export class Progress {
  @Field(() => String, { description: 'encode, holistic, patch or decode' })
  phase!: string;

  @Field(() => Int)
  step!: number;

  @Field(() => Int)
  total!: number;

  @Field(() => Float)
  fraction!: number;
}

@ObjectType()
export class JobError {
  @Field(() => String)
  code!: string;

  @Field(() => String)
  message!: string;

  @Field(() => Boolean)
  retryable!: boolean;
}

@ObjectType({ description: 'The resolved parameters of a job' })
export class JobParameters {
  @Field(() => Int, { nullable: true })
  classId?: number | undefined;

  @Field(() => Int)
  count!: number;

  @Field(() => Int, { description: 'Seed of image 0; image i uses seed + i' })
  seed!: number;

  @Field(() => Float)
  cfgScale!: number;

  @Field(() => Float)
  temperature!: number;

  @Field(() => Int)
  topK!: number;

  @Field(() => Float)
  topP!: number;

  @Field(() => String, { nullable: true })
  mode?: string | undefined;

  @Field(() => Float, { nullable: true })
  strength?: number | undefined;

  @Field(() => String, {
    description:
      "GPT precision the job ran with (fp32, int8, int4): the worker's, recorded with its images; fp32 until the job has images, and for jobs finished before precisions were recorded",
  })
  precision!: string;

  @Field(() => Decoding, {
    description: 'How its tokens were decoded; AR for jobs stored before decodings existed',
  })
  decoding!: DomainDecoding;
}

@ObjectType({ description: 'An image a job read: its source, mask, content or style' })
export class InputImage {
  @Field(() => String, {
    description: 'image or mask (in-painting), content or style (style transfer)',
  })
  role!: string;

  @Field(() => String, { description: 'Object key, as given in the job input' })
  key!: string;

  @Field(() => String, {
    description: 'Presigned, expiring GET URL of the bytes the job read (a copy made at enqueue)',
    complexity: COSTS.signedUrl,
  })
  url!: string;
}

/** An input of a job before its URL is signed. */
export interface StoredInput {
  role: 'image' | 'mask' | 'content' | 'style';
  /** As the client gave it. */
  key: string;
  /** What the job reads and `url` signs: its own copy, or `key` for jobs stored before copies. */
  objectKey: string;
}

@ObjectType({ implements: Node })
export class Job implements Node {
  @Field(() => ID)
  id!: string;

  @Field(() => String, { description: 'GENERATE, INPAINT or STYLE_TRANSFER' })
  kind!: string;

  @Field(() => JobStatus)
  status!: JobStatus;

  @Field(() => Int, { description: 'Monotonic version of the visible state' })
  sequence!: number;

  @Field(() => Progress, { nullable: true })
  progress!: Progress | null;

  /** The stored record's outputs; `outputs` signs their URLs only when a client selects it. */
  storedOutputs!: JobOutput[];

  /** The job's webhook as stored; `webhook` resolves it (with its deliveries) on demand. */
  storedWebhook!: WebhookSpec | null;

  /** The job's input keys; `inputs` signs their URLs only when a client selects it. */
  storedInputs!: StoredInput[];

  @Field(() => JobError, { nullable: true })
  error!: JobError | null;

  @Field(() => Boolean, {
    description:
      'True while a cancel accepted for this RUNNING job has not ended it yet; it then ends ' +
      'CANCELLED, never SUCCEEDED (outputs already made are deleted). False in every other state.',
  })
  cancelRequested!: boolean;

  @Field(() => String, { nullable: true, description: 'Model id; null runs the default model' })
  model!: string | null;

  @Field(() => JobParameters)
  parameters!: JobParameters;

  @Field(() => Int)
  priority!: number;

  @Field(() => Int)
  attempts!: number;

  @Field(() => String, {
    nullable: true,
    description:
      'The worker that runs the job or, once it ended, the one that ran it last (host:pid:device); null before its first claim and while it waits to run again',
  })
  workerId!: string | null;

  @Field(() => String, { nullable: true })
  idempotencyKey!: string | null;

  @Field(() => Date)
  createdAt!: Date;

  @Field(() => Date)
  updatedAt!: Date;

  @Field(() => Date, { nullable: true })
  startedAt!: Date | null;

  @Field(() => Date, { nullable: true })
  finishedAt!: Date | null;
}

@ObjectType({
  description:
    'A live preview of one image of a running job: a small WebP, inline because it is never stored',
})
export class Preview {
  @Field(() => Int, { description: 'Which image of the job, 0 … count − 1' })
  index!: number;

  @Field(() => Int, {
    description:
      'Tokens known when it was taken, holistic then patch (M … M + N; M + N: the final image)',
  })
  step!: number;

  @Field(() => Int, { description: 'Pixels, at most 64' })
  width!: number;

  @Field(() => Int, { description: 'Pixels, at most 64' })
  height!: number;

  @Field(() => String, { description: 'data:image/webp;base64,… (a few KB at most)' })
  dataUrl!: string;
}

@ObjectType({
  description: 'One change of a job; `sequence` orders them, and replays start after any of them',
})
export class JobEvent {
  @Field(() => Int)
  sequence!: number;

  @Field(() => JobStatus)
  status!: JobStatus;

  @Field(() => String, {
    description:
      'added, active, progress, cancel-requested (a cancel accepted while RUNNING), retrying, ' +
      'completed, failed, cancelled or expired; preview (live only, JobEvent.previews)',
  })
  type!: string;

  @Field(() => Date, { description: 'When the change happened (server clock)' })
  at!: Date;

  @Field(() => Progress, { nullable: true })
  progress!: Progress | null;

  @Field(() => JobError, {
    nullable: true,
    description:
      'Why the job failed or runs again (retrying: WORKER_LOST when its worker was lost, the failure when it is retried after one); null otherwise',
  })
  error!: JobError | null;

  @Field(() => [Preview], {
    nullable: true,
    complexity: COSTS.previews,
    description:
      'On `preview` events only (jobs asked with preview: true, live on jobUpdated): one per image. ' +
      'A preview event repeats the sequence of the event before it and is never replayed',
  })
  previews!: Preview[] | null;

  /** The job the event belongs to; `job` is resolved from it only when a client selects it. */
  jobId!: string;
}

@ObjectType()
export class PageInfo {
  @Field(() => Boolean)
  hasNextPage!: boolean;

  @Field(() => String, { nullable: true })
  endCursor!: string | null;
}

@ObjectType()
export class JobEdge {
  @Field(() => String)
  cursor!: string;

  @Field(() => Job)
  node!: Job;
}

@ObjectType()
export class JobConnection {
  @Field(() => [JobEdge], { complexity: COSTS.pageEdges })
  edges!: JobEdge[];

  @Field(() => PageInfo)
  pageInfo!: PageInfo;
}
