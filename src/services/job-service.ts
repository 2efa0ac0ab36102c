import { randomInt } from 'node:crypto';
import { errors, requireIntegerInRange } from '../errors.js';
import type { ModelRegistry } from '../inference/model-registry.js';
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
  checkSeed,
  resolveClassInput,
  samplingFor,
  type InputLimits,
} from './input-checks.js';
import { requireOwnKey } from './object-keys.js';

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
}

/** The use-cases behind the job mutations and queries: validate, authorize, call the queue. */
export class JobService {
  private readonly queue: JobProducer;
  private readonly registry: ModelRegistry;
  private readonly store: ObjectStore;
  private readonly limits: InputLimits;
  private isAccepting = true;

  constructor(options: JobServiceOptions) {
    ({
      queue: this.queue,
      registry: this.registry,
      store: this.store,
      limits: this.limits,
    } = options);
  }

  async generate(tenant: string, input: SubmitCommon): Promise<JobRecord> {
    if (!this.isAccepting) throw errors.shuttingDown();
    const model = await this.resolveModel(input.model);
    const classId = resolveClassInput(model, input.classId, input.className);
    if (classId === undefined) throw errors.badInput('classId', 'give classId or className');
    return this.enqueue(tenant, 'GENERATE', input, { ...this.common(model, input), classId });
  }

  async inpaint(tenant: string, input: SubmitInpaint): Promise<JobRecord> {
    if (!this.isAccepting) throw errors.shuttingDown();
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
    return this.enqueue(tenant, 'INPAINT', input, {
      ...this.common(model, input),
      ...(classId === undefined ? {} : { classId }),
      imageKey,
      maskKey,
      keepHolistic: input.keepHolistic ?? true,
      composite: input.composite ?? true,
    });
  }

  async transferStyle(tenant: string, input: SubmitStyle): Promise<JobRecord> {
    if (!this.isAccepting) throw errors.shuttingDown();
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
    await checkImageObjects(
      this.store,
      [
        { key: contentKey, field: 'contentKey' },
        { key: styleKey, field: 'styleKey' },
      ],
      this.limits,
    );
    return this.enqueue(tenant, 'STYLE_TRANSFER', input, {
      ...common,
      ...(classId === undefined ? {} : { classId }),
      contentKey,
      styleKey,
      mode,
      strength,
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

  async retry(tenant: string, id: string): Promise<JobRecord> {
    if (!this.isAccepting) throw errors.shuttingDown();
    await this.get(tenant, id);
    return this.queue.retry(id);
  }

  position(id: string): Promise<number | null> {
    return this.queue.position(id);
  }

  private async resolveModel(model: string | undefined) {
    if (model !== undefined && !/^[A-Za-z0-9._-]{1,100}$/.test(model)) {
      throw errors.badInput('model', `${JSON.stringify(model)} is not a model id`);
    }
    try {
      return await this.registry.resolve(model);
    } catch (error) {
      if ((error as { code?: string }).code === 'NOT_FOUND')
        throw errors.badInput('model', (error as Error).message);
      throw error;
    }
  }

  private requireCapability(available: boolean, modelId: string, verb: string): void {
    if (!available)
      throw errors.badInput('model', `${modelId} has no image encoder, so it cannot ${verb}`);
  }

  private common(model: Awaited<ReturnType<ModelRegistry['resolve']>>, input: SubmitCommon) {
    return {
      count: checkCount(input.count, this.limits),
      seed: checkSeed(input.seed, () => randomInt(0, 2 ** 31 - 1)),
      ...samplingFor(model, input),
    };
  }

  private async enqueue(
    tenant: string,
    kind: JobKind,
    input: SubmitCommon,
    params: JobParams,
  ): Promise<JobRecord> {
    const idempotencyKey = input.idempotencyKey;
    if (
      idempotencyKey !== undefined &&
      (idempotencyKey.length < 1 || idempotencyKey.length > 200)
    ) {
      throw errors.badInput('idempotencyKey', 'must be 1 … 200 characters');
    }
    const request: EnqueueInput = {
      tenant,
      kind,
      model: input.model ?? null,
      params,
      priority: checkPriority(input.priority),
      ...(idempotencyKey ? { idempotencyKey } : {}),
    };
    return (await this.queue.enqueue(request)).job;
  }
}
