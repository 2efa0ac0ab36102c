/**
 * A job's request, defined once: the three kinds a client can ask for and the one validation
 * that every entry point runs (the API's JobService, the CLI, and the worker again before it
 * runs a job). Every other shape is derived from it: stored-job.ts has the parameters queues
 * store, the API's `JobParameters` and the metadata of stored images, and
 * src/inference/engine-request.ts the engine's request. Like every module of src/jobs it imports
 * leaves only (errors.ts), so every layer may import it.
 *
 * The request is flat on purpose: its stored parameters are the request without `kind` and
 * `model`, which is the very JSON that SQLite rows and Redis hashes have always held.
 */
import { randomInt } from 'node:crypto';
import { errors, quote, requireIntegerInRange } from '../errors.js';
import { checkDecoding, DEFAULT_DECODING, type Decoding } from './decoding.js';
import {
  validateSamplingParams,
  withSamplingDefaults,
  type SamplingParams,
} from './sampling-params.js';

/** Seeds travel as GraphQL Int (32-bit signed), and image i of a job uses seed + i. */
export const MAX_SEED = 2 ** 31 - 1;
/** REGENERATE's share of content patch tokens resampled when a request gives none. */
export const DEFAULT_STRENGTH = 0.5;

/** `swap`: the style's holistic tokens with the content's patch tokens; `regenerate`: resample. */
export type StyleMode = 'swap' | 'regenerate';
/** What an input image is for: in-painting reads image and mask, style transfer content and style. */
export type InputRole = 'image' | 'mask' | 'content' | 'style';
/**
 * The job's own copies of its input images (the bytes validated at enqueue), by role; the worker
 * reads these, while `imageKey` … `styleKey` stay the keys the client gave. Absent in jobs
 * enqueued before copies were made: those read the given keys.
 */
export type InputCopies = Partial<Record<InputRole, string>>;

/** What every kind asks for, after validation. */
export interface RequestCommon extends SamplingParams {
  /** Images to make, 1 … the caller's `maxCount`; image i uses seed + i. */
  count: number;
  /** Seed of image 0; seed + count − 1 ≤ {@link MAX_SEED}. */
  seed: number;
  /** A class of the model; absent (in-painting, style): the null class, unconditional. */
  classId?: number;
  /** How the GPT's tokens are decoded: `ar` unless the request asks for `speculative`. */
  decoding: Decoding;
  /**
   * Live previews of the partial images on the job's subscription; stored only when true, and
   * never an input of the images themselves (same seed, same bytes).
   */
  preview?: true;
}

export interface InpaintFields {
  /** The image and its mask (white = regenerate, same size): object keys, or CLI file paths. */
  imageKey: string;
  maskKey: string;
  /** Keep the image's holistic tokens (true) or sample new ones. */
  keepHolistic: boolean;
  /** Paste the original pixels back outside the mask. */
  composite: boolean;
  inputCopies?: InputCopies;
}

export interface StyleFields {
  contentKey: string;
  styleKey: string;
  mode: StyleMode;
  /** regenerate: share of content patch tokens resampled, 0 … 1. */
  strength: number;
  inputCopies?: InputCopies;
}

interface Envelope<K extends string> {
  kind: K;
  /** The model id asked for; null: the server's default model when the job runs. */
  model: string | null;
}

export interface GenerateJobRequest extends Envelope<'generate'>, RequestCommon {
  classId: number;
}
export interface InpaintJobRequest extends Envelope<'inpaint'>, RequestCommon, InpaintFields {}
export interface StyleJobRequest extends Envelope<'style'>, RequestCommon, StyleFields {}

/** A validated request: defaults applied, class resolved, every rule checked against its model. */
export type JobRequest = GenerateJobRequest | InpaintJobRequest | StyleJobRequest;
export type JobRequestKind = JobRequest['kind'];

/**
 * What a job asks for as queues store it (JSON): the request without `kind` and `model`, every
 * kind's fields flat. Seeds are resolved before enqueueing, so a retry or a re-run after a crash
 * makes the same images. Fields of the job's kind may be absent in records of older builds.
 */
export type StoredJobParams = Omit<RequestCommon, 'decoding'> &
  Partial<Pick<RequestCommon, 'decoding'> & InpaintFields & StyleFields>;

interface DraftCommon extends Partial<SamplingParams> {
  /** A model id; the server's default when absent. */
  model?: string | undefined;
  count?: number | undefined;
  /** Drawn at random when absent. */
  seed?: number | undefined;
  /** Give at most one of classId and className (case-insensitive). */
  classId?: number | undefined;
  className?: string | undefined;
  /** `ar` when absent (and in jobs stored before decodings existed). */
  decoding?: Decoding | undefined;
  /** @default false */
  preview?: boolean | undefined;
}

type Given<T, K extends keyof T> = Pick<T, K> & Partial<Omit<T, K>>;

export type GenerateDraft = DraftCommon & { kind: 'generate' };
export type InpaintDraft = DraftCommon & { kind: 'inpaint' } & Given<
    InpaintFields,
    'imageKey' | 'maskKey'
  >;
export type StyleDraft = DraftCommon & { kind: 'style' } & Given<
    StyleFields,
    'contentKey' | 'styleKey'
  >;
/** A request as a caller gives it: anything optional may be left out. */
export type JobDraft = GenerateDraft | InpaintDraft | StyleDraft;

/**
 * What a request is validated against: a loaded model (the registry's ModelInfo has these
 * fields), seen from the domain, which imports no layer.
 */
export interface RequestModel {
  id: string;
  /** Class ids 0 … C−1 with their names. */
  classes: readonly { id: number; name: string }[];
  capabilities: { inpaint: boolean; style: boolean };
  manifest: { sampling: SamplingParams; gpt: { vocabSize: number } };
}

export interface JobRequestLimits {
  /** Most images one job may ask for: the API's limit (HITA_MAX_COUNT), else the engine's. */
  maxCount: number;
  /** Draws the seed of a request that gives none, in 0 … max. @default node:crypto randomInt */
  drawSeed?: (max: number) => number;
}

/**
 * The one validation of a job request, against the model it runs on. Applies the defaults (the
 * model's sampling defaults, keepHolistic and composite true, mode swap, strength 0.5), resolves
 * className, and checks in this order: capability, class, strength, count, seed, sampling,
 * decoding, and that SWAP makes one image. Input images are checked by their callers (they need the bytes):
 * {@link checkMaskSize} is the rule they share.
 * @throws AppError BAD_USER_INPUT naming the field
 */
export function validateJobRequest<const D extends JobDraft>(
  draft: D,
  model: RequestModel,
  limits: JobRequestLimits,
): Extract<JobRequest, { kind: D['kind'] }> {
  return validate(draft, model, limits) as Extract<JobRequest, { kind: D['kind'] }>;
}

function validate(draft: JobDraft, model: RequestModel, limits: JobRequestLimits): JobRequest {
  const { maxCount, drawSeed = (max: number) => randomInt(0, max + 1) } = limits;
  if (draft.kind !== 'generate') requireCapability(model, draft.kind);
  const classId = resolveClassId(model, draft.classId, draft.className);
  if (draft.kind === 'generate' && classId === undefined) {
    throw errors.badInput('classId', 'give classId or className');
  }
  // Before count, as the API always checked it; only a style request uses it.
  const strength = checkStrength(
    (draft.kind === 'style' ? draft.strength : undefined) ?? DEFAULT_STRENGTH,
  );
  const count = checkCount(draft.count, maxCount);
  const seed = checkSeed(draft.seed, count, drawSeed);
  const { manifest } = model;
  const sampling = validateSamplingParams(
    withSamplingDefaults(draft, manifest.sampling),
    manifest.gpt.vocabSize,
  );
  const decoding = checkDecoding(draft.decoding ?? DEFAULT_DECODING);
  // Key order is the stored JSON's: count, seed, the knobs, decoding, classId, the kind's fields.
  const head = { model: draft.model ?? null, count, seed, ...sampling, decoding };
  const copies =
    draft.kind !== 'generate' && draft.inputCopies ? { inputCopies: draft.inputCopies } : {};
  // Last, and only when asked: jobs without previews store the JSON they always did.
  const preview = draft.preview === true ? { preview: true as const } : {};
  switch (draft.kind) {
    case 'generate':
      return { kind: 'generate', ...head, classId: classId!, ...preview };
    case 'inpaint':
      return {
        kind: 'inpaint',
        ...head,
        ...(classId === undefined ? {} : { classId }),
        imageKey: draft.imageKey,
        maskKey: draft.maskKey,
        keepHolistic: draft.keepHolistic ?? true,
        composite: draft.composite ?? true,
        ...copies,
        ...preview,
      };
    case 'style': {
      const mode = draft.mode ?? 'swap';
      checkSwapCount(mode, count);
      return {
        kind: 'style',
        ...head,
        ...(classId === undefined ? {} : { classId }),
        contentKey: draft.contentKey,
        styleKey: draft.styleKey,
        mode,
        strength,
        ...copies,
        ...preview,
      };
    }
  }
}

/**
 * A class given as an id or a name, checked against the model; `undefined` when neither is given.
 * @throws AppError BAD_USER_INPUT on `classId` or `className`
 */
export function resolveClassId(
  model: Pick<RequestModel, 'id' | 'classes'>,
  classId: number | undefined,
  className: string | undefined,
): number | undefined {
  if (classId !== undefined && className !== undefined) {
    throw errors.badInput('classId', 'give classId or className, not both');
  }
  if (className !== undefined) {
    const wanted = className.trim().toLowerCase();
    const match = model.classes.find((c) => c.name.toLowerCase() === wanted);
    if (!match) {
      throw errors.badInput('className', `${quote(className)} is not a class of ${model.id}`, {
        known: model.classes.map((c) => c.name),
      });
    }
    return match.id;
  }
  if (classId === undefined) return undefined;
  return requireIntegerInRange('classId', classId, 0, model.classes.length - 1);
}

/**
 * In-painting and style transfer need the model's image encoder.
 * @throws AppError BAD_USER_INPUT on `model` when the model has none
 */
export function requireCapability(
  model: { id: string; capabilities: { inpaint: boolean; style: boolean } },
  kind: 'inpaint' | 'style',
): void {
  if (!model.capabilities[kind]) {
    const verb = kind === 'inpaint' ? 'in-paint' : 'transfer style';
    throw errors.badInput('model', `${model.id} has no image encoder, so it cannot ${verb}`);
  }
}

/** @throws AppError BAD_USER_INPUT on `count` outside 1 … maxCount; absent means 1 */
export function checkCount(count: number | undefined, maxCount: number): number {
  return requireIntegerInRange('count', count ?? 1, 1, maxCount);
}

/**
 * The seed of image 0: image i of a job uses seed + i, and every one of them must stay a GraphQL
 * Int, so the given seed may be at most 2^31 − count. Without one, `random(max)` draws it in
 * 0 … max (inclusive).
 * @throws AppError BAD_USER_INPUT on `seed`
 */
export function checkSeed(
  seed: number | undefined,
  count: number,
  random: (max: number) => number,
): number {
  const max = MAX_SEED - (count - 1);
  if (seed === undefined) return random(max);
  return requireIntegerInRange('seed', seed, 0, max);
}

/** @throws AppError BAD_USER_INPUT on `strength` outside [0, 1] */
export function checkStrength(strength: number): number {
  if (!Number.isFinite(strength) || strength < 0 || strength > 1) {
    throw errors.badInput('strength', `must be in [0, 1], got ${strength}`);
  }
  return strength;
}

/** @throws AppError BAD_USER_INPUT on `count` when SWAP (deterministic) would make several images */
export function checkSwapCount(mode: StyleMode, count: number): void {
  if (mode === 'swap' && count !== 1) {
    throw errors.badInput('count', 'SWAP is deterministic: it makes one image');
  }
}

/** Pixel size of an input image. */
export interface ImageSize {
  width: number;
  height: number;
}

/**
 * A mask must have its image's size (the API checks uploads, the CLI and the worker the bytes
 * they read, the engine asserts it).
 * @param field the input that named the mask (`maskKey` in the API, `mask` elsewhere)
 * @throws AppError BAD_USER_INPUT on `field`
 */
export function checkMaskSize(image: ImageSize, mask: ImageSize, field: string): void {
  if (image.width !== mask.width || image.height !== mask.height) {
    throw errors.badInput(
      field,
      `is ${mask.width}×${mask.height}, the image is ${image.width}×${image.height}; they must match`,
    );
  }
}
