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
  const max = maxLogit(logits);
  const n = logits.length;
  // exp is the cost here: compute each weight once (same values, same order, same sums).
  if (weights.length < n) weights = new Float64Array(n);
  let total = 0;
  let last = -1;
  for (let i = 0; i < n; i++) {
    const w = Math.exp(logits[i]! - max);
    weights[i] = w;
    total += w;
    if (w > 0) last = i;
  }
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
