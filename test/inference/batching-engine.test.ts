import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import type { SamplingParams } from '../../src/jobs/sampling-params.js';
import type { GenerateRequest } from '../../src/inference/inference-engine.js';
import { openTinyModel, tinyPipeline, type TinyModel } from '../support/tiny-pipeline.js';
import { recordingRows } from '../support/recording-session.js';

const SAMPLE: SamplingParams = { cfgScale: 2, temperature: 1, topK: 0, topP: 1 };

function generate(classId: number, seed: number, count = 1, sampling = SAMPLE): GenerateRequest {
  return { kind: 'generate', classId, seed, count, sampling };
}

/** An independent greedy decoder: the whole prefix re-fed each step, no cache, no batching. */
async function greedyReference(model: TinyModel, classId: number): Promise<number[]> {
  const length = model.manifest.tokenizer.numHolistic + model.manifest.tokenizer.numPatch;
  const { numLayers, numHeads, headDim, vocabSize } = model.manifest.gpt;
  const tokens: number[] = [];
  for (let p = 0; p < length; p++) {
    const ids = [classId, ...tokens];
    const feeds: Record<string, ort.Tensor> = {
      input_ids: new ort.Tensor('int64', BigInt64Array.from(ids.map(BigInt)), [1, ids.length]),
      position_ids: new ort.Tensor('int64', BigInt64Array.from(ids.map((_, i) => BigInt(i))), [
        1,
        ids.length,
      ]),
      attention_mask: new ort.Tensor('bool', new Uint8Array(ids.length).fill(1), [1, ids.length]),
    };
    for (let l = 0; l < numLayers; l++) {
      for (const kind of ['key', 'value']) {
        feeds[`past_${kind}_${l}`] = new ort.Tensor('float32', new Float32Array(0), [
          1,
          numHeads,
          0,
          headDim,
        ]);
      }
    }
    const logits = (await model.gpt.run(feeds)).logits!.data as Float32Array;
    const last = logits.subarray((ids.length - 1) * vocabSize, ids.length * vocabSize);
    let best = 0;
    for (let v = 1; v < vocabSize; v++) if (last[v]! > last[best]!) best = v;
    tokens.push(best);
  }
  return tokens;
}

describe('batching engine on the tiny model', () => {
  let model: TinyModel;
  beforeAll(async () => {
    model = await openTinyModel();
  });

  it('gives byte-identical PNGs for a seed alone and inside any batch', async () => {
    const alone = await tinyPipeline(model).run('a', generate(3, 42));
    const pipeline = tinyPipeline(model);
    const mixed = await Promise.all([
      pipeline.run('b', generate(7, 1, 3)),
      pipeline.run('c', generate(3, 42)),
      pipeline.run('d', generate(0, 5, 2, { cfgScale: 1, temperature: 0.7, topK: 50, topP: 0.9 })),
    ]);
    expect(mixed[1]![0]!.patchIds).toEqual(alone[0]!.patchIds);
    expect(mixed[1]![0]!.holisticIds).toEqual(alone[0]!.holisticIds);
    expect(Buffer.compare(mixed[1]![0]!.png, alone[0]!.png)).toBe(0);
    // A smaller batch cap changes every composition; the image may not change.
    const narrow = tinyPipeline(model, 4);
    const [, squeezed] = await Promise.all([
      narrow.run('e', generate(9, 9, 2)),
      narrow.run('f', generate(3, 42)),
    ]);
    expect(Buffer.compare(squeezed![0]!.png, alone[0]!.png)).toBe(0);
  });

  it('image i of a job uses seed + i', async () => {
    const pipeline = tinyPipeline(model);
    const [batch, single] = await Promise.all([
      pipeline.run('g', generate(2, 100, 3)),
      pipeline.run('h', generate(2, 102)),
    ]);
    expect(batch.map((image) => image.seed)).toEqual([100, 101, 102]);
    expect(batch[2]!.patchIds).toEqual(single[0]!.patchIds);
    expect(batch[0]!.patchIds).not.toEqual(batch[1]!.patchIds);
  });

  it('top-k 1 equals the argmax and CFG 1.0 runs no unconditional rows', async () => {
    const rows: number[] = [];
    const pipeline = tinyPipeline({ ...model, gpt: recordingRows(model.gpt, rows) });
    const [image] = await pipeline.run(
      'greedy',
      generate(4, 7, 1, { cfgScale: 1, temperature: 1, topK: 1, topP: 1 }),
    );
    const reference = await greedyReference(model, 4);
    expect([...image!.holisticIds, ...image!.patchIds]).toEqual(reference);
    expect(new Set(rows)).toEqual(new Set([1]));
    rows.length = 0;
    await pipeline.run(
      'guided',
      generate(4, 7, 1, { cfgScale: 3, temperature: 1, topK: 1, topP: 1 }),
    );
    expect(new Set(rows)).toEqual(new Set([2]));
  });

  it('lets jobs join a running batch and leave it when done', async () => {
    const rows: number[] = [];
    const pipeline = tinyPipeline({ ...model, gpt: recordingRows(model.gpt, rows) });
    const alone = await tinyPipeline(model).run('x', generate(6, 77));
    const first = pipeline.run('long', generate(1, 3, 4));
    await new Promise<void>((resolve) => {
      const poll = () => (pipeline.engine.stats.steps >= 10 ? resolve() : setTimeout(poll, 1));
      poll();
    });
    const late = pipeline.run('late', generate(6, 77));
    const [joined] = await Promise.all([late, first]);
    expect(joined[0]!.patchIds).toEqual(alone[0]!.patchIds);
    expect(pipeline.engine.stats.activeRows).toBe(0);
    // Every GPT call is one step; its batch size says who was in it. CFG gives each image two
    // rows: the long job's 4 images are 8, the late one's is 2.
    const [longRows, lateRows] = [8, 2];
    const joinedAt = rows.indexOf(longRows + lateRows);
    // The long job ran alone for its first ten steps at least, …
    expect(rows.slice(0, 10)).toEqual(new Array<number>(10).fill(longRows));
    // … the late job's rows entered a step while it was mid-run (a join, not a second batch), …
    expect(joinedAt).toBeGreaterThanOrEqual(10);
    expect(rows.slice(0, joinedAt).every((n) => n === longRows)).toBe(true);
    // … both shared every step until the long job left, and the late job finished alone.
    const leftAt = rows.indexOf(lateRows, joinedAt);
    expect(leftAt).toBeGreaterThan(joinedAt);
    expect(rows.slice(joinedAt, leftAt).every((n) => n === longRows + lateRows)).toBe(true);
    expect(rows.slice(leftAt).every((n) => n === lateRows)).toBe(true);
    // The late image took as many steps as it would alone: it joined, it was not restarted.
    expect(rows.length - joinedAt).toBe(alone[0]!.holisticIds.length + alone[0]!.patchIds.length);
  });

  it('cancels between steps, frees the rows and rejects with CANCELLED', async () => {
    const pipeline = tinyPipeline(model);
    const progress: number[] = [];
    const running = pipeline.run('doomed', generate(1, 1, 4), (p) => {
      progress.push(p.step);
      if (progress.length === 5) pipeline.cancel('doomed');
    });
    await expect(running).rejects.toMatchObject({ code: 'CANCELLED' });
    expect(pipeline.engine.stats.activeRows).toBe(0);
    expect(pipeline.engine.stats.queuedSequences).toBe(0);
    const after = await pipeline.run('next', generate(1, 1));
    expect(after).toHaveLength(1);
  });

  it('reports progress through holistic tokens, then patch tokens, then decoding', async () => {
    const phases: string[] = [];
    await tinyPipeline(model).run('p', generate(5, 5), (p) => {
      if (phases.at(-1) !== p.phase) phases.push(p.phase);
    });
    expect(phases).toEqual(['holistic', 'patch', 'decode']);
  });
});
