/**
 * Speculative decoding on the shipped model, for each GPT precision: the same seed gives the same
 * bytes alone and in a batch (beside AR jobs, other speculative jobs and a one-row cfgScale-1
 * image, int4's padding case), and forced tokens (in-painting, style regenerate) are kept as they
 * are. The distribution it samples is checked by the acceptance rule's own tests
 * (src/inference/sampling/speculative-acceptance.test.ts).
 */
import { resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { GenerateRequest, InferenceRequest } from '../../src/inference/inference-engine.js';
import { loadModel } from '../../src/inference/model/model-loader.js';
import type { GptPrecision, ModelInfo } from '../../src/inference/model/model-manifest.js';
import { readImage } from '../../src/inference/pipeline/image-codec.js';
import {
  FREE,
  inpaintForcedTokens,
  maskedCells,
  styleForcedTokens,
  tokenLayout,
} from '../../src/inference/pipeline/token-layout.js';
import type { Decoding } from '../../src/jobs/decoding.js';
import type { SamplingParams } from '../../src/jobs/sampling-params.js';
import { gradientPng, maskPng } from '../support/images.js';
import { pipelineOpener } from '../support/precision-pipelines.js';

const EMOJI = resolve('models/hita-tiny-emoji');
const DEFAULT: SamplingParams = { cfgScale: 1.5, temperature: 1, topK: 0, topP: 1 };
const NO_CFG: SamplingParams = { cfgScale: 1, temperature: 1, topK: 0, topP: 1 };
const SPEC: Decoding = 'speculative';

function generate(
  classId: number,
  seed: number,
  sampling: SamplingParams,
  count = 1,
  decoding: Decoding = SPEC,
): GenerateRequest {
  return { kind: 'generate', classId, seed, count, sampling, decoding };
}

let emoji: ModelInfo;
const opener = pipelineOpener();
const open = (precision: GptPrecision) => opener(emoji, precision);

beforeAll(async () => {
  emoji = await loadModel(EMOJI);
});

describe('speculative decoding of hita-tiny-emoji', () => {
  it.each(['fp32', 'int8', 'int4'] as const)(
    '%s: the same seed gives the same bytes alone and in a batch, one-row images included',
    async (precision) => {
      const alone = await open(precision);
      const cfgAlone = await alone.pipeline.run('cfg', generate(3, 42, DEFAULT));
      const rowAlone = await alone.pipeline.run('row', generate(5, 77, NO_CFG));
      const engine = alone.pipeline.engine.stats;
      // Speculative calls made more than one token each on average.
      expect(engine.steps).toBeLessThan(2 * 80);
      expect(engine.draftsAccepted).toBeGreaterThan(0);
      const batch = (await open(precision)).pipeline;
      const [, cfgInBatch, rowInBatch, , arInBatch] = await Promise.all([
        batch.run('b', generate(7, 1, DEFAULT, 2)),
        batch.run('c', generate(3, 42, DEFAULT)),
        batch.run('d', generate(5, 77, NO_CFG)),
        batch.run('e', generate(0, 5, { cfgScale: 1, temperature: 0.7, topK: 50, topP: 0.9 }, 2)),
        batch.run('f', generate(3, 42, DEFAULT, 1, 'ar')),
      ]);
      expect(cfgInBatch![0]!.patchIds).toEqual(cfgAlone[0]!.patchIds);
      expect(Buffer.compare(cfgInBatch![0]!.png, cfgAlone[0]!.png)).toBe(0);
      expect(rowInBatch![0]!.holisticIds).toEqual(rowAlone[0]!.holisticIds);
      expect(Buffer.compare(rowInBatch![0]!.png, rowAlone[0]!.png)).toBe(0);
      // The AR job beside them is the AR job alone (its own call, T = 1).
      const arAlone = await (
        await open(precision)
      ).pipeline.run('g', generate(3, 42, DEFAULT, 1, 'ar'));
      expect(Buffer.compare(arInBatch![0]!.png, arAlone[0]!.png)).toBe(0);
    },
    180_000,
  );

  it('keeps forced tokens as they are (in-painting and style regenerate)', async () => {
    const { pipeline } = await open('fp32');
    const layout = tokenLayout(emoji.manifest);
    const image = await gradientPng(48, 40);
    const style = await gradientPng(40, 48);
    const lowerHalf = await maskPng(48, 40, (_, y) => y >= 20);
    const [codes, styleCodes] = await pipeline.encode(pipeline.requireEncoder('inpaint'), [
      await readImage(image, layout.imageSize, 'image'),
      await readImage(style, layout.imageSize, 'style'),
    ]);
    const mask = new Uint8Array(layout.imageSize ** 2);
    mask.fill(1, (layout.imageSize / 2) * layout.imageSize);
    const inpaintForced = inpaintForcedTokens(
      layout,
      codes!.holistic,
      codes!.patch,
      maskedCells(layout, mask),
      true,
    );
    const styleForced = styleForcedTokens(layout, styleCodes!.holistic, codes!.patch, 0.5);
    const common = { classId: 2, count: 2, seed: 11, sampling: DEFAULT, decoding: SPEC };
    const requests: [InferenceRequest, Int32Array][] = [
      [{ kind: 'inpaint', image, mask: lowerHalf, ...common }, inpaintForced],
      [{ kind: 'style', content: image, style, mode: 'regenerate', ...common }, styleForced],
    ];
    for (const [request, forced] of requests) {
      const results = await pipeline.run(request.kind, request);
      expect(results).toHaveLength(2);
      for (const result of results) {
        const tokens = [...result.holisticIds, ...result.patchIds];
        forced.forEach((token, i) => {
          if (token !== FREE) expect(tokens[i], `position ${i}`).toBe(token);
        });
      }
      expect(results[0]!.patchIds).not.toEqual(results[1]!.patchIds);
    }
  }, 120_000);
});
