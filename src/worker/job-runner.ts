import { errors, isAppError } from '../errors.js';
import type { InferenceEngine } from '../inference/inference-engine.js';
import type { ModelRegistry } from '../inference/model/model-registry.js';
import type {
  ClaimedJob,
  JobConsumer,
  JobEvent,
  JobFailure,
  JobOutput,
} from '../queue/job-queue.js';
import type { ObjectStore } from '../storage/object-store.js';
import { deleteOutputs, inferenceRequest, jobRequest, storeOutputs } from './job-io.js';
import { progressRelay } from './progress-relay.js';
import { ThroughputMeter } from './throughput-meter.js';
import type { PreviewChannel } from '../queue/preview-channel.js';
import { PreviewRelay } from './preview-relay.js';
import { WorkerPresence } from './worker-presence.js';

interface Logger {
  info(obj: Record<string, unknown>, message: string): void;
  warn(obj: Record<string, unknown>, message: string): void;
  error(obj: Record<string, unknown>, message: string): void;
}

export interface JobRunnerOptions {
  /** Unique in the cluster (it names the worker in `Job.workerId` and `queue { workers }`). */
  workerId: string;
  queue: JobConsumer;
  engine: InferenceEngine;
  store: ObjectStore;
  /**
   * The models the engine serves (same models directory and default): each job is validated
   * again against its model before it runs.
   */
  models: Pick<ModelRegistry, 'resolve'>;
  logger: Logger;
  /** Jobs held at once; several feed one continuous batch. @default 8 */
  maxConcurrentJobs?: number;
  /** @default 30000 */
  leaseMs?: number;
  /** Progress events per job at most every this often (phase changes and last steps always pass). @default 100 */
  progressIntervalMs?: number;
  /**
   * How often the runner tells the queue it is alive (`JobConsumer.announce`), idle or busy;
   * keep it well under the queue's `workerTtlMs`. @default 5000
   */
  announceIntervalMs?: number;
  /** The model id logged for jobs that name none. @default 'default' */
  defaultModel?: string;
  /** Where the live previews of jobs that ask for them go; absent: none are taken. */
  previews?: Pick<PreviewChannel, 'publish'>;
  /** Called with each job's images when it completes, and with token-step timings. */
  onImages?: (count: number) => void;
  onStepSeconds?: (seconds: number) => void;
}

/**
 * How many `cancel-requested` events of jobs this runner does not hold it remembers (job id →
 * sequence), oldest forgotten first: one may belong to a claim still on its way back from Redis.
 */
const MAX_EARLY_CANCELS = 1024;

/** What became of a claimed job besides finishing: its own outcome, or a decision made for it. */
type Fate = 'running' | 'cancel' | 'lost' | 'released';

/**
 * How a job ended for this worker, as its end log line says: `retrying` is a retryable failure
 * back in the queue, `lost` a lease another worker took over, `released` a hand-back at shutdown,
 * `unrecorded` an ending the queue could not be told about (its lease expiry re-runs the job).
 */
type Outcome =
  'succeeded' | 'failed' | 'retrying' | 'cancelled' | 'lost' | 'released' | 'unrecorded';

type Hooks = 'onImages' | 'onStepSeconds' | 'previews';

/** A job this runner holds. */
interface ActiveJob {
  claim: ClaimedJob;
  fate: Fate;
  /** Set just before `complete`: from then on the job is finishing, not handed back. */
  isCompleting: boolean;
  work: Promise<void>;
  handingBack: Promise<void> | null;
}

/**
 * One worker: claim → infer → store → complete, for up to `maxConcurrentJobs` jobs at a time,
 * heartbeating every lease. A cancel reaches it as the queue's `cancel-requested` event (at once)
 * or at a heartbeat (the fallback when an event is lost), and stops the job wherever it is:
 * reading inputs, in the engine (encoding or in the batch), or storing outputs. A job whose
 * `complete` comes back CANCELLED has its stored outputs deleted.
 */
export class JobRunner {
  private readonly options: Required<Omit<JobRunnerOptions, Hooks>> & Pick<JobRunnerOptions, Hooks>;
  private readonly active = new Map<string, ActiveJob>();
  private running = false;
  private loop: Promise<void> | null = null;
  private slotFreed: (() => void) | null = null;
  private readonly presence: WorkerPresence;
  private unsubscribe: (() => void) | null = null;
  private readonly earlyCancels = new Map<string, number>();
  private readonly meter = new ThroughputMeter();

  constructor(options: JobRunnerOptions) {
    this.options = {
      maxConcurrentJobs: 8,
      leaseMs: 30_000,
      progressIntervalMs: 100,
      announceIntervalMs: 5000,
      defaultModel: 'default',
      ...options,
    };
    const { workerId, queue, logger, announceIntervalMs } = this.options;
    const figure = () => this.meter.figure();
    this.presence = new WorkerPresence({
      workerId,
      queue,
      logger,
      intervalMs: announceIntervalMs,
      figure,
    });
  }

  get activeJobs(): number {
    return this.active.size;
  }

  get id(): string {
    return this.options.workerId;
  }

  /** Starts claiming and announcing; the announces go on through a drain until `stop` ends. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.presence.start();
    this.unsubscribe ??= this.options.queue.onEvent((event) => this.onQueueEvent(event));
    this.loop = this.claimLoop();
  }

  /**
   * Stops claiming, lets running jobs finish for `drainMs` (counted from this call), then hands
   * the rest back (`JobConsumer.release`: QUEUED at once, the attempt undone) and frees their
   * batch rows. Resolves once every job has settled and the worker retired from the queue's
   * live workers.
   */
  async stop(drainMs = 10_000): Promise<void> {
    this.stopClaiming();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise((resolve) => (timer = setTimeout(resolve, drainMs)));
    await this.loop;
    await Promise.race([this.settled(), deadline]);
    clearTimeout(timer);
    await this.handBack();
    await this.settled();
    await this.presence.retire();
    this.unsubscribe?.();
    this.unsubscribe = null;
  }

  /**
   * Stops claiming and hands every job still running back to the queue now, without waiting for
   * the engine to free its rows (a second signal). Resolves when the queue has them back.
   */
  async handBack(): Promise<void> {
    this.stopClaiming();
    await Promise.all([...this.active.values()].map((job) => this.handBackOne(job)));
  }

  private stopClaiming(): void {
    this.running = false;
    this.slotFreed?.();
  }

  private settled(): Promise<unknown> {
    return Promise.allSettled([...this.active.values()].map((job) => job.work));
  }

  private handBackOne(job: ActiveJob): Promise<void> {
    job.handingBack ??= (async () => {
      // Cancelled or lost: its own ending applies. Completing: one write from done, so let it land.
      if (job.fate !== 'running' || job.isCompleting) return;
      job.fate = 'released';
      const { queue, engine, logger } = this.options;
      const jobId = job.claim.job.id;
      engine.cancel(jobId);
      try {
        await queue.release(job.claim);
        logger.info({ jobId }, 'handed the job back to the queue');
      } catch (error) {
        // Its lease ran out meanwhile (CONFLICT), or the queue is unreachable: lease expiry
        // returns it either way, only later.
        logger.warn({ err: error, jobId }, 'could not hand the job back');
      }
    })();
    return job.handingBack;
  }

  /** A cancel asked for one of our jobs stops it now, not at the next heartbeat. */
  private onQueueEvent(event: JobEvent): void {
    if (event.type !== 'cancel-requested') return;
    const job = this.active.get(event.jobId);
    if (job) {
      this.stopJob(job, 'cancel');
      return;
    }
    this.earlyCancels.set(event.jobId, event.sequence);
    if (this.earlyCancels.size > MAX_EARLY_CANCELS) {
      this.earlyCancels.delete(this.earlyCancels.keys().next().value ?? '');
    }
  }

  /** Decides a running job's fate and frees its engine work; a decided fate stays. */
  private stopJob(job: ActiveJob, fate: 'cancel' | 'lost'): void {
    if (job.fate !== 'running') return;
    job.fate = fate;
    this.options.engine.cancel(job.claim.job.id);
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
        if (!this.running) {
          // Claimed while stopping: give it straight back instead of starting it.
          await queue.release(claim).catch((error: unknown) => {
            logger.warn({ err: error, jobId: claim.job.id }, 'could not hand the job back');
          });
          break;
        }
        logger.info(
          {
            workerId,
            jobId: claim.job.id,
            model: claim.job.model ?? this.options.defaultModel,
            images: claim.job.params.count,
            attempt: claim.job.attempts,
          },
          'job claimed',
        );
        const job: ActiveJob = {
          claim,
          fate: 'running',
          isCompleting: false,
          work: Promise.resolve(),
          handingBack: null,
        };
        job.work = this.handle(job).finally(() => {
          this.active.delete(claim.job.id);
          this.slotFreed?.();
        });
        this.active.set(claim.job.id, job);
        // A request after this claim (a higher sequence) that arrived before the job was ours.
        const early = this.earlyCancels.get(claim.job.id);
        this.earlyCancels.delete(claim.job.id);
        if (early !== undefined && early > claim.job.sequence) this.stopJob(job, 'cancel');
      } catch (error) {
        logger.error({ err: error }, 'claiming failed; retrying in 1 s');
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    }
  }

  private async handle(active: ActiveJob): Promise<void> {
    const { queue, engine, logger, leaseMs } = this.options;
    const { claim } = active;
    const { job } = claim;
    const startedAt = Date.now();
    const model = job.model ?? this.options.defaultModel;
    // Busy from the claim: the whole cycle a job costs this worker. A model's cold first run
    // (opening it included) is left out by the meter itself.
    this.meter.started(model, startedAt);
    let ending: { outcome: Outcome; images: number; code?: string } | null = null;
    const beat = setInterval(
      () => {
        void queue.heartbeat(claim, leaseMs).then(
          (state) => {
            if (!state.owned) this.stopJob(active, 'lost');
            else if (state.cancelRequested) this.stopJob(active, 'cancel');
          },
          (error: unknown) => logger.warn({ err: error, jobId: job.id }, 'heartbeat failed'),
        );
      },
      // Heartbeats also carry cancellations, for requests whose event was lost (Redis pub/sub
      // during a reconnect, another process on SQLite): at least every second.
      Math.max(200, Math.min(1000, Math.floor(leaseMs / 3))),
    );
    // Stopped while this job was outside the engine (reading inputs, storing outputs): go no
    // further; `settle` gives the ending that fits the fate.
    const goOn = (): void => {
      if (active.fate !== 'running') throw errors.cancelled(job.id);
    };
    try {
      const request = await inferenceRequest(
        await jobRequest(job, this.options.models),
        this.options.store,
      );
      goOn();
      const { previews } = this.options;
      const relay = previews && job.params.preview ? new PreviewRelay(previews, job.id) : null;
      const result = await engine.run({
        id: job.id,
        ...(job.model ? { model: job.model } : {}),
        request,
        onProgress: progressRelay({
          queue,
          claim,
          intervalMs: this.options.progressIntervalMs,
          onStepSeconds: this.options.onStepSeconds,
        }),
        ...(relay ? { onPreview: relay.send } : {}),
      });
      await relay?.flushed();
      goOn();
      const outputs = await storeOutputs(this.options.store, job, result);
      // Handed back meanwhile: the queue gives it to the next worker, so publish nothing (it
      // rewrites the same keys). Any other fate: `complete` decides, atomically.
      if (active.fate === 'released') return;
      active.isCompleting = true;
      const done = await queue.complete(claim, outputs);
      if (done.status === 'SUCCEEDED') {
        ending = { outcome: 'succeeded', images: outputs.length };
        this.options.onImages?.(outputs.length);
      } else {
        // A cancel overtook the completion: the job ended CANCELLED, its images must go.
        await this.discardOutputs(claim, outputs);
        ending = { outcome: 'cancelled', images: 0 };
      }
    } catch (error) {
      ending = { images: 0, ...(await this.settle(claim, active.fate, error)) };
    } finally {
      clearInterval(beat);
      const endedAt = Date.now();
      const seconds = Math.round(endedAt - startedAt) / 1000;
      // No ending of its own: it was handed back before it could complete.
      ending ??= { outcome: 'released', images: 0 };
      const images = ending.outcome === 'succeeded' ? ending.images : 0;
      this.meter.ended(model, images, endedAt, startedAt);
      if (images > 0) this.presence.report();
      const { workerId } = this.options;
      logger.info({ workerId, jobId: job.id, model, seconds, ...ending }, 'job ended');
    }
  }

  /** A cancel overtook the job's completion: its stored images must not outlive it. */
  private async discardOutputs(claim: ClaimedJob, outputs: JobOutput[]): Promise<void> {
    await deleteOutputs(this.options.store, outputs).catch((error: unknown) => {
      const context = { err: error, jobId: claim.job.id };
      this.options.logger.warn(context, 'could not delete the outputs of a cancelled job');
    });
  }

  /** Records the ending of a job that did not complete, and says which it was. */
  private async settle(
    claim: ClaimedJob,
    fate: Fate,
    error: unknown,
  ): Promise<{ outcome: Outcome; code?: string }> {
    const { queue, logger } = this.options;
    try {
      // Lost: another worker owns it now, so publishing anything would double it. Released: the
      // queue already has it back, and the CANCELLED from the engine is ours, not the client's.
      if (fate === 'lost' || fate === 'released') return { outcome: fate };
      if (fate === 'cancel') {
        await queue.cancelled(claim);
        return { outcome: 'cancelled' };
      }
      const failure: JobFailure = isAppError(error)
        ? { code: error.code, message: error.message, retryable: error.retryable }
        : { code: 'GENERATION_FAILED', message: String(error), retryable: true };
      if (!isAppError(error))
        logger.error({ err: error, jobId: claim.job.id }, 'job failed unexpectedly');
      const record = await queue.fail(claim, failure);
      const outcome: Outcome =
        record.status === 'QUEUED'
          ? 'retrying'
          : record.status === 'CANCELLED'
            ? 'cancelled'
            : 'failed';
      return { outcome, code: failure.code };
    } catch (settleError) {
      logger.warn({ err: settleError, jobId: claim.job.id }, 'could not record the end of a job');
      return { outcome: 'unrecorded' };
    }
  }
}
