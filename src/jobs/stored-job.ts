/**
 * A job as queues store it, and the shapes derived from it: the stored parameters are the
 * request without `kind` and `model` (their own columns); the API shows them as `JobParameters`,
 * stored images carry them as metadata, and the worker reads them back as a draft to validate
 * again.
 */
import { errors } from '../errors.js';
import { DEFAULT_DECODING } from './decoding.js';
import { precisionOfOutputs, type GptPrecision } from './gpt-precision.js';
import { pickSamplingParams, SAMPLING_KNOB_NAMES } from './sampling-params.js';
import type { JobDraft, JobRequest, JobRequestKind, StoredJobParams } from './job-request.js';

/** The queue's name of each kind. */
export const QUEUE_KIND = {
  generate: 'GENERATE',
  inpaint: 'INPAINT',
  style: 'STYLE_TRANSFER',
} as const satisfies Record<JobRequestKind, string>;
export type QueueKind = (typeof QUEUE_KIND)[JobRequestKind];

const KIND_OF_QUEUE = Object.fromEntries(
  Object.entries(QUEUE_KIND).map(([kind, queued]) => [queued, kind]),
) as Record<QueueKind, JobRequestKind>;

/** What queues store of a request: everything but `kind` and `model` (their own columns). */
export function toStoredParams(request: JobRequest): StoredJobParams {
  const { kind: _kind, model: _model, ...params } = request;
  return params;
}

/**
 * A stored job read back as a draft, for the worker's validation before it runs it (the model may
 * have changed since the job was queued).
 * @throws AppError GENERATION_FAILED when the record lacks an input key of its kind
 */
export function draftOfStored(job: {
  id: string;
  kind: QueueKind;
  model: string | null;
  params: StoredJobParams;
}): JobDraft {
  const { params } = job;
  const base = { ...params, ...(job.model === null ? {} : { model: job.model }) };
  const key = (value: string | undefined): string => {
    if (!value) throw errors.generationFailed(`job ${job.id} lacks an input key`);
    return value;
  };
  switch (KIND_OF_QUEUE[job.kind]) {
    case 'generate':
      return { ...base, kind: 'generate' };
    case 'inpaint':
      return {
        ...base,
        kind: 'inpaint',
        imageKey: key(params.imageKey),
        maskKey: key(params.maskKey),
      };
    case 'style':
      return {
        ...base,
        kind: 'style',
        contentKey: key(params.contentKey),
        styleKey: key(params.styleKey),
      };
  }
}

/**
 * The API's `JobParameters` of stored parameters, plus the GPT precision the job ran with: the
 * worker's, recorded on its outputs at completion (`precisionOfOutputs`: `fp32` before then, and
 * for records older than precisions). Records older than decodings decode `ar`.
 */
export function toJobParameters(
  params: StoredJobParams,
  outputs: readonly { precision?: GptPrecision }[],
) {
  return {
    precision: precisionOfOutputs(outputs),
    classId: params.classId,
    count: params.count,
    seed: params.seed,
    ...pickSamplingParams(params),
    decoding: params.decoding ?? DEFAULT_DECODING,
    mode: params.mode,
    strength: params.strength,
  };
}

/**
 * The request's part of a stored image's metadata: one short value per field (S3 servers cap each
 * metadata value; Swift: 256 bytes), knob names in kebab case (`cfg-scale`, `top-k`).
 */
export function toObjectMetadata(params: StoredJobParams): Record<string, string> {
  return {
    'class-id': params.classId === undefined ? 'none' : String(params.classId),
    ...Object.fromEntries(
      SAMPLING_KNOB_NAMES.map((knob) => [kebabCase(knob), String(params[knob])]),
    ),
    decoding: params.decoding ?? DEFAULT_DECODING,
  };
}

function kebabCase(name: string): string {
  return name.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`);
}
