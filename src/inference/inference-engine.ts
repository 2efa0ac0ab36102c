/**
 * The inference seam: what a worker asks an engine for and what it gets back. The types live here,
 * not in the concrete pipeline, so callers depend on the seam alone.
 */
import type {
  GenerateJobRequest,
  InpaintJobRequest,
  RequestCommon,
  StyleJobRequest,
} from '../jobs/job-request.js';
import type { Decoding } from '../jobs/decoding.js';
import type { SamplingParams } from '../jobs/sampling-params.js';
import type { GptPrecision } from './model/model-manifest.js';

/**
 * The engine's requests are a validated JobRequest's fields (engine-request.ts derives
 * them), with the sampling knobs grouped and input images as bytes. The engine re-checks each
 * rule as an assertion: a break is a bug upstream (INTERNAL_SERVER_ERROR), not bad input.
 */
export interface CommonRequest extends Pick<RequestCommon, 'count' | 'seed'> {
  sampling: SamplingParams;
  /** How the GPT's tokens are decoded. @default 'ar' */
  decoding?: Decoding;
}

/** Images one request may ask for; the API sets its own, lower limit. */
export const MAX_IMAGES_PER_REQUEST = 64;
/** Philox keys take seeds below 2^53; 2^48 keeps them exact in every JSON reader. */
export const MAX_ENGINE_SEED = 2 ** 48;

export interface GenerateRequest
  extends CommonRequest, Pick<GenerateJobRequest, 'kind' | 'classId'> {}

/** Image and mask: encoded bytes (PNG, JPEG, WebP, …), the mask white = regenerate, same size. */
export interface InpaintRequest
  extends
    CommonRequest,
    Pick<InpaintJobRequest, 'kind' | 'classId'>,
    Partial<Pick<InpaintJobRequest, 'keepHolistic' | 'composite'>> {
  image: Uint8Array;
  mask: Uint8Array;
}

/** Content and style: encoded bytes; `strength` @default 0.5 (DEFAULT_STRENGTH). */
export interface StyleRequest
  extends
    CommonRequest,
    Pick<StyleJobRequest, 'kind' | 'classId' | 'mode'>,
    Partial<Pick<StyleJobRequest, 'strength'>> {
  content: Uint8Array;
  style: Uint8Array;
}

export type InferenceRequest = GenerateRequest | InpaintRequest | StyleRequest;

export type Phase = 'encode' | 'holistic' | 'patch' | 'decode';

export interface InferenceProgress {
  phase: Phase;
  step: number;
  total: number;
}

/**
 * A live preview of one image of a job (`InferenceJob.onPreview`): never stored, and never a
 * change to the final image.
 */
export interface PreviewFrame {
  /** Which image of the job, 0 … count − 1. */
  index: number;
  /** Tokens known when it was taken, M … M + N (M + N: the final image). */
  step: number;
  width: number;
  height: number;
  /** WebP bytes, at most 64 px a side and PREVIEW_MAX_BYTES. */
  webp: Uint8Array;
}

export interface GeneratedImage {
  seed: number;
  png: Buffer;
  width: number;
  height: number;
  holisticIds: number[];
  patchIds: number[];
}

export interface InferenceJob {
  id: string;
  /** A model id or directory; the registry's default when absent. */
  model?: string;
  request: InferenceRequest;
  onProgress?: (progress: InferenceProgress) => void;
  /**
   * Set: the engine takes live previews of the job (one frame per image each time), the last of
   * them before `run` resolves. The images are the same with or without.
   */
  onPreview?: (frames: PreviewFrame[]) => void;
}

export interface InferenceResult {
  model: string;
  /**
   * The GPT graph the images came from: the engine's precision when the model has it, else
   * `fp32`. Recorded with the job, so a result can be reproduced.
   */
  precision: GptPrecision;
  images: GeneratedImage[];
}

/** What `InferenceEngine.stats()` reports about one device's engine. */
export interface EngineStats {
  provider: string | null;
  activeRows: number;
  queuedSequences: number;
  steps: number;
  rssBytes: number;
}

/**
 * One device's inference, seen from the event loop: jobs go in, progress and images come out.
 * Implementations never block the caller's thread.
 */
export interface InferenceEngine {
  /**
   * @throws AppError BAD_USER_INPUT (input bytes that do not decode, an empty mask),
   *   MODEL_UNAVAILABLE, CANCELLED, GENERATION_FAILED; INTERNAL_SERVER_ERROR for a request that
   *   skipped validateJobRequest
   */
  run(job: InferenceJob): Promise<InferenceResult>;
  /** Frees a running job's batch rows at the next step; its `run` rejects with CANCELLED. */
  cancel(jobId: string): void;
  stats(): Promise<EngineStats>;
  /**
   * Idempotent: cancels the jobs still running (their `run` rejects with CANCELLED), lets the
   * inference call in progress return, and waits for the thread to exit.
   */
  close(): Promise<void>;
}
