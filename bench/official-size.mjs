#!/usr/bin/env node
/**
 * Official size (issue 12): a hita-v + gpt-b random-init model (336 px, 569 positions), made once
 * into a cache outside git (bench/official-model.mjs), run side by side in one process:
 * - one CFG image end to end through the engine (HitaPipeline, as `hita generate` runs it) for
 *   each GPT precision, and through our PyTorch eager loop on the same weights, with the GPT
 *   phase and the decode apart;
 * - GPT ms per decode step at 2, 8 and 16 rows (a cache of `--past` positions), same sides;
 * - top-1 agreement and KL(fp32 ‖ variant) of next-token distributions, teacher-forced over the
 *   sequences the fp32 engine generated (cond and null-class rows of each image).
 * Variants alternate within every round, so load from other processes hits them alike; figures
 * are medians over rounds. Prints a table and appends JSON lines to bench/results/official-size.jsonl.
 *
 *   npm run bench:official -- [--quick] [--rounds 3] [--steps 5] [--rows 2,8,16] [--past 284]
 *       [--threads 2] [--cache DIR] [--no-torch] [--torch-images N] [--label TEXT] [--model DIR]
 *       [--baseline DIR]
 *
 * --quick: 1 round of 2 steps per figure (a smoke run; still one whole image per variant).
 * --torch-images N: the PyTorch loop makes an image in the first N rounds only (default: every
 *   round); on a loaded machine its 569 eager steps take ten minutes.
 * --model: another random-init directory with int8 and int4 graphs instead of the cached one
 *   (a tiny one checks the script in seconds).
 * --baseline: a directory with the same weights whose fp32 GPT graph is an earlier export (an
 *   earlier cache entry): it runs beside the others as `fp32-before`, and every variant's GPT
 *   phase is also given against it, the target's "fp32 today".
 */
import { cpus, loadavg } from 'node:os';
import { loadModel } from '../dist/inference/model/model-loader.js';
import { openPipeline } from '../dist/inference/ort/open-pipeline.js';
import * as probe from './gpt-probe.mjs';
import { defaultCacheRoot, ensureOfficialModel, RECIPE } from './official-model.mjs';
import { formatTable, summarize } from './official-table.mjs';
import { openSession, recordFigure } from './probe-support.mjs';
import { startTorchEager } from './torch-eager.mjs';

const PRECISIONS = ['fp32', 'int8', 'int4'];
const SAMPLING = { cfgScale: 2, temperature: 1, topK: 0, topP: 1 };

function parseArgs(argv) {
  const args = {
    rounds: 3,
    steps: 5,
    rows: [2, 8, 16],
    past: undefined,
    threads: cpus().length,
    cache: process.env.HITA_BENCH_CACHE ?? defaultCacheRoot(),
    torch: true,
    torchImages: undefined,
    label: '',
    model: undefined,
    baseline: undefined,
  };
  for (let i = 0; i < argv.length; i++) {
    const [key, value] = [argv[i], argv[i + 1]];
    if (key === '--quick')
      Object.assign(args, { rounds: 1, steps: 2, label: args.label || 'quick' });
    else if (key === '--no-torch') args.torch = false;
    else {
      i++;
      if (value === undefined) throw new Error(`${key} needs a value`);
      if (key === '--rounds') args.rounds = Number(value);
      else if (key === '--steps') args.steps = Number(value);
      else if (key === '--rows') args.rows = value.split(',').map(Number);
      else if (key === '--past') args.past = Number(value);
      else if (key === '--threads') args.threads = Number(value);
      else if (key === '--cache') args.cache = value;
      else if (key === '--label') args.label = value;
      else if (key === '--model') args.model = value;
      else if (key === '--baseline') args.baseline = value;
      else if (key === '--torch-images') args.torchImages = Number(value);
      else throw new Error(`unknown argument ${key}`);
    }
  }
  for (const [name, n] of Object.entries({
    rounds: args.rounds,
    steps: args.steps,
    threads: args.threads,
  })) {
    if (!Number.isInteger(n) || n < 1 || n > 1000)
      throw new Error(`--${name} takes 1 … 1000, got ${n}`);
  }
  return args;
}

const args = parseArgs(process.argv.slice(2));
const started = Date.now();
const made = args.model
  ? { dir: args.model, key: null, built: false, seconds: 0 }
  : ensureOfficialModel({ cacheRoot: args.cache, log: (m) => console.error(m) });
const model = await loadModel(made.dir);
/** What runs side by side: each precision of the model, and the baseline's fp32 graph if given. */
const VARIANTS = [
  ...PRECISIONS.map((precision) => ({ name: precision, model, precision })),
  ...(args.baseline
    ? [{ name: 'fp32-before', model: await loadModel(args.baseline), precision: 'fp32' }]
    : []),
];
const geom = probe.gptGeometry(model.manifest);
const past = args.past ?? Math.floor(geom.SEQ / 2);
const common = {
  model: model.manifest.id,
  cacheKey: made.key,
  threads: args.threads,
  label: args.label,
};
const record = (figure) =>
  recordFigure('official-size', { ...common, ...figure, loadavg: loadavg() });
record({
  figure: 'model',
  dir: made.dir,
  built: made.built,
  buildSeconds: made.seconds,
  recipe: RECIPE,
  baseline: args.baseline ?? null,
});

const torch = args.torch ? await startTorchEager(made.dir, args.threads) : null;
if (torch) record({ figure: 'pytorch eager loop', ...torch.info });

try {
  const images = await endToEnd();
  const steps = await stepTimes();
  const quality = await agreement(images.fp32Sequences);
  const names = VARIANTS.map((v) => v.name);
  const rows = summarize({ images: images.samples, steps, quality, precisions: names });
  record({ figure: 'summary', rounds: args.rounds, steps: args.steps, past, rows });
  console.info(formatTable(rows, { rounds: args.rounds, past, threads: args.threads }));
} finally {
  await torch?.close();
  console.error(`official-size: ${((Date.now() - started) / 1000).toFixed(0)} s`);
}

/** One CFG image per variant per round: seconds of the GPT phase and of the decode. */
async function endToEnd() {
  const pipelines = [];
  for (const { name, model, precision } of VARIANTS) {
    const opened = await openPipeline(model, {
      providers: ['cpu'],
      precision,
      threads: args.threads,
      maxBatchRows: 2,
    });
    if (opened.precision !== precision)
      throw new Error(`${name}: ${precision} did not open (${opened.precision})`);
    pipelines.push([name, opened.pipeline]);
  }
  const samples = {};
  const fp32Sequences = [];
  try {
    for (let round = 0; round < args.rounds; round++) {
      const classId = round % geom.numClasses;
      const request = {
        kind: 'generate',
        classId,
        count: 1,
        seed: 1000 + round,
        sampling: SAMPLING,
      };
      for (const [precision, pipeline] of pipelines) {
        const t0 = process.hrtime.bigint();
        let decodeAt;
        const [image] = await pipeline.run(`${precision}-${round}`, request, ({ phase }) => {
          if (phase === 'decode') decodeAt ??= process.hrtime.bigint();
        });
        const end = process.hrtime.bigint();
        const sample = { gptSeconds: seconds(t0, decodeAt), decodeSeconds: seconds(decodeAt, end) };
        push(samples, precision, { ...sample, seconds: seconds(t0, end) });
        if (precision === 'fp32') {
          const tokens = [...image.holisticIds, ...image.patchIds].slice(0, geom.SEQ - 1);
          fp32Sequences.push([classId, ...tokens], [geom.nullClassId, ...tokens]);
        }
        record({ figure: 'image end to end', variant: precision, round, ...sample });
      }
      if (torch && round < (args.torchImages ?? args.rounds)) {
        const answer = await torch.request({
          op: 'image',
          seed: 1000 + round,
          cfg: SAMPLING.cfgScale,
        });
        push(samples, 'pytorch', answer);
        record({ figure: 'image end to end', variant: 'pytorch', round, ...answer });
      }
    }
  } finally {
    for (const [, pipeline] of pipelines) await pipeline.close();
  }
  return { samples, fp32Sequences };
}

/** ms per decode step at each row count: ORT sessions and the PyTorch loop, alternating per round. */
async function stepTimes() {
  const sessions = [];
  for (const { name, model, precision } of VARIANTS)
    sessions.push([name, await openSession(model.gptPath(precision), args.threads)]);
  const inputs = probe.stepInputs(geom, args.rows, past, { prefill: false });
  const samples = {};
  try {
    await probe.warmUp(sessions, inputs);
    if (torch) await torch.request({ op: 'steps', rows: args.rows, past, reps: 1 });
    for (let round = 0; round < args.rounds; round++) {
      await probe.timeRound(sessions, inputs, args.steps, samples, round);
      if (torch) {
        const { ms } = await torch.request({
          op: 'steps',
          rows: args.rows,
          past,
          reps: args.steps,
        });
        for (const [rows, value] of Object.entries(ms))
          ((samples.pytorch ??= {})[`step${rows}`] ??= []).push(value);
      }
    }
  } finally {
    for (const [, session] of sessions) await session.release();
  }
  const ms = probe.medians(samples);
  for (const [variant, byRows] of Object.entries(ms))
    record({ figure: 'GPT ms per step', variant, past, ms: byRows });
  return ms;
}

/** Teacher-forced next-token agreement of each other graph with fp32 over the fp32 images' sequences. */
async function agreement(sequences) {
  const teacher = async ({ model, precision }) => {
    const session = await openSession(model.gptPath(precision), args.threads);
    try {
      return (await session.run(probe.feeds(geom, sequences, 0, null))).logits.data;
    } finally {
      await session.release();
    }
  };
  const reference = await teacher(VARIANTS[0]);
  const quality = {};
  for (const variant of VARIANTS.slice(1)) {
    quality[variant.name] = probe.compare(
      geom,
      reference,
      await teacher(variant),
      sequences.length,
    );
    record({
      figure: 'teacher-forced agreement with fp32',
      variant: variant.name,
      sequences: sequences.length,
      ...quality[variant.name],
    });
  }
  return quality;
}

function seconds(from, to) {
  return Number(to - from) / 1e9;
}

function push(samples, variant, figures) {
  for (const [key, value] of Object.entries(figures))
    ((samples[variant] ??= {})[key] ??= []).push(value);
}
