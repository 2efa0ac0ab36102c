/**
 * GPT step-graph probes shared by bench/quant-probe.mjs and bench/official-size.mjs: feeds for a
 * step over an explicit cache, seeded sequences, teacher-forced agreement of two graphs'
 * next-token distributions, row invariance, and step timing in paired rounds. Every function takes
 * the graph's geometry from the manifest (`gptGeometry`), never from globals.
 */
import * as ort from 'onnxruntime-node';
import { median, xorshift32 } from './probe-support.mjs';

/** The sizes a GPT step graph is fed with, from model.json's `gpt` entry. */
export function gptGeometry(manifest) {
  const g = manifest.gpt;
  return {
    L: g.numLayers,
    H: g.numHeads,
    D: g.headDim,
    V: g.vocabSize,
    M: g.numHolistic,
    /** input positions 0 … maxPositions−1 */
    SEQ: g.maxPositions,
    numClasses: g.numClasses,
    nullClassId: g.nullClassId,
  };
}

const i64 = (values) => BigInt64Array.from(values, (v) => BigInt(v));

/** Feeds for rows with `ids` [B][T] at positions past … past+T−1 over `cache` (arrays per layer or null). */
export function feeds(geom, ids, past, cache) {
  const { L, H, D } = geom;
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

function sampleRow(V, logits, offset, rand) {
  let max = -Infinity;
  for (let v = 0; v < V; v++) max = Math.max(max, logits[offset + v]);
  let sum = 0;
  const p = new Float64Array(V);
  for (let v = 0; v < V; v++) sum += p[v] = Math.exp(logits[offset + v] - max);
  let u = rand() * sum;
  for (let v = 0; v < V; v++) if ((u -= p[v]) <= 0) return v;
  return V - 1;
}

/**
 * `seqs` teacher-forcing inputs [class, t0 … t(SEQ−2)], alternately conditional and null-class,
 * sampled from `session` (one full call per token), or uniform tokens when `random` (a
 * random-init model samples noise anyway, and uniform tokens skip SEQ calls of a large graph).
 */
export async function sampleSequences(geom, session, seqs, random = false) {
  const { V, SEQ } = geom;
  const rand = xorshift32(12345);
  const rows = Array.from({ length: seqs }, (_, i) => [
    i % 2 ? geom.nullClassId : (i >> 1) % geom.numClasses,
  ]);
  if (random)
    return rows.map((row) => [
      ...row,
      ...Array.from({ length: SEQ - 1 }, () => Math.floor(rand() * V)),
    ]);
  for (let p = 1; p < SEQ; p++) {
    const out = await session.run(feeds(geom, rows, 0, null));
    const logits = out.logits.data;
    rows.forEach((row, r) => row.push(sampleRow(V, logits, (r * p + p - 1) * V, rand)));
  }
  return rows;
}

/** Per-row slices [1, H, P, D] of a [B, H, T, D] tensor, first P positions. */
export function sliceCache(tensor, row, p) {
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

function logSoftmax(V, x, offset) {
  let max = -Infinity;
  for (let v = 0; v < V; v++) max = Math.max(max, x[offset + v]);
  let sum = 0;
  for (let v = 0; v < V; v++) sum += Math.exp(x[offset + v] - max);
  const lse = max + Math.log(sum);
  const out = new Float64Array(V);
  for (let v = 0; v < V; v++) out[v] = x[offset + v] - lse;
  return out;
}

function argmax(V, x, offset) {
  let best = 0;
  for (let v = 1; v < V; v++) if (x[offset + v] > x[offset + best]) best = v;
  return best;
}

/**
 * Teacher-forced logits [seqs, SEQ, V] of a reference and a test graph: top-1 agreement and
 * mean KL(ref ‖ test) of the next-token distributions, holistic and patch positions apart.
 */
export function compare(geom, ref, test, seqs) {
  const { V, M, SEQ } = geom;
  const acc = { holistic: { n: 0, agree: 0, kl: 0 }, patch: { n: 0, agree: 0, kl: 0 } };
  let maxAbs = 0;
  for (let r = 0; r < seqs; r++) {
    for (let p = 0; p < SEQ; p++) {
      const o = (r * SEQ + p) * V;
      const a = logSoftmax(V, ref, o);
      const b = logSoftmax(V, test, o);
      let kl = 0;
      for (let v = 0; v < V; v++) {
        kl += Math.exp(a[v]) * (a[v] - b[v]);
        maxAbs = Math.max(maxAbs, Math.abs(ref[o + v] - test[o + v]));
      }
      const bucket = p < M ? acc.holistic : acc.patch;
      bucket.n++;
      bucket.kl += kl;
      bucket.agree += argmax(V, ref, o) === argmax(V, test, o) ? 1 : 0;
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
export async function rowInvariance(geom, session, seqIds, caches, past) {
  const { V } = geom;
  const run = async (rows) => {
    const ids = rows.map((r) => [seqIds[r][past]]);
    const out = await session.run(feeds(geom, ids, past, stackCaches(caches, rows)));
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

/**
 * Timing inputs: `step<B>` is one decode step of B rows (T = 1) over a random cache of `past`
 * positions, for each B of `rowsList`; with `holisticSteps`, `holisticStep<B>` is the same step at
 * the last holistic position (every row before M: the output head's other half);
 * `holisticPrefill2` is class + M holistic tokens of 2 rows in one call over an empty cache.
 */
export function stepInputs(geom, rowsList, past, { prefill = true, holisticSteps = false } = {}) {
  const { L, H, D, V, M } = geom;
  const randomCache = (b, positions) => {
    const cache = {};
    const rand = xorshift32(7);
    for (let l = 0; l < L; l++) {
      for (const kind of ['key', 'value']) {
        cache[`${kind}_${l}`] = Float32Array.from(
          { length: b * H * positions * D },
          () => rand() - 0.5,
        );
      }
    }
    return cache;
  };
  const inputs = {};
  for (const b of rowsList) {
    const ids = Array.from({ length: b }, (_, r) => [(r * 37) % V]);
    inputs[`step${b}`] = feeds(geom, ids, past, randomCache(b, past));
    if (holisticSteps) inputs[`holisticStep${b}`] = feeds(geom, ids, M - 1, randomCache(b, M - 1));
  }
  if (prefill) {
    const prefillIds = Array.from({ length: 2 }, (_, r) => [
      r % geom.numClasses,
      ...Array.from({ length: M }, (_, j) => (r + j * 13) % V),
    ]);
    inputs.holisticPrefill2 = feeds(geom, prefillIds, 0, null);
  }
  return inputs;
}

/**
 * One round of timing: each input run on every session back to back, `steps` times (a prefill
 * `steps / 4` times), the sessions' order reversed in odd rounds, so load from other processes
 * and its drift hit the variants alike and each round's ratio of two variants pairs up; pushes
 * ms per call into `samples[name][input]`. Callers run several rounds and take medians.
 */
export async function timeRound(sessions, inputs, steps, samples, round) {
  const order = round % 2 ? [...sessions].reverse() : sessions;
  for (const [key, f] of Object.entries(inputs)) {
    for (const [name, session] of order) {
      const reps = /^(step|holisticStep)/.test(key) ? steps : Math.max(1, steps >> 2);
      const start = process.hrtime.bigint();
      for (let i = 0; i < reps; i++) await session.run(f);
      const ms = Number(process.hrtime.bigint() - start) / 1e6 / reps;
      ((samples[name] ??= {})[key] ??= []).push(ms);
    }
  }
}

export async function warmUp(sessions, inputs) {
  for (const [, session] of sessions) for (const f of Object.values(inputs)) await session.run(f);
}

/** {name: {input: [ms…]}} → {name: {input: median ms, 3 decimals}}. */
export function medians(samples) {
  return Object.fromEntries(
    Object.entries(samples).map(([name, byKey]) => [
      name,
      Object.fromEntries(Object.entries(byKey).map(([k, xs]) => [k, +median(xs).toFixed(3)])),
    ]),
  );
}
