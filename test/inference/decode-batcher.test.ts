/**
 * Final images of different jobs share decode calls (DecodeBatcher, issue 12), on the real decode
 * graph of hita-tiny-emoji: which requests go together, that each gets bitwise the pixels of
 * one-image calls, and that one bad or cancelled request fails only itself.
 */
import * as ort from 'onnxruntime-node';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel } from '../../src/inference/model/model-loader.js';
import type { ModelInfo } from '../../src/inference/model/model-manifest.js';
import { DecodeBatcher } from '../../src/inference/pipeline/decode-batcher.js';
import { decodeImages, type ImageCodes } from '../../src/inference/pipeline/decode-images.js';
import type { RgbImage } from '../../src/inference/pipeline/image-codec.js';
import { tokenLayout, type TokenLayout } from '../../src/inference/pipeline/token-layout.js';
import { randomCodes as seededCodes } from '../support/random-codes.js';

let model: ModelInfo;
let layout: TokenLayout;
let session: ort.InferenceSession;

beforeAll(async () => {
  model = await loadModel(resolve('models/hita-tiny-emoji'));
  layout = tokenLayout(model.manifest);
  session = await ort.InferenceSession.create(model.graphPath('decode'), {
    executionProviders: ['cpu'],
    intraOpNumThreads: 2,
  });
});
afterAll(() => session.release());

/** Seeded ids, other images than decode-batch.test.ts's (its sets start at 0). */
function randomCodes(count: number, set: number): ImageCodes[] {
  return seededCodes(layout, model.manifest.tokenizer.codebookSize, count, set + 6);
}

/** A batcher over the real decode graph that records how many images each call held. */
function batcher(maxImages: number) {
  const calls: number[] = [];
  const decoder = new DecodeBatcher({
    maxImages,
    decode: (codes) => {
      calls.push(codes.length);
      return decodeImages(session, layout, codes);
    },
  });
  return { decoder, calls };
}

/** Each image against its decode in a call of its own, byte for byte. */
async function expectAlone(codes: readonly ImageCodes[], images: RgbImage[], label: string) {
  expect(images).toHaveLength(codes.length);
  for (const [i, image] of codes.entries()) {
    const [alone] = await decodeImages(session, layout, [image]);
    expect(Buffer.from(images[i]!.data).equals(alone!.data), `${label}, image ${i}`).toBe(true);
  }
}

describe('DecodeBatcher (hita-tiny-emoji decode graph)', () => {
  it('packs requests of one turn into calls of at most maxImages, whole and in order', async () => {
    const { decoder, calls } = batcher(8);
    const jobs = [1, 3, 2, 4, 1].map((count, set) => randomCodes(count, set));
    const results = await Promise.all(jobs.map((codes) => decoder.decode(codes)));
    // 1 + 3 + 2 fill 6 of 8; the job of 4 would overflow, so it opens the next call.
    expect(calls).toEqual([6, 5]);
    for (const [j, codes] of jobs.entries()) await expectAlone(codes, results[j]!, `job ${j}`);
  });

  it('requests made while a call is in flight go together into the next one', async () => {
    const { decoder, calls } = batcher(8);
    const first = decoder.decode(randomCodes(1, 10));
    // Wait until the first call has started, then ask for two more.
    while (calls.length === 0) await new Promise<void>((done) => setImmediate(done));
    const later = [randomCodes(2, 11), randomCodes(1, 12)];
    const results = await Promise.all([first, ...later.map((codes) => decoder.decode(codes))]);
    expect(calls).toEqual([1, 3]);
    for (const [j, codes] of later.entries())
      await expectAlone(codes, results[j + 1]!, `late ${j}`);
  });

  it('a request of more images than maxImages takes a call of its own', async () => {
    const { decoder, calls } = batcher(2);
    const jobs = [randomCodes(1, 20), randomCodes(3, 21), randomCodes(1, 22)];
    const results = await Promise.all(jobs.map((codes) => decoder.decode(codes)));
    expect(calls).toEqual([1, 3, 1]);
    for (const [j, codes] of jobs.entries()) await expectAlone(codes, results[j]!, `job ${j}`);
  });

  it('a request with ids outside the codebook fails alone; the others of its call decode', async () => {
    const { decoder, calls } = batcher(8);
    const [valid] = randomCodes(1, 30);
    const patch = Array.from(valid!.patch);
    patch[5] = model.manifest.tokenizer.codebookSize + 5;
    const bad = [{ holistic: valid!.holistic, patch }];
    const good = [randomCodes(2, 31), randomCodes(1, 32)];
    const outcomes = await Promise.allSettled([
      decoder.decode(good[0]!),
      decoder.decode(bad),
      decoder.decode(good[1]!),
    ]);
    // The shared call fails on the bad ids; each request then goes again alone.
    expect(calls).toEqual([4, 2, 1, 1]);
    expect(outcomes[1]).toMatchObject({ status: 'rejected' });
    expect(String((outcomes[1] as PromiseRejectedResult).reason)).toMatch(/out of data bounds/);
    for (const [j, index] of [0, 2].entries()) {
      const outcome = outcomes[index]!;
      expect(outcome.status).toBe('fulfilled');
      await expectAlone(
        good[j]!,
        (outcome as PromiseFulfilledResult<RgbImage[]>).value,
        `good ${j}`,
      );
    }
  });

  it('a request aborted while it waits is left out of the call with its signal reason', async () => {
    const { decoder, calls } = batcher(8);
    const controller = new AbortController();
    const kept = randomCodes(2, 40);
    const dropped = decoder.decode(randomCodes(3, 41), controller.signal);
    const decoded = decoder.decode(kept);
    controller.abort(new Error('job c1 was cancelled'));
    await expect(dropped).rejects.toThrow('job c1 was cancelled');
    await expectAlone(kept, await decoded, 'kept');
    expect(calls).toEqual([2]);
    // Aborted before it is asked: nothing is decoded.
    await expect(decoder.decode(kept, controller.signal)).rejects.toThrow('cancelled');
    expect(calls).toEqual([2]);
  });

  it('at maxImages 1 every request is decoded in a call of its own', async () => {
    const { decoder, calls } = batcher(1);
    const jobs = [randomCodes(1, 50), randomCodes(1, 51), randomCodes(2, 52)];
    const results = await Promise.all(jobs.map((codes) => decoder.decode(codes)));
    expect(calls).toEqual([1, 1, 2]);
    for (const [j, codes] of jobs.entries()) await expectAlone(codes, results[j]!, `job ${j}`);
  });
});
