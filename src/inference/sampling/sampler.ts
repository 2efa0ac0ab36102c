/**
 * Token choice for one sequence and step: the processor pipeline, then greedy argmax or an
 * inverse-CDF draw with a uniform from the sequence's `RowRng`. `tools/hita/sample.py`
 * (`choose_token`, `greedy`, `sample_from_uniform`) is the spec.
 */
import { errors } from '../../errors.js';
import { applyPipeline, buildPipeline, maxLogit, type LogitsProcessor } from './processors.js';
import type { SamplingParams } from '../../jobs/sampling-params.js';

/**
 * Inverse-CDF sampling in index order: with w_i = exp(x_i − max) in float64 (0 for -Infinity),
 * returns the first i whose running sum Σ_{j≤i} w_j exceeds u·Σ w. The running sum grows only at
 * entries with w_i > 0, so a masked index is never returned; should rounding carry u·Σ w to the end,
 * the last entry with w_i > 0 is returned.
 *
 * @param logits one row, read only
 * @param u a uniform in [0, 1), e.g. `RowRng.uniform(step)`
 * @throws AppError `GENERATION_FAILED` when every entry is masked or one is NaN
 * @throws RangeError when u is outside [0, 1)
 */
export function sampleToken(logits: Float32Array, u: number): number {
  if (!(u >= 0 && u < 1)) throw new RangeError(`u must be in [0, 1), got ${u}`);
  const n = logits.length;
  if (weights.length < n) weights = new Float64Array(n);
  const total = expWeights(logits, weights);
  return inverseCdf(weights, n, total, u);
}

/**
 * w_i = exp(x_i − max) in float64 into `out` (0 for -Infinity); returns Σ w in index order.
 * @throws AppError `GENERATION_FAILED` when every entry is masked or one is NaN
 */
function expWeights(logits: Float32Array, out: Float64Array): number {
  const max = maxLogit(logits);
  let total = 0;
  // exp is the cost here: compute each weight once (same values, same order, same sums).
  for (let i = 0; i < logits.length; i++) {
    const w = Math.exp(logits[i]! - max);
    out[i] = w;
    total += w;
  }
  return total;
}

/**
 * Inverse-CDF draw over non-negative weights in index order: the first i < n whose running sum
 * exceeds u·total, else the last index with a positive weight (rounding can carry u·total to
 * the end). The one draw every sampled token goes through: AR tokens, speculative drafts and
 * their residual resamples (speculative-acceptance.ts).
 *
 * @param weights at least n entries, at least one of them positive
 * @param total Σ weights[0..n), summed in index order
 * @param u a uniform in [0, 1)
 */
export function inverseCdf(weights: Float64Array, n: number, total: number, u: number): number {
  let last = n - 1;
  while (last > 0 && !(weights[last]! > 0)) last--;
  const target = u * total;
  let cumulative = 0;
  for (let i = 0; i < last; i++) {
    cumulative += weights[i]!;
    if (cumulative > target) return i;
  }
  return last;
}

let weights = new Float64Array(0);

/**
 * Argmax; the lowest index among equal maxima.
 *
 * @throws AppError `GENERATION_FAILED` when every entry is masked or one is NaN
 */
export function greedyToken(logits: Float32Array): number {
  const max = maxLogit(logits);
  return logits.indexOf(max);
}

interface CachedPipeline {
  cfgScale: number;
  temperature: number;
  topK: number;
  topP: number;
  pipeline: LogitsProcessor[];
}

// Params objects live as long as their request, so each builds its pipeline once. The knob values
// are compared too, in case a caller reuses and mutates one object.
const pipelines = new WeakMap<SamplingParams, CachedPipeline>();
let defaultScratch: Float32Array = new Float32Array(0);

function pipelineFor(params: SamplingParams): LogitsProcessor[] {
  const { cfgScale, temperature, topK, topP } = params;
  const cached = pipelines.get(params);
  if (
    cached?.cfgScale === cfgScale &&
    cached.temperature === temperature &&
    cached.topK === topK &&
    cached.topP === topP
  ) {
    return cached.pipeline;
  }
  const pipeline = buildPipeline(params);
  pipelines.set(params, { cfgScale, temperature, topK, topP, pipeline });
  return pipeline;
}

/**
 * Chooses the next token of one sequence: copies `cond` into `scratch`, runs the active processors
 * (CFG merge with `uncond`, temperature, top-k, top-p), then takes the argmax when temperature is 0
 * or topK is 1 and samples with `u` otherwise. Never writes `cond` or `uncond`.
 *
 * @param cond the conditional logits [V]
 * @param uncond the unconditional logits [V]; required when cfgScale > 1, ignored otherwise
 * @param params validated knobs (`validateSamplingParams`)
 * @param u a uniform in [0, 1) for this sequence and step
 * @param scratch a buffer of at least V floats to work in; it holds the processed logits afterwards
 *   @default a module-owned buffer reused across calls
 * @throws AppError `GENERATION_FAILED` for a missing or mis-sized uncond row, NaN logits or a row
 *   with every entry masked
 */
export function chooseToken(
  cond: Float32Array,
  uncond: Float32Array | null,
  params: SamplingParams,
  u: number,
  scratch?: Float32Array,
): number {
  const n = cond.length;
  let buffer = scratch;
  if (buffer === undefined) {
    if (defaultScratch.length < n) defaultScratch = new Float32Array(n);
    buffer = defaultScratch;
  } else if (buffer.length < n) {
    throw errors.generationFailed(`scratch holds ${buffer.length} floats, the row ${n}`);
  }
  const row = buffer.length === n ? buffer : buffer.subarray(0, n);
  row.set(cond);
  applyPipeline(pipelineFor(params), row, uncond);
  return params.temperature === 0 || params.topK === 1 ? greedyToken(row) : sampleToken(row, u);
}

/**
 * The distribution `chooseToken` draws from, as probabilities: the processed logits (CFG merge,
 * temperature, top-k, top-p: the same pipeline) through a float64 softmax, or a one-hot vector on
 * the argmax where `chooseToken` is greedy (temperature 0 or topK 1). Speculative decoding
 * verifies drafts against it (speculative-acceptance.ts).
 *
 * @param cond the conditional logits [V]
 * @param uncond the unconditional logits [V]; required when cfgScale > 1
 * @param params validated knobs
 * @param scratch at least V floats; holds the processed logits afterwards
 * @param out at least V doubles; receives the probabilities (entries past V untouched)
 * @throws AppError `GENERATION_FAILED` as `chooseToken`
 */
export function processedDistribution(
  cond: Float32Array,
  uncond: Float32Array | null,
  params: SamplingParams,
  scratch: Float32Array,
  out: Float64Array,
): void {
  const n = cond.length;
  if (scratch.length < n || out.length < n) {
    throw errors.generationFailed(`buffers hold ${scratch.length}/${out.length}, the row ${n}`);
  }
  const row = scratch.length === n ? scratch : scratch.subarray(0, n);
  row.set(cond);
  applyPipeline(pipelineFor(params), row, uncond);
  if (params.temperature === 0 || params.topK === 1) {
    out.fill(0, 0, n);
    out[greedyToken(row)] = 1;
    return;
  }
  const total = expWeights(row, out);
  for (let i = 0; i < n; i++) out[i] = out[i]! / total;
}
