/**
 * The start-up check behind KvCache trimming: is a row's step bitwise the same when its past is
 * fed with fewer trailing (masked) slots? Masked slots add exact zeros to the attention's sums,
 * but a kernel's vector lanes and loop tails follow the row length, so only some shorter lengths
 * keep every addition in its place (on AVX2, those ≡ the full length mod 8). The cache only takes
 * the capacities of `capacityLadder`; this runs each of them against the full slot count, on a
 * random cache, for the calls the engine makes: one position per row (AR) and k + 1 (speculative
 * verification), with the most slots a row can have filled at that capacity (C − 1: the next
 * position's slot is always free) and fewer. A graph that builds its attention with one Concat
 * of the cache and the new keys fails at official size for k + 1 positions (the many-row matrix
 * product sums its long inner dimension in blocks, and the new positions land in another block
 * than over all slots); one that attends to the cache and the new positions apart passes.
 */
import * as ort from 'onnxruntime-node';
import type { ModelManifest } from '../model/model-manifest.js';
import { capacityLadder } from '../pipeline/kv-cache.js';
import { tokenLayout } from '../pipeline/token-layout.js';
import { bitwiseEqual } from './row-invariance.js';

/** A probe call's geometry: the slots fed, each row's filled slots, positions per row. */
interface ProbeCall {
  positions: number;
  capacity: number;
  filled: readonly number[];
  span: number;
}

/**
 * @param spans the T of the engine's calls with a past: 1, and k + 1 for speculative rows
 * @returns true when every output (logits, new keys and values) of every row at every trimmed
 *   capacity equals the full cache's, bit for bit
 */
export async function isCacheTrimInvariant(
  session: ort.InferenceSession,
  manifest: ModelManifest,
  spans: readonly number[],
): Promise<boolean> {
  const positions = tokenLayout(manifest).length;
  const { headDim } = manifest.gpt;
  // One random head of `positions` slots, shared by every row, head, layer, key and value: the
  // check is about where the sums' terms sit, not about what they are.
  const head = Float32Array.from({ length: positions * headDim }, (_, i) => noise(i));
  const capacities = capacityLadder(positions).slice(0, -1);
  // Two rows per capacity: the fullest a row can be there, and half as full. All of them go
  // through one call over every slot, each capacity's pair through one call of its own (pairs:
  // a lone row may take another kernel, row-invariance.ts), so it costs 1 + rungs calls a span.
  const pairs = capacities.map((c) => [c - 1, c >> 1]);
  for (const span of spans) {
    const everySlot = { positions, capacity: positions, filled: pairs.flat(), span };
    const full = await runProbe(session, manifest, head, everySlot);
    for (const [i, capacity] of capacities.entries()) {
      const call = { positions, capacity, filled: pairs[i]!, span };
      const trimmed = await runProbe(session, manifest, head, call);
      for (const [name, tensor] of Object.entries(trimmed)) {
        // Every output is [B, …] with a row's values contiguous: the pair is rows 2i, 2i + 1.
        const size = tensor.data.length;
        const pair = (full[name]!.data as Float32Array).subarray(i * size, (i + 1) * size);
        if (!bitwiseEqual(tensor.data as Float32Array, pair)) return false;
      }
    }
  }
  return true;
}

/** One step call over `filled.length` rows whose pasts are `capacity` slots of `head`. */
async function runProbe(
  session: ort.InferenceSession,
  manifest: ModelManifest,
  head: Float32Array,
  { positions, capacity, filled, span }: ProbeCall,
): Promise<ort.InferenceSession.OnnxValueMapType> {
  const { numLayers, numHeads, headDim, numClasses, vocabSize } = manifest.gpt;
  const rows = filled.length;
  const width = capacity + span;
  const mask = new Uint8Array(rows * width);
  const ids = new BigInt64Array(rows * span);
  const positionIds = new BigInt64Array(rows * span);
  filled.forEach((n, b) => {
    mask.fill(1, b * width, b * width + n);
    mask.fill(1, b * width + capacity, (b + 1) * width);
    for (let t = 0; t < span; t++) {
      // Ids below the class count are valid at every position (class, slot or token), and
      // follow from the row alone, so a row is the same in the full call and in its pair.
      ids[b * span + t] = BigInt((n + t) % Math.min(numClasses, vocabSize));
      positionIds[b * span + t] = BigInt(Math.min(n + t, positions - 1));
    }
  });
  const past = new Float32Array(rows * numHeads * capacity * headDim);
  for (let i = 0; i < rows * numHeads; i++) {
    past.set(head.subarray(0, capacity * headDim), i * capacity * headDim);
  }
  const dims = [rows, numHeads, capacity, headDim];
  const feeds: Record<string, ort.Tensor> = {
    input_ids: new ort.Tensor('int64', ids, [rows, span]),
    position_ids: new ort.Tensor('int64', positionIds, [rows, span]),
    attention_mask: new ort.Tensor('bool', mask, [rows, width]),
  };
  for (let l = 0; l < numLayers; l++) {
    feeds[`past_key_${l}`] = new ort.Tensor('float32', past, dims);
    feeds[`past_value_${l}`] = new ort.Tensor('float32', past, dims);
  }
  return session.run(feeds);
}

/** A reproducible value in [−1, 1) from a multiplicative hash of the index. */
function noise(i: number): number {
  return (Math.imul(i + 1, 2654435761) >>> 0) / 2 ** 31 - 1;
}
