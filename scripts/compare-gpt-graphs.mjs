// Are two GPT step graphs bitwise the same function on this machine's onnxruntime? Used by the
// toolchain tests to prove that a graph rewrite (tools/hita/head_split.py) changes no output bit,
// for fp32 and the quantized variants alike, or, with --tolerance, that one which rounds
// differently (tools/hita/attention_split.py) stays within `tol · (1 + |a|)` of every output.
//   node scripts/compare-gpt-graphs.mjs MODEL_DIR A.onnx B.onnx [--threads N] [--tolerance TOL]
// MODEL_DIR's model.json gives the sizes. Each case feeds both graphs the same inputs: decode
// steps (T = 1 over a random cache) at 1, 2, 8 and 16 rows, every row before M, every row past M,
// or mixed; and prefills over the whole sequence (holistic and patch positions in one call).
// Prints one JSON line {cases, equal, differences, maxAbsDifference}; exits 0 when every output of
// every case is equal (bitwise, or within the tolerance), 1 when one is not, 2 on a usage error.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { openSession, xorshift32 } from '../bench/probe-support.mjs';

const argv = process.argv.slice(2);
const threadsAt = argv.indexOf('--threads');
const threads = threadsAt >= 0 ? Number(argv.splice(threadsAt, 2)[1]) : 2;
const toleranceAt = argv.indexOf('--tolerance');
const tolerance = toleranceAt >= 0 ? Number(argv.splice(toleranceAt, 2)[1]) : 0;
if (argv.length !== 3 || !(threads >= 1) || !(tolerance >= 0)) {
  console.error(
    'usage: node scripts/compare-gpt-graphs.mjs MODEL_DIR A.onnx B.onnx [--threads N] [--tolerance TOL]',
  );
  process.exit(2);
}
const [modelDir, fileA, fileB] = argv;
const g = JSON.parse(readFileSync(join(modelDir, 'model.json'), 'utf8')).gpt;
const [L, H, D, V, M, SEQ] = [
  g.numLayers,
  g.numHeads,
  g.headDim,
  g.vocabSize,
  g.numHolistic,
  g.maxPositions,
];

/** Feeds for `positions` [B][T] (each row consecutive, its cache the positions before its first). */
function feeds(positions, rand) {
  const b = positions.length;
  const t = positions[0].length;
  const past = Math.max(...positions.map((row) => row[0]));
  const ids = positions.flat().map((p) => (p === 0 ? 0 : Math.floor(rand() * V)));
  const mask = new Uint8Array(b * (past + t));
  positions.forEach((row, r) => {
    // Left-padded cache: row r holds row[0] real positions at the end of the `past` slots.
    for (let j = past - row[0]; j < past + t; j++) mask[r * (past + t) + j] = 1;
  });
  const f = {
    input_ids: new ort.Tensor('int64', BigInt64Array.from(ids, BigInt), [b, t]),
    position_ids: new ort.Tensor('int64', BigInt64Array.from(positions.flat(), BigInt), [b, t]),
    attention_mask: new ort.Tensor('bool', mask, [b, past + t]),
  };
  for (let l = 0; l < L; l++) {
    for (const kind of ['key', 'value']) {
      const data = Float32Array.from({ length: b * H * past * D }, () => rand() * 2 - 1);
      f[`past_${kind}_${l}`] = new ort.Tensor('float32', data, [b, H, past, D]);
    }
  }
  return f;
}

function cases() {
  const out = [];
  for (const rows of [1, 2, 8, 16]) {
    const at = (p) => Array.from({ length: rows }, (_, r) => [Math.min(p + r, SEQ - 1)]);
    out.push([`step ${rows} rows before M`, at(Math.max(1, M - rows))]);
    out.push([`step ${rows} rows past M`, at(M + 3)]);
    if (rows > 1) {
      out.push([
        `step ${rows} rows mixed`,
        Array.from({ length: rows }, (_, r) => [M - 1 + (r % 2) * 5]),
      ]);
    }
  }
  out.push(['class only (position 0), 2 rows', [[0], [0]]]);
  for (const rows of [1, 2]) {
    const whole = Array.from({ length: SEQ }, (_, p) => p);
    out.push([
      `prefill of the whole sequence, ${rows} rows`,
      Array.from({ length: rows }, () => whole),
    ]);
  }
  return out;
}

function bitwiseEqual(a, b) {
  if (a.length !== b.length) return false;
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

let maxAbsDifference = 0;
/** Every element within tolerance · (1 + |a|); NaN anywhere is a difference. */
function closeEnough(a, b) {
  if (a.length !== b.length) return false;
  let close = true;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= tolerance * (1 + Math.abs(a[i])))) close = false;
    if (d > maxAbsDifference || Number.isNaN(d)) maxAbsDifference = d;
  }
  return close;
}

const [a, b] = await Promise.all([fileA, fileB].map((f) => openSession(f, threads)));
const differences = [];
const list = cases();
for (const [i, [name, positions]] of list.entries()) {
  const input = feeds(positions, xorshift32(1000 + i));
  const [outA, outB] = [await a.run(input), await b.run(input)];
  for (const key of a.outputNames) {
    const same = tolerance > 0 ? closeEnough : bitwiseEqual;
    if (!same(outA[key].data, outB[key].data)) differences.push(`${name}: ${key}`);
  }
}
const equal = differences.length === 0;
console.log(JSON.stringify({ cases: list.length, equal, differences, maxAbsDifference }));
process.exit(differences.length ? 1 : 0);
