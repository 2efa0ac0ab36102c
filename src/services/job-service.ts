import { errors, quote, requireIntegerInRange } from '../errors.js';
import type { ModelInfo } from '../inference/model/model-manifest.js';
import type { ModelRegistry } from '../inference/model/model-registry.js';
import { QUEUE_KIND, toStoredParams } from '../jobs/stored-job.js';
import {
  checkMaskSize,
  validateJobRequest,
  type GenerateDraft,
  type InpaintDraft,
  type JobDraft,
  type JobRequest,
  type StyleDraft,
} from '../jobs/job-request.js';
import type {
  EnqueueInput,
  JobFilter,
  JobKind,
  JobPage,
  JobProducer,
  JobRecord,
  WorkAhead,
} from '../queue/job-queue.js';
import type { ObjectStore } from '../storage/object-store.js';
import {
  checkImageObjects,
  checkPriority,
  checkRetentionHours,
  withoutNulls,
  type InputLimits,
} from './input-checks.js';
import { copyInputs, dropInputCopies } from './input-copies.js';
import { JobBatch } from './job-batch.js';
import { inputFingerprint } from './input-fingerprint.js';
import { requireOwnKey } from '../storage/object-key.js';
import type { RetentionService } from './retention-service.js';
import { toWebhookSpec, type WebhookDraft } from './webhook-input.js';
import { WorkAheadBatcher } from './work-ahead-batcher.js';

/** What the API adds around a job's request: how the queue treats the job. */
export interface SubmitOptions {
  priority?: number | undefined;
  idempotencyKey?: string | undefined;
  retentionHours?: number | undefined;
  /** Checked with the other options (webhook-input.ts); stored with the job, not in its params. */
  webhook?: WebhookDraft | null | undefined;
}

/** The submit inputs: a draft of each kind plus SubmitOptions (the GraphQL inputs satisfy them). */
export type SubmitGenerate = Omit<GenerateDraft, 'kind'> & SubmitOptions;
export type SubmitInpaint = Omit<InpaintDraft, 'kind' | 'inputCopies'> & SubmitOptions;
export type SubmitStyle = Omit<StyleDraft, 'kind' | 'inputCopies'> & SubmitOptions;

export interface JobServiceOptions {
  queue: JobProducer;
  registry: ModelRegistry;
  store: ObjectStore;
  limits: InputLimits;
  /** Deletes a deleted job's objects at once (deleteJob); its note covers a failure. */
  retention: Pick<RetentionService, 'releaseNow'>;
  /** HITA_WEBHOOK_ALLOW_PRIVATE: webhook URLs may name IP addresses and localhost. @default false */
  allowPrivateWebhooks?: boolean;
}

/** The mutation that submits each kind: an idempotency key is bound to it and its input. */
const MUTATION_OF: Record<JobKind, string> = {
  GENERATE: 'generateImages',
  INPAINT: 'inpaintImage',
  STYLE_TRANSFER: 'transferStyle',
};

/** The use-cases behind the job mutations and queries: validate, authorize, call the queue. */
export class JobService {
  private readonly queue: JobProducer;
  private readonly registry: ModelRegistry;
  private readonly store: ObjectStore;
  private readonly limits: InputLimits;
  private readonly retention: Pick<RetentionService, 'releaseNow'>;
  private readonly allowPrivateWebhooks: boolean;
  private readonly aheadOf: WorkAheadBatcher;
  private isAccepting = true;

  constructor(options: JobServiceOptions) {
    ({
      queue: this.queue,
      registry: this.registry,
      store: this.store,
      limits: this.limits,
      retention: this.retention,
      allowPrivateWebhooks: this.allowPrivateWebhooks = false,
    } = options);
    this.aheadOf = new WorkAheadBatcher(this.queue);
  }

  async generate(tenant: string, sent: SubmitGenerate, batch?: JobBatch): Promise<JobRecord> {
    const input = withoutNulls(sent);
    const request = await this.validate(input, { ...input, kind: 'generate' });
    return this.enqueue(tenant, input, request, batch);
  }

  async inpaint(tenant: string, sent: SubmitInpaint, batch?: JobBatch): Promise<JobRecord> {
    const input = withoutNulls(sent);
    const request = await this.validate(input, { ...input, kind: 'inpaint' });
    const imageKey = requireOwnKey(tenant, request.imageKey, 'imageKey');
    const maskKey = requireOwnKey(tenant, request.maskKey, 'maskKey');
    const [image, mask] = await checkImageObjects(
      this.store,
      [
        { key: imageKey, field: 'imageKey' },
        { key: maskKey, field: 'maskKey' },
      ],
      this.limits,
    );
    checkMaskSize(image, mask, 'maskKey');
    const inputCopies = await copyInputs(this.store, tenant, [
      { role: 'image', image },
      { role: 'mask', image: mask },
    ]);
    return this.enqueue(tenant, input, { ...request, inputCopies }, batch);
  }

  async transferStyle(tenant: string, sent: SubmitStyle, batch?: JobBatch): Promise<JobRecord> {
    const input = withoutNulls(sent);
    const request = await this.validate(input, { ...input, kind: 'style' });
    const contentKey = requireOwnKey(tenant, request.contentKey, 'contentKey');
    const styleKey = requireOwnKey(tenant, request.styleKey, 'styleKey');
    const [content, style] = await checkImageObjects(
      this.store,
      [
        { key: contentKey, field: 'contentKey' },
        { key: styleKey, field: 'styleKey' },
      ],
      this.limits,
    );
    const inputCopies = await copyInputs(this.store, tenant, [
      { role: 'content', image: content },
      { role: 'style', image: style },
    ]);
    return this.enqueue(tenant, input, { ...request, inputCopies }, batch);
  }

  /**
   * A batch for one operation that may create several jobs: pass it to `generate`, `inpaint` and
   * `transferStyle`, then commit or abort it (job-batch.ts says when).
   */
  openBatch(): JobBatch {
    return new JobBatch({
      queue: this.queue,
      onDiscarded: async (jobs) => {
        await Promise.all(
          jobs.map(
            (job) => job.params.inputCopies && dropInputCopies(this.store, job.params.inputCopies),
          ),
        );
      },
    });
  }

  /**
   * From now on every call that would create or re-run a job (generate, inpaint, transferStyle,
   * retry) fails with SHUTTING_DOWN (retryable, HTTP 503). Reads and cancels still work.
   */
  stopAccepting(): void {
    this.isAccepting = false;
  }

  /** @throws NOT_FOUND for another tenant's job too: existence never leaks. */
  async get(tenant: string, id: string): Promise<JobRecord> {
    const job = await this.queue.get(id);
    if (!job || job.tenant !== tenant) throw errors.notFound('job', id);
    return job;
  }

  async find(tenant: string, id: string): Promise<JobRecord | null> {
    const job = await this.queue.get(id);
    return job && job.tenant === tenant ? job : null;
  }

  list(
    tenant: string,
    first: number,
    after: string | undefined,
    filter: JobFilter | undefined,
  ): Promise<JobPage> {
    requireIntegerInRange('first', first, 1, 100);
    return this.queue.list(tenant, {
      first,
      ...(after ? { after } : {}),
      ...(filter ? { filter } : {}),
    });
  }

  async cancel(tenant: string, id: string): Promise<JobRecord> {
    await this.get(tenant, id);
    return this.queue.cancel(id);
  }

  /**
   * Deletes a finished job with its events, idempotency key, outputs, thumbnails and input
   * copies; open `jobUpdated` streams of it complete. Images other jobs made from its outputs
   * are theirs (their own input copies) and stay. Objects the store could not delete now are
   * deleted by the next retention pass.
   * @throws NOT_FOUND for unknown and foreign jobs; CONFLICT for a QUEUED or RUNNING job
   */
  async delete(tenant: string, id: string): Promise<string> {
    await this.get(tenant, id);
    const removed = await this.queue.delete(id);
    await this.retention.releaseNow(removed);
    return removed.id;
  }

  async retry(tenant: string, id: string): Promise<JobRecord> {
    if (!this.isAccepting) throw errors.shuttingDown();
    await this.get(tenant, id);
    return this.queue.retry(id);
  }

  /** 1-based place in claim order; null when not QUEUED. Batched per event-loop turn. */
  async position(id: string): Promise<number | null> {
    return (await this.aheadOf.workAhead(id))?.position ?? null;
  }

  /** Place and images ahead (for an ETA); null when not QUEUED. Batched like `position`. */
  workAhead(id: string): Promise<WorkAhead | null> {
    return this.aheadOf.workAhead(id);
  }

  private async resolveModel(model: string | undefined): Promise<ModelInfo> {
    // An id, never a path: it must not start with '.' (the registry reads '..' as a directory).
    if (model !== undefined && !/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/.test(model)) {
      throw errors.badInput('model', `${quote(model)} is not a model id`);
    }
    try {
      return await this.registry.resolve(model);
    } catch (error) {
      if ((error as { code?: string }).code !== 'NOT_FOUND') throw error;
      // The registry's message names the models directory: fine for the CLI, not for clients.
      const known = (await this.registry.list()).map((m) => m.id);
      throw errors.badInput(
        'model',
        `${quote(model)} is not served here; known: ${known.join(', ')}`,
        {
          known,
        },
      );
    }
  }

  /**
   * Everything that needs no input image, before any is read: the request (validateJobRequest,
   * against its model) and how the queue should treat it.
   * @throws AppError SHUTTING_DOWN; BAD_USER_INPUT naming the field
   */
  private async validate<D extends JobDraft>(
    options: SubmitOptions,
    draft: D,
  ): Promise<Extract<JobRequest, { kind: D['kind'] }>> {
    if (!this.isAccepting) throw errors.shuttingDown();
    const model = await this.resolveModel(draft.model);
    const request = validateJobRequest(draft, model, { maxCount: this.limits.maxCount });
    this.checkOptions(options);
    return request;
  }

  /**
   * @throws AppError BAD_USER_INPUT on `idempotencyKey`, `priority`, `retentionHours` or
   *   `webhook`
   */
  private checkOptions(options: SubmitOptions): void {
    const { idempotencyKey } = options;
    if (
      idempotencyKey !== undefined &&
      (idempotencyKey.length < 1 || idempotencyKey.length > 200)
    ) {
      throw errors.badInput('idempotencyKey', 'must be 1 … 200 characters');
    }
    checkRetentionHours(options.retentionHours, this.limits);
    checkPriority(options.priority);
    if (options.webhook) toWebhookSpec(options.webhook, this.allowPrivateWebhooks);
  }

  /**
   * Enqueues, held in `batch` when the operation may create several jobs; input copies in
   * the request are removed again unless a new job now owns them.
   * @param input the input as the client sent it, less its nulls: what an idempotency key binds
   */
  private async enqueue(
    tenant: string,
    input: SubmitOptions & { model?: string | undefined },
    request: JobRequest,
    batch: JobBatch | undefined,
  ): Promise<JobRecord> {
    const params = toStoredParams(request);
    let created = false;
    try {
      const kind: JobKind = QUEUE_KIND[request.kind];
      const retentionMs = checkRetentionHours(input.retentionHours, this.limits);
      const { idempotencyKey } = input;
      const enqueued: EnqueueInput = {
        tenant,
        kind,
        model: request.model,
        params,
        priority: checkPriority(input.priority),
        ...(retentionMs === undefined ? {} : { retentionMs }),
        ...(input.webhook
          ? { webhook: toWebhookSpec(input.webhook, this.allowPrivateWebhooks) }
          : {}),
        ...(idempotencyKey
          ? { idempotencyKey, idempotencyFingerprint: inputFingerprint(MUTATION_OF[kind], input) }
          : {}),
      };
      const result = await (batch ?? this.queue).enqueue(enqueued);
      created = result.created;
      return result.job;
    } finally {
      if (!created && params.inputCopies) await dropInputCopies(this.store, params.inputCopies);
    }
  }
}
