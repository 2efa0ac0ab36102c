import type { GeneratedImage, InferenceProgress, InferenceRequest } from './hita-pipeline.js';
import type { EngineStats } from './worker-protocol.js';

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
