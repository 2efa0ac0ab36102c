/**
 * Speculative decoding against AR on hita-tiny-emoji at its default sampling (issue 12: cfg 1.5,
 * temperature 1, top-k 0, top-p 1). Run with `HITA_BENCH=1 npx vitest run bench/speculative.bench.ts`.
 * - GPT calls per image and the acceptance rate, for each draft length k, one image at a time;
 * - seconds per image at batch 1 and batch 8, AR and speculative side by side in one run
 *   (interleaved repeats, so a noisy neighbour slows both alike).
 *
 * HITA_BENCH_DRAFTS lists the k to measure (default 2,3,4,6,8); HITA_BENCH_IMAGES the images per
 * figure (default 36: 4 per class); HITA_BENCH_PRECISION the GPT graph (default fp32).
 */
import { cpus } from 'node:os';
import { it } from 'vitest';
import type { GenerateRequest } from '../src/inference/inference-engine.js';
import { loadModel } from '../src/inference/model/model-loader.js';
import type { GptPrecision, ModelInfo } from '../src/inference/model/model-manifest.js';
import * as ort from 'onnxruntime-node';
import { createSession } from '../src/inference/ort/execution-providers.js';
import { openPipeline } from '../src/inference/ort/open-pipeline.js';
import { processedDistribution } from '../src/inference/sampling/sampler.js';
import type { HitaPipeline } from '../src/inference/pipeline/hita-pipeline.js';
import type { Decoding } from '../src/jobs/decoding.js';
import { record, timed } from './support.js';

const MODEL_DIR = process.env.HITA_BENCH_MODEL ?? 'models/hita-tiny-emoji';
const THREADS = Number(process.env.HITA_BENCH_THREADS ?? cpus().length);
const DRAFTS = (process.env.HITA_BENCH_DRAFTS ?? '2,3,4,6,8').split(',').map(Number);
const IMAGES = Number(process.env.HITA_BENCH_IMAGES ?? 36);
const PRECISION = (process.env.HITA_BENCH_PRECISION ?? 'fp32') as GptPrecision;
const REPEATS = Number(process.env.HITA_BENCH_REPEATS ?? 3);

async function open(model: ModelInfo, draftLength?: number): Promise<HitaPipeline> {
  const opened = await openPipeline(model, {
    providers: ['cpu'],
    precision: PRECISION,
    threads: THREADS,
    ...(draftLength === undefined ? {} : { draftLength }),
  });
  return opened.pipeline;
}

function openSession(path: string, threads: number) {
  return createSession(path, { providers: ['cpu'], intraOpNumThreads: threads });
}

function request(model: ModelInfo, i: number, count: number, decoding: Decoding): GenerateRequest {
  const classes = model.manifest.gpt.numClasses;
  return {
    kind: 'generate',
    classId: i % classes,
    seed: 1000 + i,
    count,
    sampling: model.manifest.sampling,
    decoding,
  };
}

/** Calls and drafts of `images` images run one at a time. */
async function callsPerImage(model: ModelInfo, pipeline: HitaPipeline, decoding: Decoding) {
  const before = pipeline.engine.stats;
  for (let i = 0; i < IMAGES; i++) await pipeline.run(`c${i}`, request(model, i, 1, decoding));
  const after = pipeline.engine.stats;
  const tested = after.draftsTested - before.draftsTested;
  const accepted = after.draftsAccepted - before.draftsAccepted;
  return {
    callsPerImage: (after.steps - before.steps) / IMAGES,
    acceptance: tested === 0 ? null : accepted / tested,
    acceptedPerImage: accepted / IMAGES,
  };
}

it('speculative decoding: GPT calls per image and acceptance rate by draft length', async () => {
  const model = await loadModel(MODEL_DIR);
  const length = model.manifest.tokenizer.numHolistic + model.manifest.tokenizer.numPatch;
  const arPipeline = await open(model);
  const ar = await callsPerImage(model, arPipeline, 'ar');
  record('speculative', {
    figure: 'calls',
    model: model.id,
    decoding: 'ar',
    images: IMAGES,
    ...ar,
  });
  record('speculative', {
    figure: 'spread',
    model: model.id,
    ...(await spread(model, arPipeline)),
  });
  await arPipeline.close();
  for (const k of DRAFTS) {
    const pipeline = await open(model, k);
    const spec = await callsPerImage(model, pipeline, 'speculative');
    record('speculative', {
      figure: 'calls',
      model: model.id,
      precision: PRECISION,
      decoding: 'speculative',
      draftLength: k,
      images: IMAGES,
      ...spec,
      tokensPerCall: length / spec.callsPerImage,
      fewerCallsThanAr: ar.callsPerImage / spec.callsPerImage,
    });
    await pipeline.close();
  }
});

/**
 * Why drafts are rejected: the entropy and top-1 mass of the processed distributions (CFG at the
 * default scale) over AR images, teacher-forced in one call each. A draft from a distribution q
 * passes with probability Σ min(p, q), which broad distributions keep low even when q is close.
 */
async function spread(model: ModelInfo, pipeline: HitaPipeline) {
  const { gpt } = model.manifest;
  const length = model.manifest.tokenizer.numHolistic + model.manifest.tokenizer.numPatch;
  const session = (await openSession(model.gptPath(PRECISION), THREADS)).session;
  let entropy = 0;
  let top1 = 0;
  let positions = 0;
  const dist = new Float64Array(gpt.vocabSize);
  const scratch = new Float32Array(gpt.vocabSize);
  for (let i = 0; i < 9; i++) {
    const [image] = await pipeline.run(`s${i}`, request(model, i, 1, 'ar'));
    const tokens = [...image!.holisticIds, ...image!.patchIds];
    const rows = [i % gpt.numClasses, gpt.nullClassId].map((c) => [c, ...tokens.slice(0, -1)]);
    const out = await session.run(prefillFeeds(model, rows));
    const logits = out.logits!.data as Float32Array;
    const at = (b: number, t: number) =>
      logits.subarray((b * length + t) * gpt.vocabSize, (b * length + t + 1) * gpt.vocabSize);
    for (let t = 0; t < length; t++) {
      processedDistribution(at(0, t), at(1, t), model.manifest.sampling, scratch, dist);
      let h = 0;
      let max = 0;
      for (const q of dist) {
        if (q > 0) h -= q * Math.log(q);
        if (q > max) max = q;
      }
      entropy += h;
      top1 += max;
      positions++;
    }
  }
  await session.release();
  return {
    meanEntropyNats: entropy / positions,
    perplexity: Math.exp(entropy / positions),
    meanTop1: top1 / positions,
  };
}

/**
 * What a verification call costs against an AR call, at official size (HITA_BENCH_OFFICIAL: a
 * hita-v + gpt-b model directory, random weights, made by tools/export.py into a cache): one
 * call of T = 1, 5 and 9 positions per row over a full cache, each precision, side by side. A
 * memory-bound step reads the weights once whatever T is, so T = k + 1 costs little more; the
 * tokens per call measured on the emoji model then say what speculative decoding would gain
 * (random weights say nothing about acceptance).
 */
it('speculative decoding: call cost by positions per row at official size', async () => {
  const dir = process.env.HITA_BENCH_OFFICIAL;
  if (!dir) return console.info('HITA_BENCH_OFFICIAL is not set: no official-size figure');
  const model = await loadModel(dir);
  const { numLayers, numHeads, headDim, maxPositions } = model.manifest.gpt;
  for (const precision of model.gptPrecisions) {
    const { session } = await openSession(model.gptPath(precision), THREADS);
    for (const rows of [2, 8]) {
      const past = new Float32Array(rows * numHeads * maxPositions * headDim).fill(0.01);
      const ms: Record<string, number> = {};
      for (const t of [1, 5, 9]) {
        const feeds: Record<string, ort.Tensor> = {
          input_ids: new ort.Tensor('int64', new BigInt64Array(rows * t).fill(1n), [rows, t]),
          position_ids: new ort.Tensor('int64', new BigInt64Array(rows * t).fill(300n), [rows, t]),
          attention_mask: new ort.Tensor(
            'bool',
            new Uint8Array(rows * (maxPositions + t)).fill(1),
            [rows, maxPositions + t],
          ),
        };
        for (let l = 0; l < numLayers; l++) {
          for (const kind of ['key', 'value']) {
            feeds[`past_${kind}_${l}`] = new ort.Tensor('float32', past, [
              rows,
              numHeads,
              maxPositions,
              headDim,
            ]);
          }
        }
        await session.run(feeds);
        const { seconds } = await timed(async () => {
          for (let r = 0; r < REPEATS; r++) await session.run(feeds);
        });
        ms[`t${t}Ms`] = (1000 * seconds) / REPEATS;
      }
      record('speculative', {
        figure: 'call-cost',
        model: model.id,
        precision,
        rows,
        ...ms,
        t5OverT1: ms.t5Ms! / ms.t1Ms!,
        t9OverT1: ms.t9Ms! / ms.t1Ms!,
      });
    }
    await session.release();
  }
});

function prefillFeeds(model: ModelInfo, rows: number[][]): Record<string, ort.Tensor> {
  const { numLayers, numHeads, headDim } = model.manifest.gpt;
  const t = rows[0]!.length;
  const feeds: Record<string, ort.Tensor> = {
    input_ids: new ort.Tensor('int64', BigInt64Array.from(rows.flat(), BigInt), [rows.length, t]),
    position_ids: new ort.Tensor(
      'int64',
      BigInt64Array.from(rows.flatMap((row) => row.map((_, p) => BigInt(p)))),
      [rows.length, t],
    ),
    attention_mask: new ort.Tensor('bool', new Uint8Array(rows.length * t).fill(1), [
      rows.length,
      t,
    ]),
  };
  for (let l = 0; l < numLayers; l++) {
    for (const kind of ['key', 'value']) {
      feeds[`past_${kind}_${l}`] = new ort.Tensor('float32', new Float32Array(0), [
        rows.length,
        numHeads,
        0,
        headDim,
      ]);
    }
  }
  return feeds;
}

it('speculative decoding: seconds per image at batch 1 and 8, against AR in one run', async () => {
  const model = await loadModel(MODEL_DIR);
  const k = Number(process.env.HITA_BENCH_DRAFT ?? 4);
  const pipeline = await open(model, k);
  for (const batch of [1, 8]) {
    const seconds: Record<Decoding, number> = { ar: 0, speculative: 0 };
    const jobs = batch === 1 ? 8 : 2;
    for (const decoding of ['ar', 'speculative'] as const) {
      await pipeline.run(`warm-${decoding}`, request(model, 0, batch, decoding));
    }
    for (let r = 0; r < REPEATS; r++) {
      for (const decoding of ['ar', 'speculative'] as const) {
        const { seconds: s } = await timed(async () => {
          for (let j = 0; j < jobs; j++) {
            await pipeline.run(`${decoding}-${r}-${j}`, request(model, j * 8, batch, decoding));
          }
        });
        seconds[decoding] += s;
      }
    }
    const images = REPEATS * jobs * batch;
    record('speculative', {
      figure: 'seconds',
      model: model.id,
      precision: PRECISION,
      draftLength: k,
      batch,
      images,
      arSecondsPerImage: seconds.ar / images,
      speculativeSecondsPerImage: seconds.speculative / images,
      speedup: seconds.ar / seconds.speculative,
    });
  }
  await pipeline.close();
});
