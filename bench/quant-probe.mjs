#!/usr/bin/env node
/**
 * Quantized GPT graphs against the fp32 one, in onnxruntime-node (issue 12). Prints one JSON line
 * per figure and appends them to bench/results/quant-probe.jsonl.
 *
 *   node bench/quant-probe.mjs [--model models/hita-tiny-emoji] [--variant NAME=FILE.onnx ...]
 *       [--threads 2] [--rounds 5] [--steps 20] [--rows 2,8,16] [--past P] [--seqs 16] [--random-seqs] [--timing-only]
 *       [--holistic-steps] [--ratio NEW/OLD ...]
 *
 * Without --variant the manifest's graphs.gptVariants are probed. Figures:
 * - speed: session.run ms of one decode step (T = 1 per row, a cache of P positions) at each row
 *   count, and apart from it the holistic prefill (class + M holistic tokens in one call, P = 0).
 *   Variants are timed back to back per input in the same rounds, in an order reversed every
 *   other round, so load from other processes and its drift hit them alike.
 * - accuracy: teacher-forced logits over sequences sampled from the fp32 graph: top-1 agreement
 *   and mean KL(fp32 ‖ variant) of the next-token distributions, holistic and patch positions apart.
 *   --holistic-steps also times decode steps whose rows are all before M (holistic positions), and
 *   --ratio NEW/OLD prints OLD's ms over NEW's for two variants timed in the same rounds, the
 *   median of the per-round ratios (the split output head against the unsplit graph:
 *   docs/model-directory.md, "The output head").
 * - row invariance: is a row's decode-step output bitwise the same alone (1 row) as inside a batch
 *   of 2 and 8 rows, at any index? MatMulNBits's one-row kernels may sum in another order.
 */
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import {
  compare,
  feeds,
  gptGeometry,
  medians,
  rowInvariance,
  sampleSequences,
  sliceCache,
  stepInputs,
  timeRound,
  warmUp,
} from './gpt-probe.mjs';
import { median, openSession, recordFigure } from './probe-support.mjs';

function parseArgs(argv) {
  const args = {
    model: 'models/hita-tiny-emoji',
    variants: [],
    threads: cpus().length,
    rounds: 5,
    steps: 20,
    rows: [2, 8, 16],
    past: undefined,
    seqs: 16,
    label: '',
    timingOnly: false,
    randomSeqs: false,
    holisticSteps: false,
    ratios: [],
  };
  for (let i = 0; i < argv.length; i++) {
    const [key, value] = [argv[i], argv[i + 1]];
    i++;
    if (key === '--model') args.model = value;
    else if (key === '--variant') args.variants.push(value);
    else if (key === '--threads') args.threads = Number(value);
    else if (key === '--rounds') args.rounds = Number(value);
    else if (key === '--steps') args.steps = Number(value);
    else if (key === '--rows') args.rows = value.split(',').map(Number);
    else if (key === '--past') args.past = Number(value);
    else if (key === '--seqs') args.seqs = Number(value);
    else if (key === '--label') args.label = value;
    else if (key === '--ratio') args.ratios.push(value.split('/'));
    else if (key === '--holistic-steps') {
      args.holisticSteps = true;
      i--;
    } else if (key === '--random-seqs') {
      args.randomSeqs = true;
      i--;
    } else if (key === '--timing-only') {
      args.timingOnly = true;
      i--;
    } else throw new Error(`unknown argument ${key}`);
  }
  return args;
}

const args = parseArgs(process.argv.slice(2));
const modelDir = resolve(args.model);
const manifest = JSON.parse(readFileSync(join(modelDir, 'model.json'), 'utf8'));
const geom = gptGeometry(manifest);
const { L, SEQ } = geom;
const PAST = args.past ?? Math.floor(SEQ / 2);

function record(figure) {
  recordFigure('quant-probe', {
    model: manifest.id,
    threads: args.threads,
    label: args.label,
    ...figure,
  });
}

function variantFiles() {
  const list = [['fp32', join(modelDir, manifest.graphs.gpt.file)]];
  if (args.variants.length) {
    for (const v of args.variants) {
      const [name, file] = v.split('=');
      list.push([name, resolve(file)]);
    }
  } else {
    for (const [name, entry] of Object.entries(manifest.graphs.gptVariants ?? {})) {
      list.push([`${name}/acc${entry.accuracyLevel}`, join(modelDir, entry.file)]);
    }
  }
  return list;
}

const files = variantFiles();
// Before any session opens: a misspelt --ratio should not cost a whole run.
for (const [after, before] of args.ratios) {
  if (![after, before].every((name) => files.some(([n]) => n === name)))
    throw new Error(`--ratio ${after}/${before}: no such variant in ${files.map(([n]) => n)}`);
}
const sessions = [];
for (const [name, file] of files) sessions.push([name, await openSession(file, args.threads)]);
const fp32 = sessions[0][1];

const started = Date.now();
if (!args.timingOnly) await accuracyAndInvariance();
await timeVariants();
console.error(`quant-probe: ${((Date.now() - started) / 1000).toFixed(1)} s`);

async function accuracyAndInvariance() {
  const seqIds = await sampleSequences(geom, fp32, args.seqs, args.randomSeqs);
  const teacher = async (session) => await session.run(feeds(geom, seqIds, 0, null));
  const refOut = await teacher(fp32);
  const caches = seqIds.map((_, r) => {
    const c = {};
    for (let l = 0; l < L; l++) {
      for (const kind of ['key', 'value'])
        c[`${kind}_${l}`] = sliceCache(refOut[`new_${kind}_${l}`], r, PAST);
    }
    return c;
  });
  for (const [name, session] of sessions) {
    const out = name === 'fp32' ? refOut : await teacher(session);
    const accuracy =
      name === 'fp32' ? null : compare(geom, refOut.logits.data, out.logits.data, args.seqs);
    const invariance = await rowInvariance(geom, session, seqIds, caches, PAST);
    const single = await openSession(files.find(([n]) => n === name)[1], 1);
    const invariance1 = await rowInvariance(geom, single, seqIds, caches, PAST);
    await single.release();
    record({
      figure: 'accuracy and row invariance',
      variant: name,
      past: PAST,
      sequences: args.seqs,
      accuracy,
      rowInvariance: invariance,
      rowInvarianceOneThread: invariance1,
    });
  }
}

async function timeVariants() {
  const inputs = stepInputs(geom, args.rows, PAST, { holisticSteps: args.holisticSteps });
  await warmUp(sessions, inputs);
  const samples = {};
  for (let round = 0; round < args.rounds; round++)
    await timeRound(sessions, inputs, args.steps, samples, round);
  const timing = medians(samples);
  const base = timing.fp32;
  for (const [name, t] of Object.entries(timing)) {
    const ratio = Object.fromEntries(
      Object.entries(t).map(([k, ms]) => [k, +(base[k] / ms).toFixed(2)]),
    );
    record({
      figure: 'session.run ms (median of rounds; noisy: shared cores)',
      variant: name,
      past: PAST,
      rounds: args.rounds,
      ms: t,
      speedupVsFp32: ratio,
      loadavg: loadavg(),
    });
  }
  for (const [after, before] of args.ratios) {
    record({
      figure: `speedup of ${after} over ${before} (ms ratio, same rounds)`,
      variant: after,
      baseline: before,
      past: PAST,
      rounds: args.rounds,
      // The median over rounds of each round's ratio: both were timed back to back in it.
      speedup: Object.fromEntries(
        Object.entries(samples[after]).map(([k, xs]) => [
          k,
          +median(xs.map((ms, r) => samples[before][k][r] / ms)).toFixed(3),
        ]),
      ),
    });
  }
}
