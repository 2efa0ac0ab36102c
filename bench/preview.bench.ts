/**
 * Live previews (issue 14). Run with `npm run bench` (or `HITA_BENCH=1 npx vitest run
 * bench/preview.bench.ts`); figures go to bench/results/preview.jsonl and the README (Previews).
 * - fill: the PSNR of a preview against the final image as patch tokens arrive, for several
 *   fills of the tokens not sampled yet, the fill code chosen on one set of samples and scored on
 *   another; and a flat image of the final's mean colour;
 * - overhead: 16 concurrent single-image jobs (CFG) with and without previews, alternated in one
 *   run, images/s and the ratio;
 * - cost: one preview decode on hita-tiny-emoji, and at official size when
 *   HITA_BENCH_OFFICIAL_MODEL names a hita-v + gpt-b directory (random init is enough: the cost
 *   of a decode does not depend on the weights).
 */
import { cpus, loadavg } from 'node:os';
import { it } from 'vitest';
import sharp from 'sharp';
import type { GenerateRequest, PreviewFrame } from '../src/inference/inference-engine.js';
import { loadModel } from '../src/inference/model/model-loader.js';
import { DECODE_SESSION_OPTIONS, openPipeline } from '../src/inference/ort/open-pipeline.js';
import { createSession } from '../src/inference/ort/execution-providers.js';
import { decodeIds } from '../src/inference/pipeline/decode-ids.js';
import { previewIds } from '../src/inference/pipeline/preview-fill.js';
import { tokenLayout, type TokenLayout } from '../src/inference/pipeline/token-layout.js';
import { meanColourPsnr, psnr } from '../test/support/psnr.js';
import { record, timed } from './support.js';

const MODEL_DIR = process.env.HITA_BENCH_MODEL ?? 'models/hita-tiny-emoji';
const OFFICIAL_DIR = process.env.HITA_BENCH_OFFICIAL_MODEL;
const THREADS = Number(process.env.HITA_BENCH_THREADS ?? cpus().length);
const ROUNDS = Number(process.env.HITA_BENCH_REPEATS ?? 3);
const SAMPLING = { cfgScale: 3, temperature: 1, topK: 0, topP: 1 };

function request(classId: number, seed: number): GenerateRequest {
  return { kind: 'generate', classId, seed, count: 1, sampling: SAMPLING };
}

async function open() {
  const model = await loadModel(MODEL_DIR);
  const opened = await openPipeline(model, { providers: ['cpu'], threads: THREADS });
  const decode = await createSession(model.graphPath('decode'), {
    providers: ['cpu'],
    intraOpNumThreads: THREADS,
    sessionOptions: DECODE_SESSION_OPTIONS,
  });
  return { model, pipeline: opened.pipeline, decode: decode.session };
}

const mean = (xs: number[]) => xs.reduce((a, x) => a + x, 0) / xs.length;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

it('preview fill: PSNR against the final image as patch tokens arrive', async () => {
  const { model, pipeline, decode } = await open();
  const layout = tokenLayout(model.manifest);
  const classes = model.manifest.classes.map((c) => c.id);
  const sample = async (seed: number) =>
    Promise.all(
      classes.map(async (classId) => {
        const [image] = await pipeline.run(
          `s${seed}-${classId}`,
          request(classId, seed * 1000 + classId),
        );
        return Int32Array.from([...image!.holisticIds, ...image!.patchIds]);
      }),
    );
  const calibration = await sample(1);
  const heldOut = [...(await sample(2)), ...(await sample(3))];
  const render = (set: Int32Array[], known: number, fill: number) =>
    decodeIds(
      decode,
      layout,
      previewIds(
        layout,
        set.map((tokens) => ({ tokens, known })),
        fill,
      ),
    );
  const finals = async (set: Int32Array[]) =>
    (await render(set, layout.length, 0)).map((i) => i.data);
  const score = async (set: Int32Array[], finalsOf: Uint8Array[], known: number, fill: number) =>
    mean((await render(set, known, fill)).map((image, i) => psnr(image.data, finalsOf[i]!)));
  // The code whose flat fill makes the first preview closest to the final image, on calibration.
  const calibrationFinals = await finals(calibration);
  let best = { code: 0, psnr: -Infinity };
  const { seconds: scanSeconds } = await timed(async () => {
    for (let code = 0; code < model.manifest.tokenizer.codebookSize; code++) {
      const value = await score(calibration, calibrationFinals, layout.numHolistic, code);
      if (value > best.psnr) best = { code, psnr: value };
    }
  });
  const counts = new Map<number, number>();
  for (const tokens of calibration) {
    for (const code of tokens.subarray(layout.numHolistic))
      counts.set(code, (counts.get(code) ?? 0) + 1);
  }
  const common = [...counts.entries()].sort((a, b) => b[1] - a[1])[0]![0];
  const heldOutFinals = await finals(heldOut);
  const fills = {
    zero: 0,
    mostCommon: common,
    calibrated: best.code,
    manifest: model.manifest.preview?.fillCode ?? 0,
  };
  const steps = patchSteps(layout);
  for (const [fill, code] of Object.entries(fills)) {
    const curve: Record<string, number | string> = {};
    for (const patches of steps) {
      curve[`patch${patches}`] = finite(
        await score(heldOut, heldOutFinals, layout.numHolistic + patches, code),
      );
    }
    record('preview', {
      figure: 'fill',
      model: model.id,
      fill,
      code,
      samples: heldOut.length,
      ...curve,
    });
  }
  record('preview', {
    figure: 'fill-baseline',
    model: model.id,
    meanColourPsnr: round(mean(heldOutFinals.map(meanColourPsnr))),
    calibratedCode: best.code,
    calibrationPsnr: round(best.psnr),
    calibrationSamples: calibration.length,
    scanSeconds: round(scanSeconds),
  });
  await pipeline.close();
});

it('preview quality as delivered: first and last WebP against the final image', async () => {
  const { model, pipeline } = await open();
  const rgb = async (image: Uint8Array) =>
    new Uint8Array(await sharp(image).removeAlpha().raw().toBuffer());
  const rows: { first: number; last: number; meanColour: number; bytes: number }[] = [];
  for (const seed of [2, 3]) {
    for (const { id: classId } of model.manifest.classes) {
      const frames: PreviewFrame[] = [];
      const [image] = await pipeline.run(
        `d${seed}-${classId}`,
        request(classId, seed * 1000 + classId),
        undefined,
        (f) => frames.push(f[0]!),
      );
      // At 32 px a preview is the image's own size; a larger model's final is brought to 64 px.
      const side = frames[0]!.width;
      const final = new Uint8Array(
        await sharp(image!.png).resize(side, side).removeAlpha().raw().toBuffer(),
      );
      rows.push({
        first: psnr(await rgb(frames[0]!.webp), final),
        last: psnr(await rgb(frames.at(-1)!.webp), final),
        meanColour: meanColourPsnr(final),
        bytes: Math.max(...frames.map((f) => f.webp.byteLength)),
      });
    }
  }
  record('preview', {
    figure: 'delivered',
    model: model.id,
    samples: rows.length,
    firstPsnr: round(mean(rows.map((r) => r.first))),
    lastPsnr: round(mean(rows.map((r) => r.last))),
    lastPsnrMin: round(Math.min(...rows.map((r) => r.last))),
    meanColourPsnr: round(mean(rows.map((r) => r.meanColour))),
    lastBeatsBoth: rows.filter((r) => r.last > r.first && r.last > r.meanColour).length,
    maxBytes: Math.max(...rows.map((r) => r.bytes)),
  });
  await pipeline.close();
});

it('preview overhead: 16 concurrent single-image jobs, with and without, alternated', async () => {
  const { model, pipeline } = await open();
  const jobs = 16;
  const run = async (round: number, isPreviewing: boolean) => {
    const frames: number[] = Array.from({ length: jobs }, () => 0);
    // CPU time of the whole process (ORT's threads and sharp's included): steadier than the
    // wall clock when other work shares the cores.
    const cpuBefore = process.cpuUsage();
    const { seconds } = await timed(() =>
      Promise.all(
        Array.from({ length: jobs }, (_, j) =>
          pipeline.run(
            `r${round}-${isPreviewing}-${j}`,
            request(j % model.manifest.classes.length, round * 100 + j),
            undefined,
            isPreviewing ? () => (frames[j]! += 1) : undefined,
          ),
        ),
      ),
    );
    const cpu = process.cpuUsage(cpuBefore);
    const cpuSecondsPerImage = (cpu.user + cpu.system) / 1e6 / jobs;
    return { imagesPerSecond: jobs / seconds, cpuSecondsPerImage, frames };
  };
  await run(ROUNDS, false); // warm-up
  await run(ROUNDS, true);
  const without: number[] = [];
  const withPreviews: number[] = [];
  const perJob: number[] = [];
  const cpuWithout: number[] = [];
  const cpuWith: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    // Alternating order, so a drift in machine load touches both alike.
    const pair = round % 2 === 0 ? [false, true] : [true, false];
    for (const isPreviewing of pair) {
      const { imagesPerSecond, cpuSecondsPerImage, frames } = await run(round, isPreviewing);
      (isPreviewing ? withPreviews : without).push(imagesPerSecond);
      (isPreviewing ? cpuWith : cpuWithout).push(cpuSecondsPerImage);
      if (isPreviewing) perJob.push(...frames);
    }
  }
  record('preview', {
    figure: 'overhead',
    model: model.id,
    jobs,
    rounds: ROUNDS,
    threads: THREADS,
    withoutImagesPerSecond: round(median(without)),
    withImagesPerSecond: round(median(withPreviews)),
    cost: round(1 - median(withPreviews) / median(without)),
    withoutCpuMsPerImage: round(median(cpuWithout) * 1000),
    withCpuMsPerImage: round(median(cpuWith) * 1000),
    cpuCost: round(median(cpuWith) / median(cpuWithout) - 1),
    loadAverage: round(loadavg()[0]!),
    previewsPerJobMin: Math.min(...perJob),
    previewsPerJobMean: round(mean(perJob)),
  });
  await pipeline.close();
});

it('preview cost: one decode, shipped model and official size', async () => {
  const dirs = [MODEL_DIR, ...(OFFICIAL_DIR ? [OFFICIAL_DIR] : [])];
  for (const dir of dirs) {
    const model = await loadModel(dir);
    const layout = tokenLayout(model.manifest);
    const { session } = await createSession(model.graphPath('decode'), {
      providers: ['cpu'],
      intraOpNumThreads: THREADS,
      sessionOptions: DECODE_SESSION_OPTIONS,
    });
    const tokens = new Int32Array(layout.length);
    for (const batch of dir === MODEL_DIR ? [1, 16] : [1]) {
      const ids = previewIds(
        layout,
        Array.from({ length: batch }, () => ({ tokens, known: layout.numHolistic })),
        0,
      );
      await decodeIds(session, layout, ids); // warm-up
      const times: number[] = [];
      for (let r = 0; r < (dir === MODEL_DIR ? 10 : 2); r++) {
        times.push((await timed(() => decodeIds(session, layout, ids))).seconds);
      }
      record('preview', {
        figure: 'decode',
        model: model.id,
        imageSize: layout.imageSize,
        batch,
        threads: THREADS,
        msPerImage: round((median(times) * 1000) / batch),
      });
    }
    await session.release();
  }
});

function patchSteps(layout: TokenLayout): number[] {
  const n = layout.numPatch;
  return [0, n / 4, n / 2, (3 * n) / 4, n].map(Math.round);
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}

/** PSNR of identical images is infinite, which JSON cannot write. */
function finite(x: number): number | string {
  return Number.isFinite(x) ? round(x) : 'identical';
}
