/**
 * The start-up checks of docs/model-directory.md ("Row invariance", "Decoding several images in
 * one call"): does one row fed alone give bitwise the same logits as the same row beside another,
 * and one image decoded alone the same pixels as beside another? Quantized MatMulNBits kernels pick
 * another summation order for a one-row call on some CPUs (int4, block 32, level 4 on AVX2), so
 * the answer depends on this machine's kernels and is measured here, not read from a table.
 */
import * as ort from 'onnxruntime-node';
import type { ModelManifest } from '../model/model-manifest.js';
import { decodeImages } from '../pipeline/decode-images.js';
import { tokenLayout } from '../pipeline/token-layout.js';

/** Class ids of the probe rows: two different classes, so the pair is not two copies of one row. */
const PROBE_CLASSES = [0, 1] as const;

/**
 * Runs the GPT step graph on position 0 (an empty past) for each probe row alone and for both
 * rows in one call, and compares each row's logits and new keys/values bit for bit.
 * @returns true when every row's outputs alone equal its outputs in the pair.
 */
export async function isLoneRowInvariant(
  session: ort.InferenceSession,
  manifest: ModelManifest,
): Promise<boolean> {
  const classes = PROBE_CLASSES.map((id) => Math.min(id, manifest.gpt.numClasses - 1));
  const pair = await runRows(session, manifest, classes);
  for (const [b, classId] of classes.entries()) {
    const alone = await runRows(session, manifest, [classId]);
    for (const [name, tensor] of Object.entries(alone)) {
      const rowSize = tensor.data.length;
      const inPair = (pair[name]!.data as Float32Array).subarray(b * rowSize, (b + 1) * rowSize);
      if (!bitwiseEqual(tensor.data as Float32Array, inPair)) return false;
    }
  }
  return true;
}

/** One prefill call of T = 1 per row (class ids at p = 0, an empty past). */
async function runRows(
  session: ort.InferenceSession,
  manifest: ModelManifest,
  classIds: readonly number[],
): Promise<ort.InferenceSession.OnnxValueMapType> {
  const rows = classIds.length;
  const { numLayers, numHeads, headDim } = manifest.gpt;
  const feeds: Record<string, ort.Tensor> = {
    input_ids: new ort.Tensor('int64', BigInt64Array.from(classIds, BigInt), [rows, 1]),
    position_ids: new ort.Tensor('int64', new BigInt64Array(rows), [rows, 1]),
    attention_mask: new ort.Tensor('bool', new Uint8Array(rows).fill(1), [rows, 1]),
  };
  for (let l = 0; l < numLayers; l++) {
    for (const kind of ['key', 'value']) {
      feeds[`past_${kind}_${l}`] = new ort.Tensor('float32', new Float32Array(0), [
        rows,
        numHeads,
        0,
        headDim,
      ]);
    }
  }
  return session.run(feeds);
}

/** Seeds of the decode probe's two images (any valid ids do). */
const DECODE_PROBE_SEEDS = [11, 29] as const;

/**
 * Does one decode call for two images give the pixels of two one-image calls? CPU convolutions
 * may pick another algorithm or thread split by batch size, and a PNG must not depend on which
 * images of its job were decoded with it, so this is measured at open, like the GPT's lone-row
 * check. It costs three decodes of one image's size (two single, one of two).
 * @returns true when both images decoded together equal their one-image decodes, byte for byte.
 */
export async function isDecodeBatchInvariant(
  session: ort.InferenceSession,
  manifest: ModelManifest,
): Promise<boolean> {
  const layout = tokenLayout(manifest);
  const { codebookSize } = manifest.tokenizer;
  const codes = DECODE_PROBE_SEEDS.map((seed) => ({
    holistic: probeIds(layout.numHolistic, seed, codebookSize),
    patch: probeIds(layout.numPatch, seed + 1, codebookSize),
  }));
  const together = await decodeImages(session, layout, codes);
  for (const [i, image] of codes.entries()) {
    const [alone] = await decodeImages(session, layout, [image]);
    if (!Buffer.from(alone!.data).equals(together[i]!.data)) return false;
  }
  return true;
}

/** `count` ids in [0, size) from a multiplicative hash of the index: spread out, reproducible. */
function probeIds(count: number, seed: number, size: number): number[] {
  return Array.from({ length: count }, (_, i) => (Math.imul(i + seed, 2654435761) >>> 0) % size);
}

/** Bit-for-bit: NaN payloads and −0 count, as they would change a sampled token's bytes. */
export function bitwiseEqual(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}
