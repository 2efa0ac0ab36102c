import { randomInt } from 'node:crypto';
import { errors, quote, requireIntegerInRange } from '../errors.js';
import type { ModelRegistry } from '../inference/model/model-registry.js';
import type {
  EnqueueInput,
  JobFilter,
  JobKind,
  JobPage,
  JobParams,
  JobProducer,
  JobRecord,
} from '../queue/job-queue.js';
import type { ObjectStore } from '../storage/object-store.js';
import {
  checkCount,
  checkImageObjects,
  checkPriority,
  checkRetentionHours,
  checkSeed,
  resolveClassInput,
  samplingFor,
  withoutNulls,
  type InputLimits,
} from './input-checks.js';
import { copyInputs, dropInputCopies } from './input-copies.js';
import { JobBatch } from './job-batch.js';
import { inputFingerprint } from './input-fingerprint.js';
import { requireOwnKey } from '../storage/object-key.js';
import type { RetentionService } from './retention-service.js';

/** Fields shared by the three submit inputs (the GraphQL inputs satisfy it structurally). */
export interface SubmitCommon {
  model?: string | undefined;
  count?: number | undefined;
  seed?: number | undefined;
  cfgScale?: number | undefined;
  temperature?: number | undefined;
  topK?: number | undefined;
  topP?: number | undefined;
  priority?: number | undefined;
  idempotencyKey?: string | undefined;
  retentionHours?: number | undefined;
  classId?: number | undefined;
  className?: string | undefined;
}

export interface SubmitInpaint extends SubmitCommon {
  imageKey: string;
  maskKey: string;
  keepHolistic?: boolean | undefined;
  composite?: boolean | undefined;
}

export interface SubmitStyle extends SubmitCommon {
  contentKey: string;
  styleKey: string;
  mode?: 'swap' | 'regenerate' | undefined;
  strength?: number | undefined;
}

export interface JobServiceOptions {
  queue: JobProducer;
  registry: ModelRegistry;
  store: ObjectStore;
  limits: InputLimits;
  /** Deletes a deleted job's objects at once (deleteJob); its note covers a failure. */
  retention: Pick<RetentionService, 'releaseNow'>;
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
  private isAccepting = true;

  constructor(options: JobServiceOptions) {
    ({
      queue: this.queue,
      registry: this.registry,
      store: this.store,
      limits: this.limits,
      retention: this.retention,
    } = options);
  }

  async generate(tenant: string, sent: SubmitCommon, batch?: JobBatch): Promise<JobRecord> {
    if (!this.isAccepting) throw errors.shuttingDown();
    const input = withoutNulls(sent);
    const model = await this.resolveModel(input.model);
    const classId = resolveClassInput(model, input.classId, input.className);
    if (classId === undefined) throw errors.badInput('classId', 'give classId or className');
    return this.enqueue(
      tenant,
      'GENERATE',
      input,
      { ...this.common(model, input), classId },
      batch,
    );
  }

  async inpaint(tenant: string, sent: SubmitInpaint, batch?: JobBatch): Promise<JobRecord> {
    if (!this.isAccepting) throw errors.shuttingDown();
    const input = withoutNulls(sent);
    const model = await this.resolveModel(input.model);
    this.requireCapability(model.capabilities.inpaint, model.id, 'in-paint');
    const classId = resolveClassInput(model, input.classId, input.className);
    const imageKey = requireOwnKey(tenant, input.imageKey, 'imageKey');
    const maskKey = requireOwnKey(tenant, input.maskKey, 'maskKey');
    const [image, mask] = await checkImageObjects(
      this.store,
      [
        { key: imageKey, field: 'imageKey' },
        { key: maskKey, field: 'maskKey' },
      ],
      this.limits,
    );
    if (image.width !== mask.width || image.height !== mask.height) {
      throw errors.badInput(
        'maskKey',
        `is ${mask.width}×${mask.height}, the image is ${image.width}×${image.height}; they must match`,
      );
    }
    const common = this.common(model, input);
    const inputCopies = await copyInputs(this.store, tenant, [
      { role: 'image', image },
      { role: 'mask', image: mask },
    ]);
    return this.enqueue(
      tenant,
      'INPAINT',
      input,
      {
        ...common,
        ...(classId === undefined ? {} : { classId }),
        imageKey,
        maskKey,
        keepHolistic: input.keepHolistic ?? true,
        composite: input.composite ?? true,
        inputCopies,
      },
      batch,
    );
  }

  async transferStyle(tenant: string, sent: SubmitStyle, batch?: JobBatch): Promise<JobRecord> {
    if (!this.isAccepting) throw errors.shuttingDown();
    const input = withoutNulls(sent);
    const model = await this.resolveModel(input.model);
    this.requireCapability(model.capabilities.style, model.id, 'transfer style');
    const classId = resolveClassInput(model, input.classId, input.className);
    const mode = input.mode ?? 'swap';
    const strength = input.strength ?? 0.5;
    if (!Number.isFinite(strength) || strength < 0 || strength > 1) {
      throw errors.badInput('strength', `must be in [0, 1], got ${strength}`);
    }
    const common = this.common(model, input);
    if (mode === 'swap' && common.count !== 1)
      throw errors.badInput('count', 'SWAP is deterministic: it makes one image');
    const contentKey = requireOwnKey(tenant, input.contentKey, 'contentKey');
    const styleKey = requireOwnKey(tenant, input.styleKey, 'styleKey');
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
    return this.enqueue(
      tenant,
      'STYLE_TRANSFER',
      input,
      {
        ...common,
        ...(classId === undefined ? {} : { classId }),
        contentKey,
        styleKey,
        mode,
        strength,
        inputCopies,
      },
      batch,
    );
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

  position(id: string): Promise<number | null> {
    return this.queue.position(id);
  }

  private async resolveModel(model: string | undefined) {
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

  private requireCapability(available: boolean, modelId: string, verb: string): void {
    if (!available)
      throw errors.badInput('model', `${modelId} has no image encoder, so it cannot ${verb}`);
  }

  private common(model: Awaited<ReturnType<ModelRegistry['resolve']>>, input: SubmitCommon) {
    const count = checkCount(input.count, this.limits);
    // Checked here too, before any input image is read; `request` stores it.
    checkRetentionHours(input.retentionHours, this.limits);
    return {
      count,
      seed: checkSeed(input.seed, count, (max) => randomInt(0, max + 1)),
      ...samplingFor(model, input),
    };
  }

  /**
   * Enqueues, held in `batch` when the operation may create several jobs; input copies in
   * `params` are removed again unless a new job now owns them.
   */
  private async enqueue(
    tenant: string,
    kind: JobKind,
    input: SubmitCommon,
    params: JobParams,
    batch: JobBatch | undefined,
  ): Promise<JobRecord> {
    let created = false;
    try {
      const request = this.request(tenant, kind, input, params);
      const result = await (batch ?? this.queue).enqueue(request);
      created = result.created;
      return result.job;
    } finally {
      if (!created && params.inputCopies) await dropInputCopies(this.store, params.inputCopies);
    }
  }

  /** @throws AppError BAD_USER_INPUT on `idempotencyKey`, `priority` or `retentionHours` */
  private request(
    tenant: string,
    kind: JobKind,
    input: SubmitCommon,
    params: JobParams,
  ): EnqueueInput {
    const idempotencyKey = input.idempotencyKey;
    if (
      idempotencyKey !== undefined &&
      (idempotencyKey.length < 1 || idempotencyKey.length > 200)
    ) {
      throw errors.badInput('idempotencyKey', 'must be 1 … 200 characters');
    }
    const retentionMs = checkRetentionHours(input.retentionHours, this.limits);
    return {
      tenant,
      kind,
      model: input.model ?? null,
      params,
      priority: checkPriority(input.priority),
      ...(retentionMs === undefined ? {} : { retentionMs }),
      ...(idempotencyKey
        ? { idempotencyKey, idempotencyFingerprint: inputFingerprint(MUTATION_OF[kind], input) }
        : {}),
    };
  }
}
