/**
 * Each GPT precision of the shipped model is deterministic per seed whatever shares the batch:
 * a CFG image and a one-row image (cfgScale 1, alone in the engine, so its steps are one-row
 * calls) give the same bytes as inside a batch of others. int4 (block 32) on AVX2 has a one-row
 * kernel of its own, so this holds there only because the probe turns lone-row padding on.
 */
import * as ort from 'onnxruntime-node';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { GenerateRequest } from '../../src/inference/inference-engine.js';
import { loadModel } from '../../src/inference/model/model-loader.js';
import type { ModelInfo } from '../../src/inference/model/model-manifest.js';
import { BatchingEngine } from '../../src/inference/pipeline/batching-engine.js';
import { FREE } from '../../src/inference/pipeline/token-layout.js';
import type { SamplingParams } from '../../src/jobs/sampling-params.js';
import { pipelineOpener } from '../support/precision-pipelines.js';
import { recordingRows } from '../support/recording-session.js';

const EMOJI = resolve('models/hita-tiny-emoji');
const RANDOM = resolve('models/hita-tiny-random');
const CFG: SamplingParams = { cfgScale: 2, temperature: 1, topK: 0, topP: 1 };
const NO_CFG: SamplingParams = { cfgScale: 1, temperature: 1, topK: 0, topP: 1 };

function generate(classId: number, seed: number, sampling: SamplingParams, count = 1) {
  return { kind: 'generate', classId, seed, count, sampling } satisfies GenerateRequest;
}

let emoji: ModelInfo;
const open = pipelineOpener();

beforeAll(async () => {
  emoji = await loadModel(EMOJI);
});

describe('GPT precisions of hita-tiny-emoji', () => {
  it('lists fp32, int8 and int4', () => {
    expect(emoji.gptPrecisions).toEqual(['fp32', 'int8', 'int4']);
  });

  it.each(['fp32', 'int8', 'int4'] as const)(
    '%s: the same seed gives the same bytes alone and in a batch, one-row images included',
    async (precision) => {
      const alone = await open(emoji, precision);
      expect(alone.precision).toBe(precision);
      const cfgAlone = await alone.pipeline.run('cfg', generate(3, 42, CFG));
      const rowAlone = await alone.pipeline.run('row', generate(5, 77, NO_CFG));
      const batch = (await open(emoji, precision)).pipeline;
      const [, cfgInBatch, rowInBatch] = await Promise.all([
        batch.run('b', generate(7, 1, CFG, 2)),
        batch.run('c', generate(3, 42, CFG)),
        batch.run('d', generate(5, 77, NO_CFG)),
        batch.run('e', generate(0, 5, { cfgScale: 1, temperature: 0.7, topK: 50, topP: 0.9 }, 2)),
      ]);
      expect(cfgInBatch![0]!.patchIds).toEqual(cfgAlone[0]!.patchIds);
      expect(Buffer.compare(cfgInBatch![0]!.png, cfgAlone[0]!.png)).toBe(0);
      expect(rowInBatch![0]!.holisticIds).toEqual(rowAlone[0]!.holisticIds);
      expect(rowInBatch![0]!.patchIds).toEqual(rowAlone[0]!.patchIds);
      expect(Buffer.compare(rowInBatch![0]!.png, rowAlone[0]!.png)).toBe(0);
    },
    120_000,
  );

  it('a model without the precision asked for runs fp32', async () => {
    const random = await loadModel(RANDOM);
    expect((await open(random, 'int4')).precision).toBe('fp32');
  });
});

describe('padding lone rows (BatchingEngine padLoneRows)', () => {
  it('feeds a one-row step as two rows and keeps the row’s tokens (fp32: invariant anyway)', async () => {
    const session = await ort.InferenceSession.create(join(EMOJI, 'gpt.onnx'), {
      executionProviders: ['cpu'],
    });
    const { gpt, tokenizer } = emoji.manifest;
    const positions = tokenizer.numHolistic + tokenizer.numPatch;
    const engineWith = (padLoneRows: boolean, rows: number[]) =>
      new BatchingEngine({
        session: recordingRows(session, rows),
        kv: { layers: gpt.numLayers, heads: gpt.numHeads, headDim: gpt.headDim, positions },
        vocabSize: gpt.vocabSize,
        nullClassId: gpt.nullClassId,
        padLoneRows,
      });
    const job = {
      id: 'j',
      sequences: [
        { classId: 2, seed: 9, sampling: NO_CFG, forced: new Int32Array(positions).fill(FREE) },
      ],
    };
    const plainRows: number[] = [];
    const paddedRows: number[] = [];
    const [plain] = await engineWith(false, plainRows).submit(job);
    const [padded] = await engineWith(true, paddedRows).submit(job);
    expect(new Set(plainRows)).toEqual(new Set([1]));
    expect(new Set(paddedRows)).toEqual(new Set([2]));
    expect(Array.from(padded!)).toEqual(Array.from(plain!));
    await session.release();
  }, 60_000);
});
