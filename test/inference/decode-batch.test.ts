/**
 * A job's images are decoded in one call only where that gives the pixels of one-image calls
 * (issue 12): measured at open by isDecodeBatchInvariant, and checked here on the shipped model.
 */
import * as ort from 'onnxruntime-node';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GenerateRequest } from '../../src/inference/inference-engine.js';
import { loadModel } from '../../src/inference/model/model-loader.js';
import type { ModelInfo } from '../../src/inference/model/model-manifest.js';
import {
  MAX_DECODE_IMAGES,
  openPipeline,
  type OpenedPipeline,
} from '../../src/inference/ort/open-pipeline.js';
import { isDecodeBatchInvariant } from '../../src/inference/ort/row-invariance.js';
import { decodeImages, type ImageCodes } from '../../src/inference/pipeline/decode-images.js';
import { tokenLayout } from '../../src/inference/pipeline/token-layout.js';
import { randomCodes as seededCodes } from '../support/random-codes.js';

const EMOJI = resolve('models/hita-tiny-emoji');

let model: ModelInfo;
let decode: ort.InferenceSession;
const opened: OpenedPipeline[] = [];

beforeAll(async () => {
  model = await loadModel(EMOJI);
  decode = await ort.InferenceSession.create(model.graphPath('decode'), {
    executionProviders: ['cpu'],
    intraOpNumThreads: 2,
  });
});
afterAll(async () => {
  for (const { pipeline } of opened.splice(0)) await pipeline.close();
  await decode.release();
});

function randomCodes(count: number, set: number): ImageCodes[] {
  return seededCodes(
    tokenLayout(model.manifest),
    model.manifest.tokenizer.codebookSize,
    count,
    set,
  );
}

describe('decoding several images in one call (hita-tiny-emoji, this machine)', () => {
  it('gives byte for byte the pixels of one-image calls, and the probe says so', async () => {
    const layout = tokenLayout(model.manifest);
    for (const set of [0, 1, 2]) {
      const codes = randomCodes(MAX_DECODE_IMAGES, set);
      const together = await decodeImages(decode, layout, codes);
      for (const [i, image] of codes.entries()) {
        const [alone] = await decodeImages(decode, layout, [image]);
        expect(Buffer.from(together[i]!.data).equals(alone!.data), `set ${set}, image ${i}`).toBe(
          true,
        );
      }
    }
    expect(await isDecodeBatchInvariant(decode, model.manifest)).toBe(true);
  });

  it('the probe fails where a batched call differs in one value', async () => {
    // The real session, with one output value nudged whenever a call holds several images.
    const differing = {
      run: async (feeds: Record<string, ort.Tensor>) => {
        const out = await decode.run(feeds);
        const pixels = out.image!.data as Float32Array;
        if (feeds.holistic_ids!.dims[0]! > 1) pixels[5] = pixels[5]! + 0.05;
        return out;
      },
    } as unknown as ort.InferenceSession;
    expect(await isDecodeBatchInvariant(differing, model.manifest)).toBe(false);
  });

  it('a job of several images gives the PNGs of one-image jobs with the same seeds, and stops on cancel', async () => {
    const open = await openPipeline(model, { providers: ['cpu'], threads: 2 });
    opened.push(open);
    expect(open.maxDecodeImages).toBe(MAX_DECODE_IMAGES);
    const sampling = { cfgScale: 1.5, temperature: 1, topK: 0, topP: 1 };
    const generate = (seed: number, count: number): GenerateRequest => ({
      kind: 'generate',
      classId: 2,
      seed,
      count,
      sampling,
    });
    // Cancelled at its first decode progress, a job decoding its images in one call stops.
    const cancelled = open.pipeline.run('cancelled', generate(40, 3), (progress) => {
      if (progress.phase === 'decode') open.pipeline.cancel('cancelled');
    });
    await expect(cancelled).rejects.toMatchObject({ code: 'CANCELLED' });
    const together = await open.pipeline.run('together', generate(40, 3));
    for (const [i, image] of together.entries()) {
      const [alone] = await open.pipeline.run(`alone-${i}`, generate(40 + i, 1));
      expect(image.seed).toBe(40 + i);
      expect(Buffer.compare(image.png, alone!.png), `image ${i}`).toBe(0);
    }
  });
});
