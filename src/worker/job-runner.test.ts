import { join } from 'node:path';
import sharp from 'sharp';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { errors } from '../errors.js';
import type { InferenceEngine, InferenceJob } from '../inference/inference-engine.js';
import { ModelRegistry } from '../inference/model/model-registry.js';
import { PACKAGE_ROOT } from '../paths.js';
import type { EnqueueInput } from '../queue/job-queue.js';
import { SqliteJobQueue } from '../queue/sqlite/sqlite-job-queue.js';
import type { ObjectStore } from '../storage/object-store.js';
import { JobRunner } from './job-runner.js';

const WORKER = 'host-a:77:0';

/** A logger that keeps every line as [message, fields]. */
function recordingLogger() {
  const lines: [string, Record<string, unknown>][] = [];
  const log = (obj: Record<string, unknown>, message: string) => lines.push([message, obj]);
  return { lines, logger: { info: log, warn: log, error: log } };
}

/** Makes one 1×1 image per job (class 5: 20 ms later), or fails the jobs whose class is 9 for good. */
function fakeEngine(): InferenceEngine {
  return {
    async run(job: InferenceJob) {
      if (job.request.kind === 'generate' && job.request.classId === 9) {
        throw errors.generationFailed('class 9 is broken');
      }
      if (job.request.kind === 'generate' && job.request.classId === 5) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const png = await sharp({
        create: { width: 1, height: 1, channels: 3, background: '#000' },
      })
        .png()
        .toBuffer();
      return {
        model: 'tiny',
        precision: 'int8',
        images: [{ seed: 1, png, width: 1, height: 1, holisticIds: [], patchIds: [] }],
      };
    },
    cancel: () => undefined,
    stats: async () => ({
      provider: 'cpu',
      activeRows: 0,
      queuedSequences: 0,
      steps: 0,
      rssBytes: 0,
    }),
    close: async () => undefined,
  };
}

const memoryStore = { put: async () => undefined } as unknown as ObjectStore;
/** The shipped models; jobs name none, so they run on the one with ten classes. */
const models = new ModelRegistry({
  modelsDir: join(PACKAGE_ROOT, 'models'),
  defaultModel: 'hita-tiny-random',
});

function input(classId: number): EnqueueInput {
  return {
    tenant: 't',
    kind: 'GENERATE',
    model: null,
    params: { classId, count: 1, seed: 1, cfgScale: 4, temperature: 1, topK: 0, topP: 1 },
  };
}

let queue: SqliteJobQueue | null = null;
afterEach(async () => {
  await queue?.close();
  queue = null;
});

async function startRunner(announceIntervalMs = 5000, maxConcurrentJobs = 8) {
  queue = new SqliteJobQueue({ path: ':memory:' });
  await queue.start();
  const { lines, logger } = recordingLogger();
  const runner = new JobRunner({
    workerId: WORKER,
    queue,
    engine: fakeEngine(),
    store: memoryStore,
    models,
    logger,
    announceIntervalMs,
    maxConcurrentJobs,
    defaultModel: 'tiny',
  });
  runner.start();
  return { queue, runner, lines };
}

describe('JobRunner', () => {
  // Loading opens every graph (seconds on a busy machine): once, before any wait for a job.
  beforeAll(() => models.default());

  it('announces itself while idle, at every interval, and retires on stop', async () => {
    const { queue, runner } = await startRunner(20);
    const announce = vi.spyOn(queue, 'announce');
    await vi.waitFor(async () => expect((await queue.stats()).workers).toBe(1));
    await vi.waitFor(() => expect(announce.mock.calls.length).toBeGreaterThanOrEqual(2));
    expect(announce).toHaveBeenCalledWith(WORKER);
    await runner.stop(0);
    expect((await queue.stats()).workers).toBe(0);
    const after = announce.mock.calls.length;
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(announce.mock.calls.length).toBe(after);
  });

  it('logs one line when it claims a job and one when the job ends, and names itself on the job', async () => {
    const { queue, runner, lines } = await startRunner();
    const good = (await queue.enqueue(input(3))).job;
    const bad = (await queue.enqueue(input(9))).job;
    await vi.waitFor(async () => {
      expect((await queue.get(good.id))?.status).toBe('SUCCEEDED');
      expect((await queue.get(bad.id))?.status).toBe('FAILED');
    });
    await runner.stop(1000);
    expect((await queue.get(good.id))?.workerId).toBe(WORKER);
    // The precision is the engine's, recorded on each image at completion.
    expect((await queue.get(good.id))?.outputs.map((o) => o.precision)).toEqual(['int8']);
    const about = (id: string) => lines.filter(([, fields]) => fields.jobId === id);
    expect(about(good.id)).toEqual([
      ['job claimed', { workerId: WORKER, jobId: good.id, model: 'tiny', images: 1, attempt: 1 }],
      [
        'job ended',
        {
          workerId: WORKER,
          jobId: good.id,
          model: 'tiny',
          images: 1,
          seconds: expect.any(Number),
          outcome: 'succeeded',
        },
      ],
    ]);
    expect(about(bad.id).map(([message]) => message)).toEqual(['job claimed', 'job ended']);
    expect(about(bad.id)[1]?.[1]).toMatchObject({
      images: 0,
      outcome: 'failed',
      code: 'GENERATION_FAILED',
    });
  });

  it('reports its measured throughput after a completion, and takes it back when it retires', async () => {
    const { queue, runner } = await startRunner(20, 1); // one at a time: the second runs warm
    await vi.waitFor(async () => expect((await queue.stats()).workers).toBe(1));
    expect((await queue.stats()).imagesPerSecond).toBeNull();
    // The first job runs cold and is left out of the figure; the second is measured.
    const cold = (await queue.enqueue(input(5))).job;
    const job = (await queue.enqueue(input(5))).job;
    await vi.waitFor(async () => expect((await queue.get(job.id))?.status).toBe('SUCCEEDED'));
    expect((await queue.get(cold.id))?.status).toBe('SUCCEEDED');
    // One image in at least the engine's 20 ms: at most 50 images/s, and some.
    await vi.waitFor(async () => expect((await queue.stats()).imagesPerSecond).not.toBeNull());
    const measured = (await queue.stats()).imagesPerSecond ?? 0;
    expect(measured).toBeGreaterThan(0);
    expect(measured).toBeLessThanOrEqual(50);
    await runner.stop(1000);
    expect((await queue.stats()).imagesPerSecond).toBeNull();
  });
});
