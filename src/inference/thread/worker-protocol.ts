import type { ErrorCode } from '../../errors.js';
import type { GptPrecision } from '../model/model-manifest.js';
import type { ExecutionProvider } from '../ort/execution-providers.js';
import type {
  EngineStats,
  GeneratedImage,
  InferenceProgress,
  InferenceRequest,
  PreviewFrame,
} from '../inference-engine.js';

/** What the engine thread needs to open models on its device. */
export interface EngineThreadConfig {
  modelsDir: string;
  defaultModel: string;
  providers: ExecutionProvider[];
  /**
   * The GPT precision of every model this thread opens (HITA_PRECISION); a model without it
   * runs fp32. @default 'fp32'
   */
  precision?: GptPrecision;
  /** Device ordinal for GPU providers. @default 0 */
  deviceId?: number;
  /** @default 32 */
  maxBatchRows?: number;
  /** ORT intra-op threads. @default ORT's choice (all cores) */
  threads?: number;
}

export type ToEngine =
  | {
      type: 'run';
      jobId: string;
      model: string | undefined;
      request: InferenceRequest;
      /** Take live previews (InferenceJob.onPreview). */
      preview: boolean;
    }
  | { type: 'cancel'; jobId: string }
  | { type: 'stats'; requestId: number }
  | { type: 'close' };

export interface SerializedError {
  code: ErrorCode;
  message: string;
  retryable: boolean;
  details?: Record<string, unknown>;
}

export type FromEngine =
  | { type: 'ready' }
  | { type: 'progress'; jobId: string; progress: InferenceProgress }
  | { type: 'preview'; jobId: string; frames: PreviewFrame[] }
  | {
      type: 'done';
      jobId: string;
      model: string;
      precision: GptPrecision;
      images: GeneratedImage[];
    }
  | { type: 'failed'; jobId: string; error: SerializedError }
  | { type: 'stats'; requestId: number; stats: EngineStats }
  | {
      type: 'log';
      level: 'info' | 'warn' | 'error';
      message: string;
      data?: Record<string, unknown>;
    };
