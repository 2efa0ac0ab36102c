import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { errors, type AppError } from '../../errors.js';
import type { InferenceProgress, PreviewFrame } from '../inference-engine.js';
import type {
  EngineStats,
  InferenceEngine,
  InferenceJob,
  InferenceResult,
} from '../inference-engine.js';
import type { EngineThreadConfig, FromEngine, ToEngine } from './worker-protocol.js';

export interface WorkerEngineOptions extends EngineThreadConfig {
  /** Receives the thread's log lines (provider fallbacks, model loads). */
  onLog?: (
    level: 'info' | 'warn' | 'error',
    message: string,
    data?: Record<string, unknown>,
  ) => void;
  /** The compiled thread script. @default engine-thread.js beside this module, or in dist/ when run from sources */
  threadScript?: string;
}

/**
 * The thread script. Worker threads run plain JavaScript, so when this module runs from its
 * TypeScript sources (under vitest) the compiled twin in dist/ is used; `npm test` builds first.
 */
function defaultThreadScript(): string {
  const here = fileURLToPath(new URL('./engine-thread.js', import.meta.url));
  if (existsSync(here)) return here;
  const built = here.replace(/([\\/])src([\\/]inference[\\/])/, '$1dist$2');
  if (existsSync(built)) return built;
  throw new Error(
    `cannot find the compiled engine thread at ${here} or ${built}; run npm run build`,
  );
}

const IDLE_STATS = { provider: null, activeRows: 0, queuedSequences: 0, steps: 0 } as const;

interface Pending {
  resolve: (result: InferenceResult) => void;
  reject: (error: unknown) => void;
  onProgress?: (progress: InferenceProgress) => void;
  onPreview?: (frames: PreviewFrame[]) => void;
}

/** An `InferenceEngine` running the Hita pipeline of one device in a worker thread. */
export class WorkerEngine implements InferenceEngine {
  private readonly worker: Worker;
  private readonly jobs = new Map<string, Pending>();
  private readonly statsWaiters = new Map<number, (stats: EngineStats) => void>();
  private nextRequest = 0;
  private closed: Promise<void> | null = null;
  private exitError: AppError | null = null;
  private hasExited = false;

  constructor(options: WorkerEngineOptions) {
    const { onLog, threadScript, ...config } = options;
    this.worker = new Worker(threadScript ?? defaultThreadScript(), { workerData: config });
    this.worker.on('message', (message: FromEngine) => this.receive(message, onLog));
    this.worker.on('error', (error) =>
      this.failAll(
        errors.generationFailed(`inference thread crashed: ${error.message}`, error, true),
      ),
    );
    this.worker.on('exit', (code) => {
      this.hasExited = true;
      this.exitError ??= errors.generationFailed(
        `inference thread exited (code ${code})`,
        undefined,
        true,
      );
      this.failAll(this.exitError);
      for (const waiter of this.statsWaiters.values()) waiter({ ...IDLE_STATS, rssBytes: 0 });
      this.statsWaiters.clear();
    });
  }

  run(job: InferenceJob): Promise<InferenceResult> {
    if (this.closed || this.exitError)
      return Promise.reject(
        this.exitError ?? errors.generationFailed('engine closed', undefined, true),
      );
    if (this.jobs.has(job.id))
      return Promise.reject(errors.conflict(`job ${job.id} is already running`));
    return new Promise<InferenceResult>((resolve, reject) => {
      this.jobs.set(job.id, {
        resolve,
        reject,
        ...(job.onProgress ? { onProgress: job.onProgress } : {}),
        ...(job.onPreview ? { onPreview: job.onPreview } : {}),
      });
      const { id: jobId, model, request } = job;
      this.post({ type: 'run', jobId, model, request, preview: job.onPreview !== undefined });
    });
  }

  cancel(jobId: string): void {
    if (this.jobs.has(jobId)) this.post({ type: 'cancel', jobId });
  }

  stats(): Promise<EngineStats> {
    const requestId = this.nextRequest++;
    // A thread that is gone answers nothing: report it idle rather than leave callers waiting.
    if (this.hasExited) return Promise.resolve({ ...IDLE_STATS, rssBytes: 0 });
    return new Promise((resolve) => {
      this.statsWaiters.set(requestId, resolve);
      this.post({ type: 'stats', requestId });
    });
  }

  /**
   * Asks the thread to finish: it cancels its jobs (their `run` rejects with CANCELLED, or
   * resolves when already decoding), lets the ORT call in progress return, releases its sessions
   * and exits. Never `terminate()`: a thread stopped inside `session.run` aborts the process.
   */
  close(): Promise<void> {
    this.closed ??= new Promise<void>((resolve) => {
      if (this.hasExited) {
        resolve();
        return;
      }
      this.worker.once('exit', () => resolve());
      this.post({ type: 'close' });
    });
    return this.closed;
  }

  private post(message: ToEngine): void {
    this.worker.postMessage(message);
  }

  private receive(message: FromEngine, onLog: WorkerEngineOptions['onLog']): void {
    switch (message.type) {
      case 'progress':
        this.jobs.get(message.jobId)?.onProgress?.(message.progress);
        break;
      case 'preview':
        this.jobs.get(message.jobId)?.onPreview?.(message.frames);
        break;
      case 'done': {
        const pending = this.jobs.get(message.jobId);
        this.jobs.delete(message.jobId);
        // Buffers arrive as plain Uint8Arrays after structured cloning.
        const images = message.images.map((image) => ({ ...image, png: Buffer.from(image.png) }));
        pending?.resolve({ model: message.model, precision: message.precision, images });
        break;
      }
      case 'failed': {
        const pending = this.jobs.get(message.jobId);
        this.jobs.delete(message.jobId);
        pending?.reject(errors.revive(message.error));
        break;
      }
      case 'stats':
        this.statsWaiters.get(message.requestId)?.(message.stats);
        this.statsWaiters.delete(message.requestId);
        break;
      case 'log':
        onLog?.(message.level, message.message, message.data);
        break;
      case 'ready':
        break;
    }
  }

  private failAll(error: AppError): void {
    for (const pending of this.jobs.values()) pending.reject(error);
    this.jobs.clear();
  }
}
