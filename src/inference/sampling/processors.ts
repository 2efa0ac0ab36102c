/**
 * Logit processors: each mutates one float32 logit row in place. The fixed order (SPEC §3, LlamaGen
 * `generate.py` / `top_k_top_p_filtering`) is CFG merge → temperature → top-k → top-p, and
 * `buildPipeline` keeps only the stages whose knob is active. `tools/hita/sample.py` is the spec.
 *
 * Numerics: every write is rounded to float32, op by op, as PyTorch's float32 kernels do; softmax
 * masses are float64 with sums in a fixed order. Masked entries are -Infinity.
 *
 * Tie rules (the official code leaves them to `torch.topk` / `torch.sort`):
 * - top-k keeps exactly k entries; among entries equal to the k-th largest value the lowest indices
 *   are kept (the official `logits < kth` keeps every tie, which differs only on exact float ties);
 * - top-p orders by value descending, lower index first among equal values.
 *
 * Processors share module-level scratch buffers: they are synchronous and never re-entered.
 */
import { errors } from '../../errors.js';
import type { SamplingParams } from '../../jobs/sampling-params.js';

/** The official lower bound on the temperature divisor, `max(T, 1e-5)`. */
export const MIN_TEMPERATURE = 1e-5;

/** The stages, in the order they run. */
export type ProcessorName = 'cfg' | 'temperature' | 'top-k' | 'top-p';

/** One stage of the pipeline. */
export interface LogitsProcessor {
  readonly name: ProcessorName;
  /**
   * Mutates `row` in place. `uncond` is the sequence's unconditional row; only `cfg` reads it, and
   * nothing writes it.
   */
  apply(row: Float32Array, uncond: Float32Array | null): void;
}

let selectScratch: Float32Array = new Float32Array(0);
let nucleusScratch: Float32Array = new Float32Array(0);

function growScratch(buffer: Float32Array, n: number): Float32Array {
  return buffer.length >= n ? buffer : new Float32Array(Math.max(n, buffer.length * 2));
}

/**
 * Classifier-free guidance: `cond[i] = uncond[i] + s·(cond[i] − uncond[i])`, each op rounded to float32.
 *
 * @param cond the conditional row, overwritten with the merged logits
 * @param uncond the unconditional row of the same sequence, read only
 * @param scale the guidance scale s
 * @throws AppError `GENERATION_FAILED` when the rows differ in length
 */
export function cfgMerge(cond: Float32Array, uncond: Float32Array, scale: number): void {
  if (cond.length !== uncond.length) {
    throw errors.generationFailed(
      `CFG rows differ in length: cond ${cond.length}, uncond ${uncond.length}`,
    );
  }
  const s = Math.fround(scale);
  for (let i = 0; i < cond.length; i++) {
    const u = uncond[i]!;
    cond[i] = u + Math.fround(s * Math.fround(cond[i]! - u));
  }
}

/**
 * Divides the row by max(T, 1e-5) (the divisor rounded to float32). T = 0 thus leaves the argmax
 * in place while making the distribution nearly one-hot.
 */
export function applyTemperature(row: Float32Array, temperature: number): void {
  const t = Math.fround(Math.max(temperature, MIN_TEMPERATURE));
  for (let i = 0; i < row.length; i++) row[i] = row[i]! / t;
}

/**
 * The element that would sit at index `target` of `a[0..n)` sorted ascending (Hoare quickselect with
 * a median-of-three pivot; reorders `a`). `a` must not contain NaN.
 */
function selectNth(a: Float32Array, n: number, target: number): number {
  let lo = 0;
  let hi = n - 1;
  while (lo < hi) {
    const x = a[lo]!;
    const y = a[(lo + hi) >>> 1]!;
    const z = a[hi]!;
    const pivot = x < y ? (y < z ? y : x < z ? z : x) : x < z ? x : y < z ? z : y;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i]! < pivot) i++;
      while (a[j]! > pivot) j--;
      if (i <= j) {
        const swap = a[i]!;
        a[i++] = a[j]!;
        a[j--] = swap;
      }
    }
    // Now a[lo..j] ≤ pivot ≤ a[i..hi], and everything strictly between j and i equals the pivot.
    if (target <= j) hi = j;
    else if (target >= i) lo = i;
    else return pivot;
  }
  return a[target]!;
}

/**
 * Top-k: keeps exactly the k largest entries and sets the rest to -Infinity. Among entries equal to
 * the k-th largest value, the lowest indices are kept. k ≥ row length leaves the row unchanged.
 *
 * @param k a positive integer
 * @throws AppError `GENERATION_FAILED` when an entry is NaN
 */
export function topKFilter(row: Float32Array, k: number): void {
  const n = row.length;
  if (k >= n) return;
  selectScratch = growScratch(selectScratch, n);
  const values = selectScratch;
  let greater = 0;
  for (let i = 0; i < n; i++) {
    const x = row[i]!;
    if (x !== x) throw errors.generationFailed(`logit ${i} is NaN`);
    values[i] = x;
  }
  const kth = selectNth(values, n, n - k);
  for (let i = 0; i < n; i++) if (row[i]! > kth) greater++;
  let tiesLeft = k - greater; // ≥ 1: at most k − 1 entries exceed the k-th largest
  for (let i = 0; i < n; i++) {
    const x = row[i]!;
    if (x > kth) continue;
    if (x === kth && tiesLeft > 0) tiesLeft--;
    else row[i] = -Infinity;
  }
}

/**
 * Top-p (nucleus): orders entries by value descending (lower index first on ties), accumulates their
 * softmax probabilities in float64, and keeps every entry up to and including the first whose
 * cumulative probability exceeds p, as the official code does (remove i iff cum[i − 1] > p): the
 * token that crosses p is always kept. The rest become -Infinity. p ≥ 1 leaves the row unchanged.
 *
 * Only entries with probability above (1 − p) / (2n) are sorted: together they hold more than p of
 * the mass and precede every other entry in the order, so the cut falls among them; if rounding says
 * otherwise, all non-masked entries are sorted instead.
 *
 * @param p the nucleus mass in (0, 1]
 * @throws AppError `GENERATION_FAILED` when every entry is masked or one is NaN
 */
export function topPFilter(row: Float32Array, p: number): void {
  if (p >= 1) return;
  const n = row.length;
  const max = maxLogit(row);
  let total = 0;
  for (let i = 0; i < n; i++) total += Math.exp(row[i]! - max); // exp(-Infinity) = 0
  const cut = findNucleusCut(row, p, max, total, (1 - p) / (2 * n)) ??
    findNucleusCut(row, p, max, total, 0) ?? { value: -Infinity, count: n };
  // Keep values above the cut, and the lowest-index `count − greater` entries equal to it.
  let tiesLeft = cut.count;
  for (let i = 0; i < n; i++) if (row[i]! > cut.value) tiesLeft--;
  for (let i = 0; i < n; i++) {
    const x = row[i]!;
    if (x > cut.value) continue;
    if (x === cut.value && tiesLeft > 0) tiesLeft--;
    else row[i] = -Infinity;
  }
}

/**
 * Sorts the values whose probability exceeds `minProbability` and walks them from the largest,
 * returning the value of the first entry whose cumulative probability exceeds p and how many entries
 * the kept prefix holds; null when the sorted candidates never cross p.
 */
function findNucleusCut(
  row: Float32Array,
  p: number,
  max: number,
  total: number,
  minProbability: number,
): { value: number; count: number } | null {
  const n = row.length;
  nucleusScratch = growScratch(nucleusScratch, n);
  let count = 0;
  for (let i = 0; i < n; i++) {
    const x = row[i]!;
    if (Math.exp(x - max) / total > minProbability) nucleusScratch[count++] = x;
  }
  const candidates = nucleusScratch.subarray(0, count).sort(); // ascending; walk from the end
  let cumulative = 0;
  for (let j = count - 1; j >= 0; j--) {
    const x = candidates[j]!;
    cumulative += Math.exp(x - max) / total;
    if (cumulative > p) return { value: x, count: count - j };
  }
  return null;
}

/**
 * The largest non-masked logit.
 *
 * @throws AppError `GENERATION_FAILED` when the row has a NaN or only -Infinity entries
 */
export function maxLogit(row: Float32Array): number {
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) {
    const x = row[i]!;
    if (x > max) max = x;
    else if (x !== x) throw errors.generationFailed(`logit ${i} is NaN`);
  }
  if (max === -Infinity) throw errors.generationFailed('every logit is masked');
  if (max === Infinity) throw errors.generationFailed('a logit is +Infinity');
  return max;
}

/**
 * The active stages for `params`, in order: `cfg` when cfgScale > 1 (with s ≤ 1 there are no
 * unconditional rows at all), `temperature` when T ≠ 1, `top-k` when k > 0, `top-p` when p < 1.
 * Expects validated params (`validateSamplingParams`).
 */
export function buildPipeline(params: SamplingParams): LogitsProcessor[] {
  const { cfgScale, temperature, topK, topP } = params;
  const pipeline: LogitsProcessor[] = [];
  if (cfgScale > 1) {
    pipeline.push({
      name: 'cfg',
      apply(row, uncond) {
        if (uncond === null) {
          throw errors.generationFailed(`cfgScale ${cfgScale} needs the unconditional row`);
        }
        cfgMerge(row, uncond, cfgScale);
      },
    });
  }
  if (temperature !== 1) {
    pipeline.push({ name: 'temperature', apply: (row) => applyTemperature(row, temperature) });
  }
  if (topK > 0) pipeline.push({ name: 'top-k', apply: (row) => topKFilter(row, topK) });
  if (topP < 1) pipeline.push({ name: 'top-p', apply: (row) => topPFilter(row, topP) });
  return pipeline;
}

/** Runs `pipeline` over `row` in order; `uncond` is passed to every stage, read only. */
export function applyPipeline(
  pipeline: readonly LogitsProcessor[],
  row: Float32Array,
  uncond: Float32Array | null,
): void {
  for (const processor of pipeline) processor.apply(row, uncond);
}
