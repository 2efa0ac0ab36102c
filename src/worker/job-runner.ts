import { errors, isAppError } from '../errors.js';
import type { InferenceRequest } from '../inference/hita-pipeline.js';
import { webpThumbnail } from '../inference/image-codec.js';
import type { InferenceEngine } from '../inference/inference-engine.js';
import type {
  ClaimedJob,
  InputRole,
  JobConsumer,
  JobOutput,
  JobProgress,
  JobRecord,
} from '../queue/job-queue.js';
import { outputKeys } from '../services/object-keys.js';
import type { ObjectStore } from '../storage/object-store.js';

interface Logger {
  info(obj: Record<string, unknown>, message: string): void;
  warn(obj: Record<string, unknown>, message: string): void;
  error(obj: Record<string, unknown>, message: string): void;
}

export interface JobRunnerOptions {
  workerId: string;
  queue: JobConsumer;
  engine: InferenceEngine;
  store: ObjectStore;
  logger: Logger;
  /** Jobs held at once; several feed one continuous batch. @default 8 */
  maxConcurrentJobs?: number;
  /** @default 30000 */
  leaseMs?: number;
  /** Progress events per job at most every this often (phase changes and last steps always pass). @default 100 */
  progressIntervalMs?: number;
  /** Called with each job's images when it completes, and with token-step timings. */
  onImages?: (count: number) => void;
  onStepSeconds?: (seconds: number) => void;
}

/**
 * One worker: claim → infer → store → complete, for up to `maxConcurrentJobs` jobs at a time,
 * heartbeating every lease and turning a cancellation seen at heartbeat into freed batch rows.
 */
export class JobRunner {
  private readonly options: Required<Omit<JobRunnerOptions, 'onImages' | 'onStepSeconds'>> &
    Pick<JobRunnerOptions, 'onImages' | 'onStepSeconds'>;
  private readonly active = new Map<string, Promise<void>>();
  private running = false;
  private loop: Promise<void> | null = null;
  private slotFreed: (() => void) | null = null;

  constructor(options: JobRunnerOptions) {
    this.options = { maxConcurrentJobs: 8, leaseMs: 30_000, progressIntervalMs: 100, ...options };
  }

  get activeJobs(): number {
    return this.active.size;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.claimLoop();
  }

  /**
   * Stops claiming, lets running jobs finish for `drainMs`, then hands the rest back to the
   * queue as retryable failures so another worker picks them up.
   */
  async stop(drainMs = 10_000): Promise<void> {
    this.running = false;
    this.slotFreed?.();
    await this.loop;
    const drained = Promise.allSettled([...this.active.values()]);
    const timer = new Promise((resolve) => setTimeout(resolve, drainMs).unref());
    await Promise.race([drained, timer]);
    for (const jobId of this.active.keys()) this.options.engine.cancel(jobId);
    await drained;
  }

  private async claimLoop(): Promise<void> {
    const { queue, workerId, leaseMs, maxConcurrentJobs, logger } = this.options;
    while (this.running) {
      if (this.active.size >= maxConcurrentJobs) {
        await new Promise<void>((resolve) => (this.slotFreed = resolve));
        continue;
      }
      try {
        const claim = await queue.claim(workerId, leaseMs);
        if (!claim) {
          await queue.waitForWork(1000);
          continue;
        }
        const work = this.handle(claim).finally(() => {
          this.active.delete(claim.job.id);
          this.slotFreed?.();
        });
        this.active.set(claim.job.id, work);
      } catch (error) {
        logger.error({ err: error }, 'claiming failed; retrying in 1 s');
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    }
  }

  private async handle(claim: ClaimedJob): Promise<void> {
    const { queue, engine, logger, leaseMs } = this.options;
    const { job } = claim;
    let fate: 'running' | 'cancel' | 'lost' | 'shutdown' = 'running';
    const beat = setInterval(
      () => {
        void queue.heartbeat(claim, leaseMs).then(
          (state) => {
            if (!state.owned) fate = 'lost';
            else if (state.cancelRequested) fate = 'cancel';
            if (fate !== 'running') engine.cancel(job.id);
          },
          (error: unknown) => logger.warn({ err: error, jobId: job.id }, 'heartbeat failed'),
        );
      },
      // Heartbeats also carry cancellations: at least every second, so a cancelled job frees its
      // batch rows promptly rather than at the next third of a lease.
      Math.max(200, Math.min(1000, Math.floor(leaseMs / 3))),
    );
    try {
      const request = await this.request(job);
      const result = await engine.run({
        id: job.id,
        ...(job.model ? { model: job.model } : {}),
        request,
        onProgress: this.throttledProgress(claim),
      });
      const outputs = await this.store(job, result.images);
      await queue.complete(claim, outputs);
      this.options.onImages?.(outputs.length);
    } catch (error) {
      if (!this.running && fate === 'running') fate = 'shutdown';
      await this.settle(claim, fate, error);
    } finally {
      clearInterval(beat);
    }
  }

  private async settle(claim: ClaimedJob, fate: string, error: unknown): Promise<void> {
    const { queue, logger } = this.options;
    try {
      if (fate === 'lost') return; // another worker owns it now; publishing anything would double it
      if (fate === 'cancel') {
        await queue.cancelled(claim);
        return;
      }
      if (fate === 'shutdown') {
        await queue.fail(claim, {
          code: 'WORKER_SHUTDOWN',
          message: 'the worker stopped; the job runs again',
          retryable: true,
        });
        return;
      }
      const failure = isAppError(error)
        ? { code: error.code, message: error.message, retryable: error.retryable }
        : { code: 'GENERATION_FAILED', message: String(error), retryable: true };
      if (!isAppError(error))
        logger.error({ err: error, jobId: claim.job.id }, 'job failed unexpectedly');
      await queue.fail(claim, failure);
    } catch (settleError) {
      logger.warn({ err: settleError, jobId: claim.job.id }, 'could not record the end of a job');
    }
  }

  private throttledProgress(claim: ClaimedJob): (progress: JobProgress) => void {
    const { queue, progressIntervalMs, onStepSeconds } = this.options;
    let lastAt = 0;
    let lastPhase = '';
    let lastStepAt = Date.now();
    let lastStep = 0;
    return (progress) => {
      const now = Date.now();
      if (progress.phase === lastPhase && progress.step > lastStep && onStepSeconds) {
        onStepSeconds((now - lastStepAt) / 1000 / (progress.step - lastStep));
      }
      lastStepAt = now;
      lastStep = progress.step;
      const isLast = progress.step >= progress.total;
      if (progress.phase === lastPhase && !isLast && now - lastAt < progressIntervalMs) return;
      lastAt = now;
      lastPhase = progress.phase;
      void queue.progress(claim, progress).catch(() => undefined);
    };
  }

  private async request(job: JobRecord): Promise<InferenceRequest> {
    const { params } = job;
    const sampling = {
      cfgScale: params.cfgScale,
      temperature: params.temperature,
      topK: params.topK,
      topP: params.topP,
    };
    const common = { count: params.count, seed: params.seed, sampling };
    // The job's own copy when it has one: the key the client gave may have been overwritten.
    const read = (role: InputRole, key: string | undefined) => {
      const source = params.inputCopies?.[role] ?? key;
      if (!source) throw errors.generationFailed(`job ${job.id} lacks an input key`);
      return this.options.store.get(source);
    };
    const classId = params.classId === undefined ? {} : { classId: params.classId };
    switch (job.kind) {
      case 'GENERATE':
        return { kind: 'generate', classId: params.classId ?? 0, ...common };
      case 'INPAINT':
        return {
          kind: 'inpaint',
          image: await read('image', params.imageKey),
          mask: await read('mask', params.maskKey),
          keepHolistic: params.keepHolistic ?? true,
          composite: params.composite ?? true,
          ...classId,
          ...common,
        };
      case 'STYLE_TRANSFER':
        return {
          kind: 'style',
          content: await read('content', params.contentKey),
          style: await read('style', params.styleKey),
          mode: params.mode ?? 'swap',
          strength: params.strength ?? 0.5,
          ...classId,
          ...common,
        };
    }
  }

  /** PNG plus WebP thumbnail per image, under job-scoped keys (a re-run rewrites the same keys). */
  private async store(
    job: JobRecord,
    images: { seed: number; png: Buffer; width: number; height: number }[],
  ): Promise<JobOutput[]> {
    const { store } = this.options;
    return Promise.all(
      images.map(async (image, index) => {
        const keys = outputKeys(job.tenant, job.id, index, image.seed);
        // One short value per field: S3 servers cap each metadata value (Swift: 256 bytes).
        const { params } = job;
        const metadata: Record<string, string> = {
          'job-id': job.id,
          kind: job.kind,
          model: job.model ?? 'default',
          seed: String(image.seed),
          'class-id': params.classId === undefined ? 'none' : String(params.classId),
          'cfg-scale': String(params.cfgScale),
          temperature: String(params.temperature),
          'top-k': String(params.topK),
          'top-p': String(params.topP),
        };
        // The two writes are independent (each is atomic on its own), so neither waits for the other.
        await Promise.all([
          store.put(keys.png, image.png, { contentType: 'image/png', metadata }),
          webpThumbnail(image.png).then((webp) =>
            store.put(keys.webp, webp, { contentType: 'image/webp', metadata }),
          ),
        ]);
        return {
          key: keys.png,
          thumbnailKey: keys.webp,
          width: image.width,
          height: image.height,
          seed: image.seed,
          format: 'png' as const,
        };
      }),
    );
  }
}
