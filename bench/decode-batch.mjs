#!/usr/bin/env node
/**
 * One decode call for N images against N one-image calls of the same `decode.onnx` (issue 12):
 * are the pixels bitwise the same, and how much faster is the batch? Prints one JSON line per
 * batch size and appends them to bench/results/decode-batch.jsonl.
 *
 *   node bench/decode-batch.mjs [--model models/hita-tiny-emoji] [--batches 2,4,8] [--threads 2]
 *       [--rounds 7] [--sets 4] [--label TEXT]
 *
 * - equality: the float32 image of every batched image against its one-image decode, bit for
 *   bit (counted differing values and the largest difference), over several seeded id sets.
 * - speed: ms per image, one-image calls and the batched call timed back to back in each round
 *   (order alternating), the speed-up being the median of the per-round ratios.
 */
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import * as ort from 'onnxruntime-node';
import { median, openSession, parseFlags, recordFigure, xorshift32 } from './probe-support.mjs';

const args = parseFlags({
  model: 'models/hita-tiny-emoji',
  batches: [2, 4, 8],
  threads: cpus().length,
  rounds: 7,
  sets: 4,
  label: '',
});
const modelDir = resolve(args.model);
const manifest = JSON.parse(readFileSync(join(modelDir, 'model.json'), 'utf8'));
const { numHolistic: m, numPatch: n, codebookSize: k } = manifest.tokenizer;

const session = await openSession(join(modelDir, manifest.graphs.decode.file), args.threads);

/** Seeded ids in [0, k): the same images on every run. */
function ids(count, length, seed) {
  const rand = xorshift32(seed);
  return BigInt64Array.from({ length: count * length }, () => BigInt(Math.floor(rand() * k)));
}

async function decode(holistic, patch, count) {
  const out = await session.run({
    holistic_ids: new ort.Tensor('int64', holistic, [count, m]),
    patch_ids: new ort.Tensor('int64', patch, [count, n]),
  });
  return out.image.data;
}

async function singles(holistic, patch, count) {
  const images = [];
  for (let i = 0; i < count; i++) {
    images.push(
      await decode(holistic.subarray(i * m, (i + 1) * m), patch.subarray(i * n, (i + 1) * n), 1),
    );
  }
  return images;
}

function compare(batched, images) {
  const size = images[0].length;
  let differing = 0;
  let maxAbs = 0;
  images.forEach((image, i) => {
    const a = new Uint32Array(image.buffer, image.byteOffset, size);
    const slice = batched.subarray(i * size, (i + 1) * size);
    const b = new Uint32Array(slice.buffer, slice.byteOffset, size);
    for (let j = 0; j < size; j++) {
      if (a[j] !== b[j]) {
        differing++;
        maxAbs = Math.max(maxAbs, Math.abs(image[j] - slice[j]));
      }
    }
  });
  return { differing, maxAbs, values: size * images.length };
}

for (const count of args.batches) {
  const equality = { differing: 0, maxAbs: 0, values: 0, sets: 0 };
  for (let set = 0; set < args.sets; set++) {
    const holistic = ids(count, m, 17 + 101 * set + count);
    const patch = ids(count, n, 29 + 101 * set + count);
    const result = compare(
      await decode(holistic, patch, count),
      await singles(holistic, patch, count),
    );
    equality.differing += result.differing;
    equality.maxAbs = Math.max(equality.maxAbs, result.maxAbs);
    equality.values += result.values;
    equality.sets++;
  }
  const holistic = ids(count, m, 5);
  const patch = ids(count, n, 6);
  await decode(holistic, patch, count); // warm-up of this shape
  const single = [];
  const batched = [];
  for (let round = 0; round < args.rounds; round++) {
    const time = async (fn) => {
      const start = process.hrtime.bigint();
      await fn();
      return Number(process.hrtime.bigint() - start) / 1e6 / count;
    };
    const one = () => time(() => singles(holistic, patch, count));
    const all = () => time(() => decode(holistic, patch, count));
    if (round % 2) {
      batched.push(await all());
      single.push(await one());
    } else {
      single.push(await one());
      batched.push(await all());
    }
  }
  recordFigure('decode-batch', {
    model: manifest.id,
    threads: args.threads,
    label: args.label,
    images: count,
    bitwiseEqual: equality.differing === 0,
    equality,
    msPerImage: { single: +median(single).toFixed(3), batched: +median(batched).toFixed(3) },
    speedup: +median(single.map((s, r) => s / batched[r])).toFixed(3),
    rounds: args.rounds,
    loadavg: loadavg(),
  });
}
