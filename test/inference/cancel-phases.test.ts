/**
 * A cancel stops a job in every phase, not only inside the batch: while an in-painting or style
 * job encodes its input images, while tokens are decoded to pictures, and (through the engine
 * thread) while the job's model is still being opened. The tiny model on CPU, real ORT.
 */
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InferenceProgress, InferenceRequest } from '../../src/inference/inference-engine.js';
import type { HitaPipeline } from '../../src/inference/pipeline/hita-pipeline.js';
import { WorkerEngine } from '../../src/inference/thread/worker-engine.js';
import { gradientPng, maskPng } from '../support/images.js';
import { openTinyModel, tinyPipeline } from '../support/tiny-pipeline.js';

const SAMPLING = { cfgScale: 1.5, temperature: 1, topK: 0, topP: 1 };

describe('cancelling outside the batch on the tiny model', () => {
  let pipeline: HitaPipeline;
  let inpaint: InferenceRequest;
  let style: InferenceRequest;

  beforeAll(async () => {
    pipeline = tinyPipeline(await openTinyModel());
    const image = await gradientPng(48, 40);
    const mask = await maskPng(48, 40, (_, y) => y >= 20);
    inpaint = { kind: 'inpaint', image, mask, count: 2, seed: 5, sampling: SAMPLING };
    style = {
      kind: 'style',
      content: image,
      style: await gradientPng(40, 48),
      mode: 'regenerate',
      strength: 0.5,
      count: 1,
      seed: 5,
      sampling: SAMPLING,
    };
  });

  /** Runs `request`, cancelling it at the first progress of `phase`; resolves with the phases seen. */
  async function cancelAt(id: string, request: InferenceRequest, phase: string) {
    const phases: string[] = [];
    const onProgress = (progress: InferenceProgress): void => {
      if (progress.phase === phase && !phases.includes(phase)) pipeline.cancel(id);
      phases.push(progress.phase);
    };
    await expect(pipeline.run(id, request, onProgress)).rejects.toMatchObject({
      code: 'CANCELLED',
    });
    return phases;
  }

  it('stops an in-painting job cancelled while it encodes its image: no token is sampled', async () => {
    const phases = await cancelAt('inpaint-encode', inpaint, 'encode');
    expect(phases).toEqual(['encode']);
    expect(pipeline.engine.stats).toMatchObject({ activeRows: 0, queuedSequences: 0 });
    // The same id runs again afterwards: nothing of the cancel is left behind.
    expect(await pipeline.run('inpaint-encode', inpaint)).toHaveLength(2);
  });

  it('stops a style job cancelled while it encodes its content and style images', async () => {
    const phases = await cancelAt('style-encode', style, 'encode');
    expect(phases).toEqual(['encode']);
  });

  it('stops a job cancelled while its tokens are decoded, before the next image', async () => {
    const generate: InferenceRequest = {
      kind: 'generate',
      classId: 1,
      count: 3,
      seed: 2,
      sampling: SAMPLING,
    };
    const phases = await cancelAt('decode', generate, 'decode');
    expect(phases.filter((phase) => phase === 'decode')).toEqual(['decode']);
  });
});

describe('WorkerEngine', () => {
  let engine: WorkerEngine;
  beforeAll(() => {
    engine = new WorkerEngine({
      modelsDir: resolve('models'),
      defaultModel: 'hita-tiny-random',
      providers: ['cpu'],
      threads: 1,
    });
  });
  afterAll(async () => {
    await engine?.close();
  });

  it('answers CANCELLED at once for a job cancelled before its model was open', async () => {
    const request: InferenceRequest = {
      kind: 'generate',
      classId: 1,
      count: 1,
      seed: 1,
      sampling: SAMPLING,
    };
    const running = engine.run({ id: 'early', request });
    engine.cancel('early');
    await expect(running).rejects.toMatchObject({ code: 'CANCELLED' });
    // The thread is fine afterwards, and a re-run under the same id inherits nothing.
    expect((await engine.run({ id: 'early', request })).images).toHaveLength(1);
  });
});
