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
 *   Variants are timed round-robin in the same rounds, so load from other processes hits them alike.
 * - accuracy: teacher-forced logits over sequences sampled from the fp32 graph: top-1 agreement
 *   and mean KL(fp32 ‖ variant) of the next-token distributions, holistic and patch positions apart.
 *   --holistic-steps also times decode steps whose rows are all before M (holistic positions), and
 *   --ratio NEW/OLD prints OLD's ms over NEW's for two variants timed in the same rounds (the
 *   split output head against the unsplit graph: docs/model-directory.md, "The output head").
 * - row invariance: is a row's decode-step output bitwise the same alone (1 row) as inside a batch
 *   of 2 and 8 rows, at any index? MatMulNBits's one-row kernels may sum in another order.
 */
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import * as ort from 'onnxruntime-node';
import { median, recordFigure, xorshift32 } from './probe-support.mjs';

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
const g = manifest.gpt;
const [L, H, D, V, M] = [g.numLayers, g.numHeads, g.headDim, g.vocabSize, g.numHolistic];
const SEQ = g.maxPositions; // input positions 0 … maxPositions−1
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

async function open(file, threads = args.threads) {
  return ort.InferenceSession.create(file, {
    executionProviders: ['cpu'],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
  });
}

const i64 = (values) => BigInt64Array.from(values, (v) => BigInt(v));

/** Feeds for rows with `ids` [B][T] at positions past … past+T−1 over `cache` (arrays per layer or null). */
function feeds(ids, past, cache) {
  const b = ids.length;
  const t = ids[0].length;
  const f = {
    input_ids: new ort.Tensor('int64', i64(ids.flat()), [b, t]),
    position_ids: new ort.Tensor(
      'int64',
      i64(ids.flatMap(() => Array.from({ length: t }, (_, j) => past + j))),
      [b, t],
    ),
    attention_mask: new ort.Tensor('bool', new Uint8Array(b * (past + t)).fill(1), [b, past + t]),
  };
  for (let l = 0; l < L; l++) {
    for (const kind of ['key', 'value']) {
      const data = cache ? cache[`${kind}_${l}`] : new Float32Array(0);
      f[`past_${kind}_${l}`] = new ort.Tensor('float32', data, [b, H, past, D]);
    }
  }
  return f;
}

function sampleRow(logits, offset, rand) {
  let max = -Infinity;
  for (let v = 0; v < V; v++) max = Math.max(max, logits[offset + v]);
  let sum = 0;
  const p = new Float64Array(V);
  for (let v = 0; v < V; v++) sum += p[v] = Math.exp(logits[offset + v] - max);
  let u = rand() * sum;
  for (let v = 0; v < V; v++) if ((u -= p[v]) <= 0) return v;
  return V - 1;
}

/** `seqs` teacher-forcing inputs [class, t0 … t(SEQ−2)] sampled from the fp32 graph (one full call per token). */
async function sampleSequences(session, seqs) {
  const rand = xorshift32(12345);
  const rows = Array.from({ length: seqs }, (_, i) => [
    i % 2 ? g.nullClassId : (i >> 1) % g.numClasses,
  ]);
  // A random-init model samples noise anyway; uniform tokens skip SEQ calls of a large graph.
  if (args.randomSeqs)
    return rows.map((row) => [
      ...row,
      ...Array.from({ length: SEQ - 1 }, () => Math.floor(rand() * V)),
    ]);
  for (let p = 1; p < SEQ; p++) {
    const out = await session.run(feeds(rows, 0, null));
    const logits = out.logits.data;
    rows.forEach((row, r) => row.push(sampleRow(logits, (r * p + p - 1) * V, rand)));
  }
  return rows;
}

/** Per-row slices [1, H, P, D] of a [B, H, T, D] tensor, first P positions. */
function sliceCache(tensor, row, p) {
  const [, h, t, d] = tensor.dims;
  const out = new Float32Array(h * p * d);
  for (let i = 0; i < h; i++) {
    out.set(tensor.data.subarray((row * h + i) * t * d, ((row * h + i) * t + p) * d), i * p * d);
  }
  return out;
}

function stackCaches(perRow, rows) {
  const cache = {};
  for (const key of Object.keys(perRow[0])) {
    const size = perRow[0][key].length;
    const data = new Float32Array(size * rows.length);
    rows.forEach((r, i) => data.set(perRow[r][key], i * size));
    cache[key] = data;
  }
  return cache;
}

function logSoftmax(x, offset) {
  let max = -Infinity;
  for (let v = 0; v < V; v++) max = Math.max(max, x[offset + v]);
  let sum = 0;
  for (let v = 0; v < V; v++) sum += Math.exp(x[offset + v] - max);
  const lse = max + Math.log(sum);
  const out = new Float64Array(V);
  for (let v = 0; v < V; v++) out[v] = x[offset + v] - lse;
  return out;
}

function argmax(x, offset) {
  let best = 0;
  for (let v = 1; v < V; v++) if (x[offset + v] > x[offset + best]) best = v;
  return best;
}

function compare(ref, test, seqs) {
  const acc = { holistic: { n: 0, agree: 0, kl: 0 }, patch: { n: 0, agree: 0, kl: 0 } };
  let maxAbs = 0;
  for (let r = 0; r < seqs; r++) {
    for (let p = 0; p < SEQ; p++) {
      const o = (r * SEQ + p) * V;
      const a = logSoftmax(ref, o);
      const b = logSoftmax(test, o);
      let kl = 0;
      for (let v = 0; v < V; v++) {
        kl += Math.exp(a[v]) * (a[v] - b[v]);
        maxAbs = Math.max(maxAbs, Math.abs(ref[o + v] - test[o + v]));
      }
      const bucket = p < M ? acc.holistic : acc.patch;
      bucket.n++;
      bucket.kl += kl;
      bucket.agree += argmax(ref, o) === argmax(test, o) ? 1 : 0;
    }
  }
  const f = (b) => ({
    top1Agreement: +(b.agree / b.n).toFixed(4),
    meanKl: +(b.kl / b.n).toExponential(3),
  });
  return {
    holistic: f(acc.holistic),
    patch: f(acc.patch),
    maxAbsLogitDiff: +maxAbs.toExponential(3),
  };
}

/** Rows' decode-step logits [V] of `target` alone and inside batches; bitwise comparison. */
async function rowInvariance(session, seqIds, caches, past) {
  const run = async (rows) => {
    const ids = rows.map((r) => [seqIds[r][past]]);
    const out = await session.run(feeds(ids, past, stackCaches(caches, rows)));
    return rows.map((_, i) => out.logits.data.slice(i * V, (i + 1) * V));
  };
  const layouts = {
    'b2@0': (t) => [t, (t + 1) % caches.length],
    'b2@1': (t) => [(t + 1) % caches.length, t],
    'b3@2': (t) => [(t + 1) % caches.length, (t + 2) % caches.length, t],
    'b8@0': (t) => Array.from({ length: 8 }, (_, i) => (t + i) % caches.length),
    'b8@7': (t) => Array.from({ length: 8 }, (_, i) => (t + 7 - i) % caches.length),
    'b16@15': (t) => Array.from({ length: 16 }, (_, i) => (t + 15 - i) % caches.length),
  };
  const result = {};
  const targets = [0, 1, 2, 3].filter((t) => t < caches.length);
  const alone = {};
  for (const t of targets) alone[t] = (await run([t]))[0];
  const batched = {};
  for (const [name, layout] of Object.entries(layouts)) {
    let differing = 0;
    let maxAbs = 0;
    for (const t of targets) {
      const rows = layout(t);
      const logits = (await run(rows))[rows.indexOf(t)];
      (batched[t] ??= []).push(logits);
      for (let v = 0; v < V; v++) {
        const d = Math.abs(logits[v] - alone[t][v]);
        if (d !== 0) differing++;
        maxAbs = Math.max(maxAbs, d);
      }
    }
    result[`alone_vs_${name}`] = { identical: differing === 0, differingLogits: differing, maxAbs };
  }
  // Many-row layouts (2, 3, 8, 16 rows) among themselves: is padding a lone row to 2 rows enough?
  let manyDiffer = 0;
  for (const t of targets) {
    for (const logits of batched[t])
      for (let v = 0; v < V; v++) if (logits[v] !== batched[t][0][v]) manyDiffer++;
  }
  result.manyRowLayoutsIdentical = manyDiffer === 0;
  return result;
}

async function timeSteps(sessions, rowsList) {
  const samples = {};
  const randomCache = (b, past = PAST) => {
    const cache = {};
    const rand = xorshift32(7);
    for (let l = 0; l < L; l++) {
      for (const kind of ['key', 'value']) {
        cache[`${kind}_${l}`] = Float32Array.from({ length: b * H * past * D }, () => rand() - 0.5);
      }
    }
    return cache;
  };
  const inputs = {};
  for (const b of rowsList) {
    const ids = Array.from({ length: b }, (_, r) => [(r * 37) % V]);
    inputs[`step${b}`] = feeds(ids, PAST, randomCache(b));
    // The same step at the last holistic position (every row before M): the head's other half.
    if (args.holisticSteps) inputs[`holisticStep${b}`] = feeds(ids, M - 1, randomCache(b, M - 1));
  }
  const prefillIds = Array.from({ length: 2 }, (_, r) => [
    r % g.numClasses,
    ...Array.from({ length: M }, (_, j) => (r + j * 13) % V),
  ]);
  inputs.holisticPrefill2 = feeds(prefillIds, 0, null);
  for (const [, session] of sessions) for (const f of Object.values(inputs)) await session.run(f); // warm-up
  for (let round = 0; round < args.rounds; round++) {
    // Each input on every variant back to back, in an order reversed every other round, so load
    // from other processes and its drift hit the variants alike (and per-round ratios pair up).
    const order = round % 2 ? [...sessions].reverse() : sessions;
    for (const [key, f] of Object.entries(inputs)) {
      for (const [name, session] of order) {
        const reps = /^(step|holisticStep)/.test(key) ? args.steps : Math.max(1, args.steps >> 2);
        const start = process.hrtime.bigint();
        for (let i = 0; i < reps; i++) await session.run(f);
        const ms = Number(process.hrtime.bigint() - start) / 1e6 / reps;
        ((samples[name] ??= {})[key] ??= []).push(ms);
      }
    }
  }
  const medians = Object.fromEntries(
    Object.entries(samples).map(([name, byKey]) => [
      name,
      Object.fromEntries(Object.entries(byKey).map(([k, xs]) => [k, +median(xs).toFixed(3)])),
    ]),
  );
  return { medians, samples };
}

const files = variantFiles();
const sessions = [];
for (const [name, file] of files) sessions.push([name, await open(file)]);
const fp32 = sessions[0][1];

const started = Date.now();
if (!args.timingOnly) await accuracyAndInvariance();
await timeVariants();
console.error(`quant-probe: ${((Date.now() - started) / 1000).toFixed(1)} s`);

async function accuracyAndInvariance() {
  const seqIds = await sampleSequences(fp32, args.seqs);
  const teacher = async (session) => await session.run(feeds(seqIds, 0, null));
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
      name === 'fp32' ? null : compare(refOut.logits.data, out.logits.data, args.seqs);
    const invariance = await rowInvariance(session, seqIds, caches, PAST);
    const single = await open(files.find(([n]) => n === name)[1], 1);
    const invariance1 = await rowInvariance(single, seqIds, caches, PAST);
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
  const { medians: timing, samples } = await timeSteps(sessions, args.rows);
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
      loadavg: (await import('node:os')).loadavg(),
    });
  }
  for (const [after, before] of args.ratios) {
    if (!timing[after] || !timing[before])
      throw new Error(`--ratio ${after}/${before}: no such variant`);
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
