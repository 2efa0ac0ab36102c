import { beforeAll, describe, expect, it } from 'vitest';
import type { InferenceRequest } from '../../src/inference/inference-engine.js';
import type { HitaPipeline } from '../../src/inference/pipeline/hita-pipeline.js';
import { readImage } from '../../src/inference/pipeline/image-codec.js';
import {
  FREE,
  inpaintForcedTokens,
  maskedCells,
  tokenLayout,
} from '../../src/inference/pipeline/token-layout.js';
import { gradientPng, maskPng, rawRgb } from '../support/images.js';
import { openTinyModel, tinyPipeline, type TinyModel } from '../support/tiny-pipeline.js';

const SAMPLING = { cfgScale: 1.5, temperature: 1, topK: 0, topP: 1 };

describe('in-painting and style transfer on the tiny model', () => {
  let model: TinyModel;
  let pipeline: HitaPipeline;
  let image: Buffer;
  let lowerHalf: Buffer;

  beforeAll(async () => {
    model = await openTinyModel();
    pipeline = tinyPipeline(model);
    image = await gradientPng(48, 40);
    lowerHalf = await maskPng(48, 40, (_, y) => y >= 20);
  });

  async function encodeBytes(bytes: Buffer) {
    const rgb = await readImage(bytes, model.manifest.imageSize, 'image');
    const [codes] = await pipeline.encode(model.encode, [rgb]);
    return codes!;
  }

  it('keeps every forced token exactly and regenerates only masked cells', async () => {
    const codes = await encodeBytes(image);
    const layout = tokenLayout(model.manifest);
    const mask = new Uint8Array(layout.imageSize ** 2);
    mask.fill(1, (layout.imageSize / 2) * layout.imageSize);
    const forced = inpaintForcedTokens(
      layout,
      codes.holistic,
      codes.patch,
      maskedCells(layout, mask),
      true,
    );
    const free = [...forced].filter((t) => t === FREE).length;
    expect(free).toBeGreaterThan(0);
    expect(free).toBeLessThan(layout.numPatch);
    const results = await pipeline.run('inpaint', {
      kind: 'inpaint',
      image,
      mask: lowerHalf,
      classId: 2,
      count: 2,
      seed: 11,
      sampling: SAMPLING,
    });
    for (const result of results) {
      const tokens = [...result.holisticIds, ...result.patchIds];
      forced.forEach((token, i) => {
        if (token !== FREE) expect(tokens[i], `token ${i}`).toBe(token);
      });
    }
    expect(results[0]!.patchIds).not.toEqual(results[1]!.patchIds);
  });

  it('pastes the original pixels back outside the mask', async () => {
    const [result] = await pipeline.run('composite', {
      kind: 'inpaint',
      image,
      mask: lowerHalf,
      count: 1,
      seed: 3,
      sampling: SAMPLING,
    });
    const size = model.manifest.imageSize;
    const original = (await readImage(image, size, 'image')).data;
    const out = await rawRgb(result!.png);
    const mask = new Uint8Array(size * size);
    mask.fill(1, (size / 2) * size);
    for (let i = 0; i < size * size; i++) {
      if (!mask[i])
        expect(out.subarray(i * 3, i * 3 + 3)).toEqual(
          Buffer.from(original.subarray(i * 3, i * 3 + 3)),
        );
    }
  });

  it('swap mode gives exactly the style holistic tokens with the content patch tokens', async () => {
    const style = await gradientPng(32, 64);
    const [content, styleCodes] = [await encodeBytes(image), await encodeBytes(style)];
    const [result] = await pipeline.run('swap', {
      kind: 'style',
      content: image,
      style,
      mode: 'swap',
      count: 1,
      seed: 0,
      sampling: SAMPLING,
    });
    expect(result!.holisticIds).toEqual([...styleCodes.holistic]);
    expect(result!.patchIds).toEqual([...content.patch]);
    const decoded = await pipeline.decodeToRgb(styleCodes.holistic, content.patch);
    expect(await rawRgb(result!.png)).toEqual(Buffer.from(decoded.data));
  });

  it('regenerate mode keeps the style prefix and the strength share of content patches', async () => {
    const style = await gradientPng(64, 64);
    const [content, styleCodes] = [await encodeBytes(image), await encodeBytes(style)];
    const [result] = await pipeline.run('regen', {
      kind: 'style',
      content: image,
      style,
      mode: 'regenerate',
      strength: 0.75,
      count: 1,
      seed: 4,
      sampling: SAMPLING,
    });
    expect(result!.holisticIds).toEqual([...styleCodes.holistic]);
    const kept = Math.round(0.25 * model.manifest.tokenizer.numPatch);
    expect(result!.patchIds.slice(0, kept)).toEqual([...content.patch.subarray(0, kept)]);
  });

  // Rules that validateJobRequest checks before a request gets here are assertions in the engine
  // (INTERNAL_SERVER_ERROR); what only the bytes can tell stays BAD_USER_INPUT.
  const bad: [string, () => Promise<InferenceRequest>, string, string][] = [
    [
      'an unknown class',
      async () => ({ kind: 'generate', classId: 10, count: 1, seed: 1, sampling: SAMPLING }),
      'classId',
      'INTERNAL_SERVER_ERROR',
    ],
    [
      'a zero count',
      async () => ({ kind: 'generate', classId: 1, count: 0, seed: 1, sampling: SAMPLING }),
      'count',
      'INTERNAL_SERVER_ERROR',
    ],
    [
      'a negative seed',
      async () => ({ kind: 'generate', classId: 1, count: 1, seed: -1, sampling: SAMPLING }),
      'seed',
      'INTERNAL_SERVER_ERROR',
    ],
    [
      'an infinite cfg',
      async () => ({
        kind: 'generate',
        classId: 1,
        count: 1,
        seed: 1,
        sampling: { ...SAMPLING, cfgScale: Infinity },
      }),
      'cfgScale',
      'INTERNAL_SERVER_ERROR',
    ],
    [
      'top-p above 1',
      async () => ({
        kind: 'generate',
        classId: 1,
        count: 1,
        seed: 1,
        sampling: { ...SAMPLING, topP: 1.5 },
      }),
      'topP',
      'INTERNAL_SERVER_ERROR',
    ],
    [
      'an unreadable image',
      async () => ({
        kind: 'inpaint',
        image: Buffer.from('not an image'),
        mask: await maskPng(48, 40, () => true),
        count: 1,
        seed: 1,
        sampling: SAMPLING,
      }),
      'image',
      'BAD_USER_INPUT',
    ],
    [
      'a mask of the wrong size',
      async () => ({
        kind: 'inpaint',
        image: await gradientPng(48, 40),
        mask: await maskPng(40, 40, () => true),
        count: 1,
        seed: 1,
        sampling: SAMPLING,
      }),
      'mask',
      'INTERNAL_SERVER_ERROR',
    ],
    [
      'an empty mask',
      async () => ({
        kind: 'inpaint',
        image: await gradientPng(48, 40),
        mask: await maskPng(48, 40, () => false),
        count: 1,
        seed: 1,
        sampling: SAMPLING,
      }),
      'mask',
      'BAD_USER_INPUT',
    ],
    [
      'a strength above 1',
      async () => ({
        kind: 'style',
        content: await gradientPng(),
        style: await gradientPng(),
        mode: 'regenerate',
        strength: 2,
        count: 1,
        seed: 1,
        sampling: SAMPLING,
      }),
      'strength',
      'INTERNAL_SERVER_ERROR',
    ],
    [
      'two swap images',
      async () => ({
        kind: 'style',
        content: await gradientPng(),
        style: await gradientPng(),
        mode: 'swap',
        count: 2,
        seed: 1,
        sampling: SAMPLING,
      }),
      'count',
      'INTERNAL_SERVER_ERROR',
    ],
  ];
  it.each(bad)('rejects %s with a typed error naming the field', async (_, build, field, code) => {
    await expect(pipeline.run('bad', await build())).rejects.toMatchObject({
      code,
      details: { field },
    });
  });
});
