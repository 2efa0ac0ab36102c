/**
 * Engine figures (issue: inference engine). Run with `npm run bench`; results go to the README.
 * - images/s at batch 1, 8, 16 with CFG, against the PyTorch eager loop on the same weights;
 * - 16 concurrent single-image jobs against the same 16 run one by one, with final decodes shared
 *   across jobs (the default) and with every decode call kept to one job's images, alternated
 *   round by round (HITA_BENCH_REPEATS rounds);
 * - worker RSS after 20 and 200 jobs, and the peak.
 *
 * HITA_EP picks the execution provider as in the server (`cpu` by default; `bench/gpu.sh` runs this
 * file once per provider that loads). HITA_BENCH_TORCH=0 skips the PyTorch baseline (a CPU figure).
 */
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { it } from 'vitest';
import type { GenerateRequest } from '../src/inference/inference-engine.js';
import type { HitaPipeline } from '../src/inference/pipeline/hita-pipeline.js';
import { loadModel } from '../src/inference/model/model-loader.js';
import { parseExecutionProviders } from '../src/inference/ort/execution-providers.js';
import {
  openPipeline as openModelPipeline,
  type OpenedPipeline,
} from '../src/inference/ort/open-pipeline.js';
import { WorkerEngine } from '../src/inference/thread/worker-engine.js';
import { record, runTorchBaseline, timed } from './support.js';

const MODEL_DIR = process.env.HITA_BENCH_MODEL ?? 'models/hita-tiny-random';
const THREADS = Number(process.env.HITA_BENCH_THREADS ?? cpus().length);
const REPEATS = Number(process.env.HITA_BENCH_REPEATS ?? 3);
const SAMPLING = { cfgScale: 2, temperature: 1, topK: 0, topP: 1 };
const PROVIDERS = parseExecutionProviders(process.env.HITA_EP);
const WITH_TORCH = process.env.HITA_BENCH_TORCH !== '0';
/** The provider the GPT opened on, recorded with every figure. */
let provider: string = PROVIDERS[0]!;

async function openPipeline(): Promise<HitaPipeline> {
  return (await openOpened(true)).pipeline;
}

async function openOpened(shareDecodesAcrossJobs: boolean): Promise<OpenedPipeline> {
  const model = await loadModel(MODEL_DIR);
  const opened = await openModelPipeline(model, {
    providers: PROVIDERS,
    threads: THREADS,
    maxBatchRows: 64,
    shareDecodesAcrossJobs,
  });
  provider = opened.provider;
  return opened;
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

/** The model's class count, read once: requests cycle through its classes. */
const NUM_CLASSES = (
  JSON.parse(readFileSync(join(MODEL_DIR, 'model.json'), 'utf8')) as { gpt: { numClasses: number } }
).gpt.numClasses;

function request(count: number, seed: number): GenerateRequest {
  return { kind: 'generate', classId: seed % NUM_CLASSES, count, seed, sampling: SAMPLING };
}

it('engine vs PyTorch eager, images/s with CFG', async () => {
  const pipeline = await openPipeline();
  for (const batch of [1, 8, 16]) {
    await pipeline.run('warm', request(batch, 0));
    const { seconds } = await timed(async () => {
      for (let r = 0; r < REPEATS; r++)
        await pipeline.run(`b${batch}-${r}`, request(batch, r * 100));
    });
    const engine = (batch * REPEATS) / seconds;
    const torch = WITH_TORCH
      ? runTorchBaseline(
          [
            '--model',
            MODEL_DIR,
            '--batch',
            String(batch),
            '--repeats',
            String(REPEATS),
            '--cfg',
            '2',
          ],
          THREADS,
        )[0]!.imagesPerSecond!
      : null;
    record('engine', {
      figure: 'images/s with CFG',
      provider,
      batch,
      threads: THREADS,
      engineImagesPerSecond: engine,
      torchImagesPerSecond: torch,
      ratio: torch === null ? null : engine / torch,
    });
  }
});

it('continuous batching: 16 concurrent single-image jobs against 16 in a row', async () => {
  const variants = { shared: await openOpened(true), perJob: await openOpened(false) };
  /** Wall seconds of each half, and the process's CPU seconds of the concurrent one. */
  type Round = { sequential: number; concurrent: number; concurrentCpu: number };
  const rounds: Record<keyof typeof variants, Round[]> = { shared: [], perJob: [] };
  for (const { pipeline } of Object.values(variants)) await pipeline.run('warm', request(1, 0));
  for (let r = 0; r < REPEATS; r++) {
    // Alternate which goes first, so a drift in load falls on both alike.
    const order = r % 2 === 0 ? (['shared', 'perJob'] as const) : (['perJob', 'shared'] as const);
    for (const name of order) {
      const { pipeline } = variants[name];
      const sequential = await timed(async () => {
        for (let i = 0; i < 16; i++) await pipeline.run(`s${r}-${i}`, request(1, i));
      });
      const cpuBefore = process.cpuUsage();
      const concurrent = await timed(() =>
        Promise.all(
          Array.from({ length: 16 }, (_, i) => pipeline.run(`c${r}-${i}`, request(1, i))),
        ),
      );
      const cpu = process.cpuUsage(cpuBefore);
      rounds[name].push({
        sequential: sequential.seconds,
        concurrent: concurrent.seconds,
        concurrentCpu: (cpu.user + cpu.system) / 1e6,
      });
    }
  }
  for (const [name, list] of Object.entries(rounds) as [keyof typeof variants, Round[]][]) {
    const [sequentialSeconds, concurrentSeconds] = [
      median(list.map((round) => round.sequential)),
      median(list.map((round) => round.concurrent)),
    ];
    record('engine', {
      figure: 'continuous batching, 16 jobs',
      decodes: name === 'shared' ? 'shared across jobs' : 'per job',
      maxDecodeImages: variants[name].maxDecodeImages,
      model: MODEL_DIR,
      provider,
      threads: THREADS,
      rounds: REPEATS,
      sequentialSeconds,
      concurrentSeconds,
      sequentialImagesPerSecond: 16 / sequentialSeconds,
      concurrentImagesPerSecond: 16 / concurrentSeconds,
      throughputRatio: median(list.map((round) => round.sequential / round.concurrent)),
      // CPU time moves less than wall time when other work shares the cores.
      concurrentCpuSeconds: median(list.map((round) => round.concurrentCpu)),
    });
  }
  record('engine', {
    figure: 'continuous batching, 16 jobs: shared decodes against per-job decodes',
    model: MODEL_DIR,
    rounds: REPEATS,
    // Per round, the two ran back to back: the median of their paired ratios.
    concurrentSpeedup: median(
      rounds.shared.map((round, r) => rounds.perJob[r]!.concurrent / round.concurrent),
    ),
    concurrentCpuSaving: median(
      rounds.shared.map((round, r) => rounds.perJob[r]!.concurrentCpu / round.concurrentCpu),
    ),
  });
});

it('worker memory: RSS after 20 and after 200 jobs', async () => {
  const engine = new WorkerEngine({
    modelsDir: join(MODEL_DIR, '..'),
    defaultModel: MODEL_DIR,
    providers: PROVIDERS,
    threads: THREADS,
  });
  const wave = (from: number, count: number) =>
    Promise.all(
      Array.from({ length: count }, (_, i) =>
        engine.run({ id: `m${from + i}`, request: request(1, from + i) }),
      ),
    );
  let done = 0;
  let after20 = 0;
  while (done < 200) {
    await wave(done, 10);
    done += 10;
    if (done === 20) after20 = (await engine.stats()).rssBytes;
  }
  const after200 = (await engine.stats()).rssBytes;
  await engine.close();
  record('engine', {
    figure: 'worker RSS',
    providers: PROVIDERS.join(','),
    rssAfter20MiB: after20 / 2 ** 20,
    rssAfter200MiB: after200 / 2 ** 20,
    growth: after200 / after20 - 1,
    peakRssMiB: process.resourceUsage().maxRSS / 1024,
  });
});
