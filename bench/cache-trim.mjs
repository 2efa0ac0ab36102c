#!/usr/bin/env node
/**
 * KvCache trimming (issue 12): the same GPT session through the batching engine with the cache fed
 * whole (every slot, masked) and trimmed (the capacity its rows need, kv-cache.ts), side by side
 * in one run, rounds alternating which goes first:
 * - GPT seconds per job of `--images` CFG images (2 rows each), every precision asked for, and
 *   whether both gave the same tokens (they must: trimming changes no bit where the probe allows it);
 * - ms per 2-row step at the positions of `--sweep`, over a cache of that many slots, fed whole
 *   or at the rung that holds it.
 * Wall and CPU seconds (the process's, every ORT thread): on a shared machine the CPU time
 * moves less with the neighbours' load. Prints JSON lines (bench/results/cache-trim.jsonl) and a
 * table. Needs `npm run build`.
 *
 *   node bench/cache-trim.mjs [--model DIR] [--precisions fp32,int8] [--images 1,8] [--rounds 3]
 *       [--sweep 10,100,200,300,400,500,568] [--steps 5] [--threads 2]
 *
 * The official-size model: --model ~/.cache/hita-serve/official-size/<dir> (bench/official-model.mjs).
 */
import { Buffer } from 'node:buffer';
import * as ort from 'onnxruntime-node';
import { loadModel } from '../dist/inference/model/model-loader.js';
import { isLoneRowInvariant } from '../dist/inference/ort/row-invariance.js';
import { isCacheTrimInvariant } from '../dist/inference/ort/trim-invariance.js';
import { BatchingEngine } from '../dist/inference/pipeline/batching-engine.js';
import { capacityLadder } from '../dist/inference/pipeline/kv-cache.js';
import { FREE } from '../dist/inference/pipeline/token-layout.js';
import { median, openSession, parseFlags, recordFigure } from './probe-support.mjs';

const args = parseFlags({
  model: 'models/hita-tiny-emoji',
  precisions: 'fp32,int8,int4',
  images: [1, 8],
  rounds: 3,
  sweep: [],
  steps: 5,
  threads: 2,
});
const SAMPLING = { cfgScale: 1.5, temperature: 1, topK: 0, topP: 1 };
const model = await loadModel(args.model);
const { gpt } = model.manifest;
const positions = gpt.maxPositions;
const kv = { layers: gpt.numLayers, heads: gpt.numHeads, headDim: gpt.headDim, positions };
const rows = [];

for (const precision of args.precisions.split(',')) {
  const session = await openSession(model.gptPath(precision), args.threads);
  let started = performance.now();
  const isInvariant = await isCacheTrimInvariant(session, model.manifest, [1, 5]);
  const probeMs = performance.now() - started;
  const padLoneRows = !(await isLoneRowInvariant(session, model.manifest));
  const engine = (trimCache) =>
    new BatchingEngine({
      session,
      kv,
      vocabSize: gpt.vocabSize,
      nullClassId: gpt.nullClassId,
      padLoneRows,
      trimCache,
    });
  const job = (images, seed) => ({
    id: `j${seed}`,
    sequences: Array.from({ length: images }, (_, i) => ({
      classId: (seed + i) % gpt.numClasses,
      seed: seed + i,
      sampling: SAMPLING,
      forced: new Int32Array(positions).fill(FREE),
    })),
  });
  for (const images of args.images) {
    await engine(true).submit(job(images, 7)); // warm: every shape of the ladder
    const seconds = { full: [], trimmed: [] };
    const cpu = { full: [], trimmed: [] };
    let isSame = true;
    for (let r = 0; r < args.rounds; r++) {
      const order = r % 2 ? ['trimmed', 'full'] : ['full', 'trimmed'];
      const tokens = {};
      for (const side of order) {
        started = performance.now();
        const before = process.cpuUsage();
        tokens[side] = await engine(side === 'trimmed').submit(job(images, 100 * r));
        seconds[side].push((performance.now() - started) / 1000);
        cpu[side].push(cpuSeconds(process.cpuUsage(before)));
      }
      isSame &&= tokens.full.every((t, i) =>
        Buffer.from(t.buffer).equals(Buffer.from(tokens.trimmed[i].buffer)),
      );
    }
    const full = median(seconds.full);
    const trimmed = median(seconds.trimmed);
    const row = {
      precision,
      images,
      fullSeconds: full,
      trimmedSeconds: trimmed,
      speedup: full / trimmed,
      fullCpuSeconds: median(cpu.full),
      trimmedCpuSeconds: median(cpu.trimmed),
      cpuRatio: median(cpu.full) / median(cpu.trimmed),
      isSame,
      isInvariant,
      probeMs,
    };
    recordFigure('cache-trim', { model: model.manifest.id, kind: 'job', ...row });
    rows.push(row);
  }
  for (const past of args.sweep) {
    const ms = { full: [], trimmed: [] };
    const cpuMs = { full: [], trimmed: [] };
    const capacity = capacityLadder(positions).find((c) => c > past);
    const sides = { full: stepFeeds(positions, past), trimmed: stepFeeds(capacity, past) };
    // One untimed call per shape first: ORT plans a new shape's buffers on its first run.
    for (const feeds of Object.values(sides)) await session.run(feeds);
    for (let r = 0; r < args.rounds; r++) {
      for (const side of r % 2 ? ['trimmed', 'full'] : ['full', 'trimmed']) {
        const feeds = sides[side];
        started = performance.now();
        const before = process.cpuUsage();
        for (let s = 0; s < args.steps; s++) await session.run(feeds);
        ms[side].push((performance.now() - started) / args.steps);
        cpuMs[side].push((1000 * cpuSeconds(process.cpuUsage(before))) / args.steps);
      }
    }
    const full = median(ms.full);
    const trimmed = median(ms.trimmed);
    const row = {
      precision,
      past,
      capacity,
      fullMs: full,
      trimmedMs: trimmed,
      speedup: full / trimmed,
      fullCpuMs: median(cpuMs.full),
      trimmedCpuMs: median(cpuMs.trimmed),
      cpuRatio: median(cpuMs.full) / median(cpuMs.trimmed),
    };
    recordFigure('cache-trim', { model: model.manifest.id, kind: 'step', ...row });
    rows.push(row);
  }
  await session.release();
}

/** User + system seconds of a process.cpuUsage difference (every ORT thread included). */
function cpuSeconds({ user, system }) {
  return (user + system) / 1e6;
}

/** A 2-row step at position `past` over a cache of `slots` slots (the first `past` unmasked). */
function stepFeeds(slots, past) {
  const b = 2;
  const mask = new Uint8Array(b * (slots + 1));
  for (let r = 0; r < b; r++) {
    mask.fill(1, r * (slots + 1), r * (slots + 1) + past);
    mask[r * (slots + 1) + slots] = 1;
  }
  const i64 = (v) => new BigInt64Array(b).fill(BigInt(v));
  const feeds = {
    input_ids: new ort.Tensor('int64', i64(1), [b, 1]),
    position_ids: new ort.Tensor('int64', i64(past), [b, 1]),
    attention_mask: new ort.Tensor('bool', mask, [b, slots + 1]),
  };
  const cache = new Float32Array(b * gpt.numHeads * slots * gpt.headDim).fill(0.01);
  for (let l = 0; l < gpt.numLayers; l++) {
    for (const kind of ['key', 'value']) {
      feeds[`past_${kind}_${l}`] = new ort.Tensor('float32', cache, [
        b,
        gpt.numHeads,
        slots,
        gpt.headDim,
      ]);
    }
  }
  return feeds;
}

console.table(rows);
