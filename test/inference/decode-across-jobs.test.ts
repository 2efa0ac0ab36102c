/**
 * Jobs that finish together share decode calls (issue 12), and their PNGs are byte for byte
 * those of the same jobs run alone, or with every job's images decoded in calls of their own.
 * On hita-tiny-emoji, whose decode the open-time probe finds batch-invariant on this machine.
 */
import type * as ort from 'onnxruntime-node';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GenerateRequest, GeneratedImage } from '../../src/inference/inference-engine.js';
import { MAX_DECODE_IMAGES } from '../../src/inference/ort/open-pipeline.js';
import { isDecodeBatchInvariant } from '../../src/inference/ort/row-invariance.js';
import { HitaPipeline } from '../../src/inference/pipeline/hita-pipeline.js';
import { openTinyModel, type TinyModel } from '../support/tiny-pipeline.js';

let model: TinyModel;
/** Images per decode call, in the order of the calls, across every pipeline below. */
const calls: number[] = [];
const pipelines: HitaPipeline[] = [];

beforeAll(async () => {
  model = await openTinyModel(resolve('models/hita-tiny-emoji'));
});
afterAll(async () => {
  // The sessions are shared: release them once.
  for (const pipeline of pipelines) await pipeline.engine.idle();
  await Promise.all([model.gpt.release(), model.decode.release(), model.encode.release()]);
});

/** A pipeline over the real sessions whose decode calls are counted in `calls`. */
async function pipeline(shareDecodesAcrossJobs: boolean): Promise<HitaPipeline> {
  const decode = model.decode;
  const counting = {
    run: (feeds: Record<string, ort.Tensor>) => {
      calls.push(feeds.holistic_ids!.dims[0]!);
      return decode.run(feeds);
    },
  } as unknown as ort.InferenceSession;
  const isInvariant = await isDecodeBatchInvariant(decode, model.manifest);
  const opened = new HitaPipeline({
    ...model,
    decode: counting,
    maxDecodeImages: isInvariant ? MAX_DECODE_IMAGES : 1,
    shareDecodesAcrossJobs,
  });
  pipelines.push(opened);
  return opened;
}

const SAMPLING = { cfgScale: 1.5, temperature: 1, topK: 0, topP: 1 };
/** Five jobs, eight images: with and without CFG, one and several images. */
const JOBS: GenerateRequest[] = [
  { kind: 'generate', classId: 1, seed: 60, count: 1, sampling: SAMPLING },
  { kind: 'generate', classId: 2, seed: 61, count: 1, sampling: { ...SAMPLING, cfgScale: 1 } },
  { kind: 'generate', classId: 3, seed: 62, count: 2, sampling: SAMPLING },
  { kind: 'generate', classId: 4, seed: 64, count: 1, sampling: SAMPLING },
  { kind: 'generate', classId: 5, seed: 65, count: 3, sampling: { ...SAMPLING, topK: 50 } },
];

const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);

function expectSamePngs(actual: GeneratedImage[][], expected: GeneratedImage[][], label: string) {
  for (const [j, images] of expected.entries()) {
    expect(actual[j]).toHaveLength(images.length);
    for (const [i, image] of images.entries()) {
      expect(Buffer.compare(actual[j]![i]!.png, image.png), `${label}: job ${j}, image ${i}`).toBe(
        0,
      );
    }
  }
}

describe('final decodes shared across jobs (hita-tiny-emoji)', () => {
  it('jobs finishing at one step share a call and give the PNGs of jobs run alone', async () => {
    const shared = await pipeline(true);
    calls.length = 0;
    const together = await Promise.all(JOBS.map((job, j) => shared.run(`t${j}`, job)));
    // The first job starts the engine's loop a step before the others join, so it finishes a
    // step ahead and may decode alone; the rest finish together and share a call.
    expect(sum(calls)).toBe(8);
    expect(calls.length).toBeLessThanOrEqual(2);
    expect(Math.max(...calls)).toBeGreaterThanOrEqual(7);
    calls.length = 0;
    const alone: GeneratedImage[][] = [];
    for (const [j, job] of JOBS.entries()) alone.push(await shared.run(`a${j}`, job));
    expect(calls).toEqual(JOBS.map((job) => job.count));
    expectSamePngs(together, alone, 'together vs alone');

    const perJob = await pipeline(false);
    calls.length = 0;
    const separate = await Promise.all(JOBS.map((job, j) => perJob.run(`s${j}`, job)));
    expect([...calls].sort()).toEqual(JOBS.map((job) => job.count).sort());
    expectSamePngs(separate, alone, 'per-job calls vs alone');
  });

  it('a job cancelled as its decode is due is left out; the others decode together', async () => {
    const shared = await pipeline(true);
    calls.length = 0;
    const runs = JOBS.slice(0, 3).map((job, j) =>
      shared.run(`c${j}`, job, (progress) => {
        if (j === 1 && progress.phase === 'decode') shared.cancel(`c${j}`);
      }),
    );
    const outcomes = await Promise.allSettled(runs);
    expect(outcomes[1]).toMatchObject({ status: 'rejected', reason: { code: 'CANCELLED' } });
    // Job 1's image is never decoded: only jobs 0 and 2's three images are.
    expect(sum(calls)).toBe(JOBS[0]!.count + JOBS[2]!.count);
    const kept = [outcomes[0], outcomes[2]].map(
      (outcome) => (outcome as PromiseFulfilledResult<GeneratedImage[]>).value,
    );
    const alone = [await shared.run('k0', JOBS[0]!), await shared.run('k2', JOBS[2]!)];
    expectSamePngs(kept, alone, 'kept vs alone');
  });
});
