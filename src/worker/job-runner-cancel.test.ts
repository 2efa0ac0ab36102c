/**
 * JobRunner's cancel path on a real in-memory SQLite queue, with an engine and a store the test
 * steers: a cancel reaches the engine at once through the queue's event, stops a job still
 * reading its inputs, and a completion the cancel overtook leaves no stored image behind.
 */
import { join } from 'node:path';
import sharp from 'sharp';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { errors } from '../errors.js';
import type {
  InferenceEngine,
  InferenceJob,
  InferenceResult,
} from '../inference/inference-engine.js';
import { ModelRegistry } from '../inference/model/model-registry.js';
import { PACKAGE_ROOT } from '../paths.js';
import type { JobConsumer, JobParams } from '../queue/job-queue.js';
import { SqliteJobQueue } from '../queue/sqlite/sqlite-job-queue.js';
import type { ObjectLevel, ObjectStore } from '../storage/object-store.js';
import { JobRunner } from './job-runner.js';

const PARAMS: JobParams = {
  classId: 0,
  count: 1,
  seed: 1,
  cfgScale: 1,
  temperature: 1,
  topK: 0,
  topP: 1,
};
/** The shipped models: the runner validates each job against its model before it runs. */
const MODELS = new ModelRegistry({
  modelsDir: join(PACKAGE_ROOT, 'models'),
  defaultModel: 'hita-tiny-random',
});
const SILENT = { info: () => undefined, warn: () => undefined, error: () => undefined };

/** Runs end when the test calls `finish`, or with CANCELLED when cancelled. */
class FakeEngine implements InferenceEngine {
  readonly started: string[] = [];
  readonly cancels: string[] = [];
  private readonly runs = new Map<string, (error?: unknown) => void>();
  private readonly results = new Map<string, (result: InferenceResult) => void>();

  run(job: InferenceJob): Promise<InferenceResult> {
    this.started.push(job.id);
    return new Promise((resolve, reject) => {
      this.runs.set(job.id, reject);
      this.results.set(job.id, resolve);
    });
  }

  finish(jobId: string, png: Buffer): void {
    const image = { seed: 1, png, width: 8, height: 8, holisticIds: [], patchIds: [] };
    this.results.get(jobId)?.({ model: 'fake', precision: 'fp32', images: [image] });
    this.forget(jobId);
  }

  cancel(jobId: string): void {
    this.cancels.push(jobId);
    this.runs.get(jobId)?.(errors.cancelled(jobId));
    this.forget(jobId);
  }

  async stats() {
    return { provider: null, activeRows: 0, queuedSequences: 0, steps: 0, rssBytes: 0 };
  }

  async close(): Promise<void> {}

  private forget(jobId: string): void {
    this.runs.delete(jobId);
    this.results.delete(jobId);
  }
}

/** A gate the test opens; `waiting` resolves once something waits at it. */
function gate(): { pass: () => Promise<void>; open: () => void; waiting: Promise<void> } {
  let open = (): void => undefined;
  let arrived = (): void => undefined;
  const opened = new Promise<void>((resolve) => (open = resolve));
  const waiting = new Promise<void>((resolve) => (arrived = resolve));
  return {
    pass: () => {
      arrived();
      return opened;
    },
    open,
    waiting,
  };
}

/** Objects in a Map; puts and gets may be held at a gate. */
class MapStore implements ObjectStore {
  readonly objects = new Map<string, Buffer>();
  putGate: ReturnType<typeof gate> | null = null;
  getGate: ReturnType<typeof gate> | null = null;

  async start(): Promise<void> {}
  async close(): Promise<void> {}
  async put(key: string, body: Buffer): Promise<void> {
    await this.putGate?.pass();
    this.objects.set(key, body);
  }
  async get(key: string): Promise<Buffer> {
    await this.getGate?.pass();
    const body = this.objects.get(key);
    if (!body) throw errors.notFound('object', key);
    return body;
  }
  async stat(): Promise<null> {
    return null;
  }
  async delete(key: string): Promise<void> {
    this.objects.delete(key);
  }
  async list(prefix: string): Promise<string[]> {
    return [...this.objects.keys()].filter((key) => key.startsWith(prefix)).sort();
  }
  async browse(): Promise<ObjectLevel> {
    return { objects: [], prefixes: [] };
  }
  async presignGet(key: string): Promise<string> {
    return key;
  }
  async presignPut(key: string): Promise<string> {
    return key;
  }
}

/** The queue as a worker in another process sees it: no events, heartbeats only. */
function deaf(queue: SqliteJobQueue): JobConsumer {
  return new Proxy(queue, {
    get(target, prop) {
      if (prop === 'onEvent') return () => () => undefined;
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? (value as () => unknown).bind(target) : value;
    },
  });
}

describe('JobRunner cancel path', () => {
  // Loading opens every graph (seconds on a busy machine): once, before any wait for a job.
  beforeAll(() => MODELS.default());

  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function setup(options: { isDeaf?: boolean } = {}) {
    const queue = new SqliteJobQueue({ path: ':memory:' });
    await queue.start();
    const engine = new FakeEngine();
    const store = new MapStore();
    // A 30 s lease heartbeats once a second: anything faster than that came through the event.
    const runner = new JobRunner({
      workerId: 'w1',
      queue: options.isDeaf ? deaf(queue) : queue,
      engine,
      store,
      models: MODELS,
      logger: SILENT,
      leaseMs: 30_000,
    });
    cleanups.push(async () => {
      // Closing the queue first wakes the claim loop parked in waitForWork.
      await queue.close();
      await runner.stop(0);
    });
    return { queue, engine, store, runner };
  }

  it('hands a cancel-requested event to the engine at once, not at the next heartbeat', async () => {
    const { queue, engine, runner } = await setup();
    const { job } = await queue.enqueue({
      tenant: 't',
      kind: 'GENERATE',
      model: null,
      params: PARAMS,
    });
    runner.start();
    await vi.waitFor(() => expect(engine.started).toEqual([job.id]));
    const requested = await queue.cancel(job.id);
    expect(engine.cancels).toEqual([job.id]);
    expect(requested).toMatchObject({ status: 'RUNNING', cancelRequested: true });
    await vi.waitFor(async () => expect((await queue.get(job.id))?.status).toBe('CANCELLED'), {
      timeout: 500,
    });
  });

  it('deletes the images it stored when complete reports CANCELLED', async () => {
    const { queue, engine, store, runner } = await setup({ isDeaf: true });
    const { job } = await queue.enqueue({
      tenant: 't',
      kind: 'GENERATE',
      model: null,
      params: PARAMS,
    });
    runner.start();
    await vi.waitFor(() => expect(engine.started).toEqual([job.id]));
    store.putGate = gate();
    const png = await sharp({
      create: { width: 8, height: 8, channels: 3, background: '#808080' },
    })
      .png()
      .toBuffer();
    engine.finish(job.id, png);
    // The images are on their way to the store when the cancel is accepted.
    await store.putGate.waiting;
    await queue.cancel(job.id);
    store.putGate.open();
    await vi.waitFor(async () => expect((await queue.get(job.id))?.status).toBe('CANCELLED'));
    expect((await queue.get(job.id))?.outputs).toEqual([]);
    await vi.waitFor(() => expect([...store.objects.keys()]).toEqual([]));
  });

  it('never starts the engine for a job cancelled while it reads its input images', async () => {
    const { queue, engine, store, runner } = await setup();
    store.objects.set('in/image.png', Buffer.from('image'));
    store.objects.set('in/mask.png', Buffer.from('mask'));
    const params = { ...PARAMS, imageKey: 'in/image.png', maskKey: 'in/mask.png' };
    const { job } = await queue.enqueue({ tenant: 't', kind: 'INPAINT', model: null, params });
    store.getGate = gate();
    runner.start();
    await store.getGate.waiting;
    await queue.cancel(job.id);
    store.getGate.open();
    await vi.waitFor(async () => expect((await queue.get(job.id))?.status).toBe('CANCELLED'), {
      timeout: 500,
    });
    expect(engine.started).toEqual([]);
  });
});
