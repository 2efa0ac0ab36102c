/**
 * The inference seam: what a worker asks an engine for and what it gets back. The types live here,
 * not in the concrete pipeline, so callers depend on the seam alone.
 */
import type { SamplingParams } from './sampling/sampling-params.js';

export interface CommonRequest {
  /** Images to make; image i uses seed + i. @default 1 */
  count: number;
  seed: number;
  sampling: SamplingParams;
}

/** Images one request may ask for; the API sets its own, lower limit. */
export const MAX_IMAGES_PER_REQUEST = 64;
/** Philox keys take seeds below 2^53; 2^48 keeps them exact in every JSON reader. */
export const MAX_ENGINE_SEED = 2 ** 48;

export interface GenerateRequest extends CommonRequest {
  kind: 'generate';
  classId: number;
}

export interface InpaintRequest extends CommonRequest {
  kind: 'inpaint';
  /** Encoded image bytes (PNG, JPEG, WebP, …) and its mask (white = regenerate), same size. */
  image: Uint8Array;
  mask: Uint8Array;
  /** @default the null class (unconditional) */
  classId?: number;
  /** Keep the image's holistic tokens (true) or sample new ones. @default true */
  keepHolistic?: boolean;
  /** Paste the original pixels back outside the mask. @default true */
  composite?: boolean;
}

export interface StyleRequest extends CommonRequest {
  kind: 'style';
  content: Uint8Array;
  style: Uint8Array;
  /** `swap`: decode (style holistic, content patches); `regenerate`: sample patches after them. */
  mode: 'swap' | 'regenerate';
  /** regenerate: share of content patch tokens resampled, 0 … 1. @default 0.5 */
  strength?: number;
  classId?: number;
}

export type InferenceRequest = GenerateRequest | InpaintRequest | StyleRequest;

export type Phase = 'encode' | 'holistic' | 'patch' | 'decode';

export interface InferenceProgress {
  phase: Phase;
  step: number;
  total: number;
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
}

export interface InferenceResult {
  model: string;
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
  /** @throws AppError (BAD_USER_INPUT, MODEL_UNAVAILABLE, CANCELLED, GENERATION_FAILED) */
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
